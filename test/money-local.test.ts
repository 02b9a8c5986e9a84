/**
 * Issue 13, findings 2, 6 and the webhook part of 8, on the `local` provider
 * (the embedded default) against real PostgreSQL and Redis: forged or
 * malformed webhooks, future timestamps, the production refusal of the public
 * webhook secret, and refunds of a stay that has already begun. Each asserts
 * what the database holds afterwards.
 */
import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { createPaymentProvider } from '../server/background.js';
import { loadConfig } from '../server/config.js';
import { LOCAL_WEBHOOK_SECRET } from '../server/payments/local.js';
import { createBooking, createProperty, fromToday, payStay } from './support/factories.js';
import { createPaymentAs } from './support/payments.js';
import { inconsistencies } from './support/consistency.js';
import { eventually } from './support/server.js';
import { useTestApp } from './support/app.js';

const { server } = useTestApp();

const now = () => Math.floor(Date.now() / 1000);

async function deliver(payload: string, options: { timestamp?: number; secret?: string } = {}) {
  const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: options.secret ?? LOCAL_WEBHOOK_SECRET, timestamp: options.timestamp ?? now() });
  const response = await fetch(`${server.url}/payments/webhook`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Stripe-Signature': signature },
    body: payload,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function event(type: string, object: unknown, id = `evt_${randomUUID().replaceAll('-', '')}`): string {
  return JSON.stringify({ id, object: 'event', type, created: now(), data: { object } });
}

const db = () => server.deps.db;
const bookingRow = (id: string) => db().selectFrom('bookings').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const paymentsOf = (bookingId: string) => db().selectFrom('payments').selectAll().where('booking_id', '=', bookingId).execute();
const refundsOf = (bookingId: string) => db().selectFrom('refunds').selectAll().where('booking_id', '=', bookingId).execute();
const eventRow = (id: string) => db().selectFrom('payment_events').selectAll().where('id', '=', id).execute();

describe('forged webhooks on the local provider (finding 2)', () => {
  it('a signed success of 0.01 for a booking of 1,584.00 confirms nothing: recorded, flagged amount_mismatch and refunded', async () => {
    const booking = await createBooking(server.client);
    const paymentId = randomUUID();
    const forged = event('payment_intent.succeeded', {
      id: 'pi_forged0001',
      object: 'payment_intent',
      amount: 1,
      currency: 'eur',
      status: 'succeeded',
      payment_method: 'pm_card_visa',
      metadata: { payment_id: paymentId, booking_id: booking.id, payer_id: booking.guest.id },
    });
    expect(await deliver(forged)).toEqual({ status: 200, body: { received: true, duplicate: false } });

    expect(await bookingRow(booking.id)).toMatchObject({ status: 'pending', confirmed_at: null });
    expect(await paymentsOf(booking.id)).toMatchObject([{ id: paymentId, amount: 1, settlement_issue: 'amount_mismatch' }]);
    expect(await refundsOf(booking.id)).toMatchObject([{ payment_id: paymentId, reason: 'amount_mismatch', amount: 1 }]);
    // The booking is not paid, and not payable twice: the guest books again.
    const again = await createPaymentAs(server.client, booking.guest, booking.id);
    expect(again.response.status).toBe(409);
    expect(again.error).toMatchObject({ code: 'payment_in_progress', detail: expect.stringContaining('amount_mismatch') });
    // Cancelling it sends nothing more back: the mismatch refund is the whole answer.
    const cancelled = await api.cancelBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id } });
    expect(cancelled.data).toMatchObject({ status: 'cancelled', refund: null });
    await eventually(async () => expect(await refundsOf(booking.id)).toMatchObject([{ reason: 'amount_mismatch', amount: 1, status: 'succeeded' }]));
    expect(await inconsistencies(db(), server.deps.config.serviceFeeBasisPoints)).toEqual([]);
  });

  it('a signed success for a payment we saw declined confirms nothing: the payment stays failed, flagged succeeded_after_failure', async () => {
    const booking = await createBooking(server.client);
    const declined = await createPaymentAs(server.client, booking.guest, booking.id, 'pm_card_chargeDeclined');
    expect(declined.response.status).toBe(402);
    const [payment] = await paymentsOf(booking.id);
    expect(payment).toMatchObject({ status: 'failed' });

    const forged = event('payment_intent.succeeded', {
      id: payment!.provider_reference,
      object: 'payment_intent',
      amount: booking.price.total,
      currency: booking.price.currency.toLowerCase(),
      status: 'succeeded',
      metadata: { payment_id: payment!.id, booking_id: booking.id, payer_id: booking.guest.id },
    });
    expect(await deliver(forged)).toMatchObject({ status: 200 });

    expect(await bookingRow(booking.id)).toMatchObject({ status: 'pending', confirmed_at: null });
    expect(await paymentsOf(booking.id)).toMatchObject([{ id: payment!.id, status: 'failed', succeeded_at: null, settlement_issue: 'succeeded_after_failure' }]);
    expect(await refundsOf(booking.id)).toEqual([]);
    // The booking can still be paid properly.
    expect(await payStay(server, booking)).toMatchObject({ status: 'succeeded' });
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'confirmed' });
  });

  it.each([
    ['an hour in the future', 3600, 400],
    ['six minutes in the future', 360, 400],
    ['an hour ago', -3600, 400],
    ['a minute in the future (clock skew within the tolerance)', 60, 200],
  ])('a signature timestamped %s answers %i', async (_what, offset, status) => {
    const payload = event('customer.created', { id: 'cus_0001', object: 'customer' });
    const { status: answered, body } = await deliver(payload, { timestamp: now() + offset });
    expect(answered).toBe(status);
    if (status === 400) {
      expect(body).toMatchObject({ code: 'validation_failed', errors: [{ path: 'header.stripe-signature' }] });
      expect(await eventRow((JSON.parse(payload) as { id: string }).id)).toEqual([]);
    }
  });
});

describe('the local provider outside development and test (finding 2)', () => {
  const production = { NODE_ENV: 'production', ALLOW_LOCAL_PAYMENTS_IN_PRODUCTION: 'true' };

  it('refuses to start without a webhook secret of its own, or with the public one', () => {
    expect(() => loadConfig(production)).toThrow(/STRIPE_WEBHOOK_SECRET must be a secret of this deployment/);
    expect(() => loadConfig({ ...production, STRIPE_WEBHOOK_SECRET: LOCAL_WEBHOOK_SECRET })).toThrow(/STRIPE_WEBHOOK_SECRET/);
    expect(loadConfig({ ...production, STRIPE_WEBHOOK_SECRET: 'whsec_demo_own' }).stripeWebhookSecret).toBe('whsec_demo_own');
    // Development and test keep the convenient public default.
    expect(() => loadConfig({ NODE_ENV: 'development' })).not.toThrow();
  });

  it('with its own secret, refuses an event signed with the public one', () => {
    const provider = createPaymentProvider(loadConfig({ ...production, STRIPE_WEBHOOK_SECRET: 'whsec_demo_own' }));
    const payload = event('customer.created', { id: 'cus_0001' });
    const forged = Stripe.webhooks.generateTestHeaderString({ payload, secret: LOCAL_WEBHOOK_SECRET });
    expect(() => provider.parseEvent(payload, forged)).toThrow(expect.objectContaining({ code: 'validation_failed' }));
    const genuine = Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_demo_own' });
    expect(provider.parseEvent(payload, genuine)).toMatchObject({ about: 'other' });
  });
});

describe('signed webhooks with a malformed payload (finding 8)', () => {
  const intent = (overrides: Record<string, unknown>) => ({
    id: 'pi_shape0001',
    object: 'payment_intent',
    amount: 1000,
    currency: 'eur',
    status: 'succeeded',
    metadata: {},
    ...overrides,
  });
  it.each([
    ['data: {}', JSON.stringify({ id: 'evt_shape0001', object: 'event', type: 'payment_intent.succeeded', created: 1, data: {} }), 'body.data.object'],
    ['no data at all', JSON.stringify({ id: 'evt_shape0002', object: 'event', type: 'payment_intent.succeeded', created: 1 }), 'body.data'],
    ['data.object not an object', event('payment_intent.succeeded', 'pi_123', 'evt_shape0003'), 'body.data.object'],
    ['a NUL in the object id', event('payment_intent.succeeded', intent({ id: 'pi_\u0000evil' }), 'evt_shape0004'), 'body.data.object.id'],
    ['a NUL in the event id', event('payment_intent.succeeded', intent({}), 'evt_\u0000evil'), 'body.id'],
    ['a NUL in a refund id', event('refund.updated', { id: 're_\u0000', amount: 1, currency: 'eur', status: 'succeeded' }, 'evt_shape0005'), 'body.data.object.id'],
    ['an amount that is a string', event('payment_intent.succeeded', intent({ amount: '1000' }), 'evt_shape0006'), 'body.data.object.amount'],
    ['a fractional amount', event('payment_intent.succeeded', intent({ amount: 10.5 }), 'evt_shape0007'), 'body.data.object.amount'],
    ['a success without an amount', event('payment_intent.succeeded', intent({ amount: undefined }), 'evt_shape0008'), 'body.data.object.amount'],
    ['a NUL in a decline message', event('payment_intent.payment_failed', intent({ status: 'requires_payment_method', last_payment_error: { message: 'no\u0000' } }), 'evt_shape0009'), 'body.data.object.last_payment_error.message'],
    ['metadata that is a string', event('payment_intent.succeeded', intent({ metadata: 'x' }), 'evt_shape0010'), 'body.data.object.metadata'],
    ['an event type with a NUL', JSON.stringify({ id: 'evt_shape0011', type: 'payment_intent.\u0000', created: 1, data: { object: {} } }), 'body.type'],
  ])('%s is 400 validation_failed naming %s, and records nothing', async (_what, payload, path) => {
    const { status, body } = await deliver(payload);
    expect(status).toBe(400);
    expect(body).toMatchObject({ code: 'validation_failed' });
    expect((body.errors as { path: string }[]).map((error) => error.path)).toContain(path);
    expect(await db().selectFrom('payment_events').select('id').where('type', 'like', 'payment_intent.%').where('id', 'like', 'evt_shape%').execute()).toEqual([]);
  });
});

describe('cancelling a stay that has begun (finding 6)', () => {
  /** A paid 3-night stay on a `policy` listing checking in today, then moved back `daysIn` days past the API, as time would. */
  async function begunStay(policy: 'flexible' | 'moderate' | 'strict', daysIn: number) {
    const property = await createProperty(server.client, undefined, { cancellation_policy: policy, price_per_night: 12_000, cleaning_fee: 3_000 });
    const booking = await createBooking(server.client, { property, stay: { check_in: fromToday(0), check_out: fromToday(3), guests: 1 } });
    const payment = await payStay(server, booking);
    await db().updateTable('bookings').set({ check_in: fromToday(-daysIn), check_out: fromToday(3 - daysIn) }).where('id', '=', booking.id).execute();
    return { property, booking, payment };
  }

  it.each([
    // policy, days since check-in, refund: half the rate of the nights after tonight under moderate, nothing otherwise
    ['moderate', 2, 0], // the last night: main refunded half of the whole stay (16 500 of 39 600)
    ['moderate', 1, 6_000], // one night to come after tonight: half of 12 000
    ['moderate', 0, 12_000], // check-in day: two nights to come
    ['flexible', 0, 0],
    ['strict', 1, 0],
  ] as const)('%s, %i days into the stay, returns %i to the guest', async (policy, daysIn, refund) => {
    const { booking, payment } = await begunStay(policy, daysIn);
    const cancelled = await api.cancelBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id } });
    expect(cancelled.response.status).toBe(200);
    expect(cancelled.data).toMatchObject({ status: 'cancelled', refund: { amount: refund } });
    if (refund === 0) {
      expect(await refundsOf(booking.id)).toEqual([]);
      expect(await paymentsOf(booking.id)).toMatchObject([{ status: 'succeeded', refunded_amount: 0 }]);
    } else {
      await eventually(async () => expect(await paymentsOf(booking.id)).toMatchObject([{ id: payment.id, status: 'partially_refunded', refunded_amount: refund }]));
      expect(await refundsOf(booking.id)).toMatchObject([{ reason: 'cancellation', amount: refund, status: 'succeeded' }]);
    }
  });

  it('still refunds the whole total when the host cancels during the stay', async () => {
    const { property, booking, payment } = await begunStay('strict', 2);
    const cancelled = await api.cancelBooking({ client: server.client, auth: property.host.token, path: { booking_id: booking.id } });
    expect(cancelled.data).toMatchObject({ status: 'cancelled', refund: { amount: payment.amount } });
    await eventually(async () => expect(await paymentsOf(booking.id)).toMatchObject([{ status: 'refunded', refunded_amount: payment.amount }]));
  });
});
