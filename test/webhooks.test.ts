/**
 * handlePaymentWebhook: events signed with Stripe's scheme by Stripe's own SDK
 * test helper, sent as raw bytes, against real PostgreSQL. What a bad signature,
 * a redelivery, racing deliveries and events out of order do, checked in the
 * database.
 */
import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { LOCAL_WEBHOOK_SECRET } from '../server/payments/local.js';
import { createBooking, payStay } from './support/factories.js';
import { eventually } from './support/server.js';
import { inconsistencies } from './support/consistency.js';
import { useTestApp } from './support/app.js';

const { server } = useTestApp();

interface Delivery {
  status: number;
  body: Record<string, unknown>;
}

/** POSTs exactly these bytes, as Stripe does; the signature is over them. */
async function deliver(payload: string, signature: string | undefined): Promise<Delivery> {
  const response = await fetch(`${server.url}/payments/webhook`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(signature !== undefined ? { 'Stripe-Signature': signature } : {}) },
    body: payload,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function sign(payload: string, options: { timestamp?: number; secret?: string } = {}): string {
  return Stripe.webhooks.generateTestHeaderString({ payload, secret: options.secret ?? LOCAL_WEBHOOK_SECRET, ...(options.timestamp ? { timestamp: options.timestamp } : {}) });
}

function event(type: string, object: Record<string, unknown>): string {
  return JSON.stringify({ id: `evt_${randomUUID().replaceAll('-', '')}`, object: 'event', type, created: Math.floor(Date.now() / 1000), data: { object } });
}

/** A PaymentIntent as Stripe sends it for a pending booking: our ids in its metadata. */
function intentFor(booking: { id: string; guest: { id: string }; price: { total: number; currency: string } }, paymentId = randomUUID()) {
  return {
    id: `pi_${randomUUID().replaceAll('-', '')}`,
    object: 'payment_intent',
    amount: booking.price.total,
    currency: booking.price.currency.toLowerCase(),
    status: 'succeeded',
    payment_method: 'pm_card_visa',
    metadata: { payment_id: paymentId, booking_id: booking.id, payer_id: booking.guest.id },
  };
}

const db = () => server.deps.db;
const eventRows = (id: string) => db().selectFrom('payment_events').selectAll().where('id', '=', id).execute();
const paymentsOf = (bookingId: string) => db().selectFrom('payments').selectAll().where('booking_id', '=', bookingId).execute();
const bookingStatus = async (id: string) => (await db().selectFrom('bookings').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;

describe('handlePaymentWebhook signatures', () => {
  it('refuses a tampered body, a stale timestamp, a wrong secret, and no or a garbled signature with 400, changing nothing', async () => {
    const booking = await createBooking(server.client);
    const payload = event('payment_intent.succeeded', intentFor(booking));
    const { id } = JSON.parse(payload) as { id: string };
    const tampered = payload.replace(`"amount":${booking.price.total}`, '"amount":1');
    const cases: [string, string, string | undefined][] = [
      ['tampered', tampered, sign(payload)],
      ['stale', payload, sign(payload, { timestamp: Math.floor(Date.now() / 1000) - 600 })],
      ['wrong secret', payload, sign(payload, { secret: 'whsec_someone_else' })],
      ['garbled', payload, 't=1,v1=nothex'],
      ['missing', payload, undefined],
    ];
    for (const [what, body, signature] of cases) {
      const { status, body: problem } = await deliver(body, signature);
      expect(status, what).toBe(400);
      expect(problem, what).toMatchObject({ code: 'validation_failed' });
    }
    expect(await eventRows(id)).toEqual([]);
    expect(await paymentsOf(booking.id)).toEqual([]);
    expect(await bookingStatus(booking.id)).toBe('pending');
  });
});

describe('handlePaymentWebhook events', () => {
  it('applies a payment_intent.succeeded once, however often it is delivered', async () => {
    const booking = await createBooking(server.client);
    const intent = intentFor(booking);
    const payload = event('payment_intent.succeeded', intent);
    const signature = sign(payload);

    expect(await deliver(payload, signature)).toEqual({ status: 200, body: { received: true, duplicate: false } });
    expect(await deliver(payload, signature)).toEqual({ status: 200, body: { received: true, duplicate: true } });

    // Recorded from the event (its createPayment never committed): the money is accounted for.
    expect(await paymentsOf(booking.id)).toMatchObject([
      { id: intent.metadata.payment_id, status: 'succeeded', amount: booking.price.total, provider_reference: intent.id },
    ]);
    expect(await bookingStatus(booking.id)).toBe('confirmed');
    expect(await eventRows(JSON.parse(payload).id)).toMatchObject([{ type: 'payment_intent.succeeded', payment_id: intent.metadata.payment_id }]);
    const notices = await db().selectFrom('notifications').select('kind').where('booking_id', '=', booking.id).orderBy('kind').execute();
    expect(notices.map((n) => n.kind)).toEqual(['booking_confirmed', 'payment_receipt']);
  });

  it('applies deliveries that race each other once', async () => {
    const booking = await createBooking(server.client);
    const payload = event('payment_intent.succeeded', intentFor(booking));
    const signature = sign(payload);
    const deliveries = await Promise.all(Array.from({ length: 12 }, () => deliver(payload, signature)));
    expect(deliveries.map((d) => d.status)).toEqual(Array(12).fill(200));
    expect(deliveries.filter((d) => d.body.duplicate === false)).toHaveLength(1);
    expect(await eventRows(JSON.parse(payload).id)).toHaveLength(1);
    expect(await paymentsOf(booking.id)).toHaveLength(1);
    const notices = await db().selectFrom('notifications').select('kind').where('booking_id', '=', booking.id).execute();
    expect(notices).toHaveLength(2);
  });

  it('never moves a payment backwards: a payment_failed arriving after the success changes nothing', async () => {
    const booking = await createBooking(server.client);
    const payment = await payStay(server, booking);
    const late = event('payment_intent.payment_failed', {
      id: payment.provider_reference,
      object: 'payment_intent',
      status: 'requires_payment_method',
      metadata: { payment_id: payment.id, booking_id: booking.id, payer_id: booking.guest.id },
      last_payment_error: { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' },
    });
    expect((await deliver(late, sign(late))).body).toEqual({ received: true, duplicate: false });
    expect(await paymentsOf(booking.id)).toMatchObject([{ id: payment.id, status: 'succeeded', failure_code: null }]);
    expect(await bookingStatus(booking.id)).toBe('confirmed');
  });

  it('refunds in full a success that arrives after the hold was written down as expired', async () => {
    const booking = await createBooking(server.client);
    await db()
      .updateTable('bookings')
      .set({ status: 'expired', expires_at: sql`now() - interval '1 second'` })
      .where('id', '=', booking.id)
      .execute();
    const intent = intentFor(booking);
    const payload = event('payment_intent.succeeded', intent);
    expect((await deliver(payload, sign(payload))).status).toBe(200);

    expect(await bookingStatus(booking.id)).toBe('expired');
    await eventually(async () => {
      const refunds = await db().selectFrom('refunds').selectAll().where('payment_id', '=', intent.metadata.payment_id).execute();
      expect(refunds).toMatchObject([{ reason: 'booking_unavailable', amount: booking.price.total, status: 'succeeded' }]);
      expect(await paymentsOf(booking.id)).toMatchObject([{ status: 'refunded', refunded_amount: booking.price.total }]);
    });
  });

  it('acknowledges event types it does not handle and objects that are not ours, changing nothing', async () => {
    const booking = await createBooking(server.client);
    const other = event('customer.created', { id: 'cus_123', object: 'customer' });
    expect((await deliver(other, sign(other))).body).toEqual({ received: true, duplicate: false });
    const foreign = event('payment_intent.succeeded', { id: 'pi_not_ours', object: 'payment_intent', amount: 100, currency: 'eur', status: 'succeeded', metadata: {} });
    expect((await deliver(foreign, sign(foreign))).body).toEqual({ received: true, duplicate: false });
    // Metadata naming a booking of someone else than the payer is not trusted either.
    const forged = event('payment_intent.succeeded', { ...intentFor(booking), metadata: { payment_id: randomUUID(), booking_id: booking.id, payer_id: randomUUID() } });
    expect((await deliver(forged, sign(forged))).status).toBe(200);
    expect(await db().selectFrom('payments').select('id').where('provider_reference', '=', 'pi_not_ours').execute()).toEqual([]);
    expect(await paymentsOf(booking.id)).toEqual([]);
    expect(await bookingStatus(booking.id)).toBe('pending');
  });

  it("follows the provider's word on a refund, once: a refund recorded as failed that the provider reports succeeded", async () => {
    const booking = await createBooking(server.client);
    const payment = await payStay(server, booking, 'pm_card_refundFail');
    // A guest cancelling 30 days ahead of a moderate listing gets the total less the service fee: a partial refund.
    await api.cancelBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id } });
    const refundRow = () => db().selectFrom('refunds').selectAll().where('booking_id', '=', booking.id).executeTakeFirstOrThrow();
    await eventually(async () => expect(await refundRow()).toMatchObject({ status: 'failed' }));
    const refund = await refundRow();

    const update = event('refund.updated', {
      id: refund.provider_reference,
      object: 'refund',
      status: 'succeeded',
      amount: refund.amount,
      payment_intent: payment.provider_reference,
      metadata: { refund_id: refund.id, payment_id: payment.id },
    });
    expect((await deliver(update, sign(update))).body).toEqual({ received: true, duplicate: false });
    expect((await deliver(update, sign(update))).body).toEqual({ received: true, duplicate: true });
    expect(await refundRow()).toMatchObject({ status: 'succeeded', failure_code: null });
    const paid = await db().selectFrom('payments').select(['status', 'refunded_amount']).where('id', '=', payment.id).executeTakeFirstOrThrow();
    expect(paid).toEqual({ status: 'partially_refunded', refunded_amount: booking.price.total - booking.price.service_fee });
    expect(await db().selectFrom('bookings').select('refund_status').where('id', '=', booking.id).executeTakeFirstOrThrow()).toEqual({ refund_status: 'succeeded' });
  });
});

describe('the database afterwards', () => {
  it('adds up: every money column equals its recomputation, every booking\'s status agrees with its payments', async () => {
    expect(await inconsistencies(server.deps.db, server.deps.config.serviceFeeBasisPoints)).toEqual([]);
  });
});
