/**
 * createPayment, listPayments and getPayment with the local provider (Stripe's
 * test payment methods, offline), against real PostgreSQL and Redis (the jobs run
 * on bee-queue in the test server). The stripe provider, through Stripe's SDK, is
 * in payments-stripe.test.ts; the webhook in webhooks.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { createAdmin, createBooking, createProperty, createUser, fromToday, payStay, type Account } from './support/factories.js';
import { createPaymentAs, expectOnePaymentReplayed } from './support/payments.js';
import { expectProblem } from './support/problems.js';
import { eventually } from './support/server.js';
import { inconsistencies } from './support/consistency.js';
import { useTestApp } from './support/app.js';

const { server } = useTestApp();
let admin: Account;

beforeAll(async () => {
  admin = await createAdmin(server);
});

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

const pay = (guest: Account, bookingId: string, paymentMethod?: string, key?: string) => createPaymentAs(server.client, guest, bookingId, paymentMethod, key);

const paymentsOf = (bookingId: string) =>
  server.deps.db.selectFrom('payments').selectAll().where('booking_id', '=', bookingId).orderBy('created_at').execute();
const bookingRow = (id: string) => server.deps.db.selectFrom('bookings').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const notificationsOf = (bookingId: string) =>
  server.deps.db.selectFrom('notifications').select(['kind', 'status']).where('booking_id', '=', bookingId).orderBy('kind').execute();

describe('createPayment', () => {
  it('charges the booking total with pm_card_visa, confirms the booking and mails a receipt', async () => {
    const booking = await createBooking(server.client);
    const { data, response } = await pay(booking.guest, booking.id);
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe(`/payments/${data!.id}`);
    expect(data).toMatchObject({
      booking_id: booking.id,
      payer_id: booking.guest.id,
      amount: booking.price.total,
      currency: booking.price.currency,
      status: 'succeeded',
      payment_method: 'pm_card_visa',
      provider: 'local',
      failure_code: null,
      refunded_amount: 0,
      refunds: [],
      failed_at: null,
    });
    expect(data!.provider_reference).toMatch(/^pi_local_/);
    expect(data!.succeeded_at).not.toBeNull();

    const seen = await api.getBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id } });
    expect(seen.data).toMatchObject({ status: 'confirmed', expires_at: null });
    expect(await paymentsOf(booking.id)).toMatchObject([{ id: data!.id, status: 'succeeded', amount: booking.price.total }]);
    await eventually(async () =>
      expect(await notificationsOf(booking.id)).toEqual([
        { kind: 'booking_confirmed', status: 'sent' },
        { kind: 'payment_receipt', status: 'sent' },
      ]),
    );
  });

  it('refuses an amount, currency or status sent by the client with 400, charging nothing', async () => {
    const booking = await createBooking(server.client);
    for (const [field, value] of [['amount', 1], ['currency', 'USD'], ['status', 'succeeded']] as const) {
      const result = await api.createPayment({
        client: server.client,
        auth: booking.guest.token,
        headers: { 'Idempotency-Key': randomUUID() },
        body: { booking_id: booking.id, payment_method: 'pm_card_visa', [field]: value } as never,
      });
      expectProblem(result, 400, 'validation_failed', `body.${field}`);
    }
    expect(await paymentsOf(booking.id)).toEqual([]);
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'pending' });
  });

  it('requires an Idempotency-Key (400)', async () => {
    const booking = await createBooking(server.client);
    const result = await api.createPayment({ client: server.client, auth: booking.guest.token, body: { booking_id: booking.id, payment_method: 'pm_card_visa' } } as never);
    expectProblem(result, 400, 'validation_failed', 'header.idempotency-key');
    expect(await paymentsOf(booking.id)).toEqual([]);
  });

  it('keeps a declined card as a failed payment, answers 402 card_declined and leaves the booking pending', async () => {
    const booking = await createBooking(server.client);
    const declined = expectProblem(await pay(booking.guest, booking.id, 'pm_card_chargeDeclinedInsufficientFunds'), 402, 'card_declined');
    const [failed] = await paymentsOf(booking.id);
    expect(failed).toMatchObject({ status: 'failed', failure_code: 'insufficient_funds', amount: booking.price.total });
    expect(failed!.failed_at).not.toBeNull();
    expect(declined.detail).toContain(failed!.id);
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'pending' });

    // Another card, with a new key, then pays it.
    expect((await pay(booking.guest, booking.id, 'pm_card_mastercard')).data).toMatchObject({ status: 'succeeded' });
    expect((await paymentsOf(booking.id)).map((p) => p.status)).toEqual(['failed', 'succeeded']);
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'confirmed' });
  });

  it('refuses a payment method the provider does not know with 422, recording nothing', async () => {
    const booking = await createBooking(server.client);
    expectProblem(await pay(booking.guest, booking.id, 'pm_card_made_up'), 422, 'payment_method_invalid');
    expect(await paymentsOf(booking.id)).toEqual([]);
  });

  it('replays the first answer to a retry with the same key, charging once; another body with it is 409', async () => {
    const booking = await createBooking(server.client);
    const key = randomUUID();
    const first = await pay(booking.guest, booking.id, 'pm_card_visa', key);
    const again = await pay(booking.guest, booking.id, 'pm_card_visa', key);
    expect(again.response.status).toBe(201);
    expect(again.response.headers.get('idempotent-replayed')).toBe('true');
    expect(again.data).toEqual(first.data);
    expectProblem(await pay(booking.guest, booking.id, 'pm_card_amex', key), 409, 'idempotency_key_reused');
    expect(await paymentsOf(booking.id)).toHaveLength(1);
  });

  it('replays a decline as the same 402 for the same key, without a second attempt', async () => {
    const booking = await createBooking(server.client);
    const key = randomUUID();
    const first = expectProblem(await pay(booking.guest, booking.id, 'pm_card_chargeDeclined', key), 402, 'card_declined');
    const again = expectProblem(await pay(booking.guest, booking.id, 'pm_card_chargeDeclined', key), 402, 'card_declined');
    expect(again.detail).toBe(first.detail);
    expect(await paymentsOf(booking.id)).toHaveLength(1);
  });

  it('charges once when the same request races itself with one key', async () => {
    const booking = await createBooking(server.client);
    const key = randomUUID();
    const results = await Promise.all(Array.from({ length: 8 }, () => pay(booking.guest, booking.id, 'pm_card_visa', key)));
    expectOnePaymentReplayed(results);
    expect(await paymentsOf(booking.id)).toMatchObject([{ status: 'succeeded' }]);
  });

  it('pays a booking at most once when payments with different keys race', async () => {
    const booking = await createBooking(server.client);
    const results = await Promise.all(Array.from({ length: 6 }, () => pay(booking.guest, booking.id)));
    const statuses = results.map((r) => r.response.status).sort();
    expect(statuses).toEqual([201, 422, 422, 422, 422, 422]);
    for (const refused of results.filter((r) => r.response.status === 422)) expect(refused.error).toMatchObject({ code: 'invalid_state' });
    expect(await paymentsOf(booking.id)).toMatchObject([{ status: 'succeeded' }]);
  });

  it('refuses a booking that is not pending with 422 invalid_state: paid, cancelled or expired', async () => {
    const paid = await createBooking(server.client);
    await payStay(server, paid);
    const cancelled = await createBooking(server.client);
    await api.cancelBooking({ client: server.client, auth: cancelled.guest.token, path: { booking_id: cancelled.id } });
    const lapsed = await createBooking(server.client);
    await server.deps.db.updateTable('bookings').set({ expires_at: sql`now() - interval '1 second'` }).where('id', '=', lapsed.id).execute();

    for (const [booking, status] of [[paid, 'confirmed'], [cancelled, 'cancelled'], [lapsed, 'expired']] as const) {
      const problem = expectProblem(await pay(booking.guest, booking.id), 422, 'invalid_state');
      expect(problem.detail).toContain(status);
    }
    expect(await paymentsOf(paid.id)).toHaveLength(1);
    expect(await paymentsOf(cancelled.id)).toEqual([]);
    expect(await paymentsOf(lapsed.id)).toEqual([]);
  });

  it("lets only the booking's guest pay: an admin 403, another user and an unknown booking 404, no token 401", async () => {
    const booking = await createBooking(server.client);
    const stranger = await createUser(server.client);
    expectProblem(await pay(stranger, booking.id), 404, 'not_found');
    expectProblem(await pay(stranger, UNKNOWN_ID), 404, 'not_found');
    expectProblem(await pay(admin, booking.id), 403, 'forbidden');
    const anonymous = await api.createPayment({
      client: server.client,
      headers: { 'Idempotency-Key': randomUUID() },
      body: { booking_id: booking.id, payment_method: 'pm_card_visa' },
    });
    expectProblem(anonymous, 401, 'unauthenticated');
    expect(await paymentsOf(booking.id)).toEqual([]);
  });

  it('lets the host of the listing see the booking but not pay it (403)', async () => {
    const property = await createProperty(server.client);
    const booking = await createBooking(server.client, { property });
    expectProblem(await pay(property.host, booking.id), 403, 'forbidden');
    expect(await paymentsOf(booking.id)).toEqual([]);
  });
});

describe('cancelling a paid booking', () => {
  it("refunds the policy's amount through the provider and records it on the refund, the payment and the booking", async () => {
    // Flexible, 30 days ahead: the total less the service fee comes back.
    const property = await createProperty(server.client, undefined, { cancellation_policy: 'flexible' });
    const booking = await createBooking(server.client, { property });
    const payment = await payStay(server, booking);
    const refundable = booking.price.total - booking.price.service_fee;

    const cancelled = await api.cancelBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id } });
    expect(cancelled.data).toMatchObject({ status: 'cancelled', refund: { amount: refundable, currency: 'EUR', status: 'pending' } });

    await eventually(async () => {
      const seen = await api.getBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id } });
      expect(seen.data?.refund).toEqual({ amount: refundable, currency: 'EUR', status: 'succeeded' });
    });
    const { data } = await api.getPayment({ client: server.client, auth: booking.guest.token, path: { payment_id: payment.id } });
    expect(data).toMatchObject({ status: 'partially_refunded', refunded_amount: refundable });
    expect(data!.refunds).toMatchObject([{ amount: refundable, reason: 'cancellation', status: 'succeeded' }]);
    expect(data!.refunds[0]!.provider_reference).toMatch(/^re_local_/);
    expect(data!.refunded_at).not.toBeNull();
    await eventually(async () =>
      expect(await notificationsOf(booking.id)).toEqual([
        { kind: 'booking_cancelled', status: 'sent' },
        { kind: 'booking_confirmed', status: 'sent' },
        { kind: 'payment_receipt', status: 'sent' },
        { kind: 'refund_issued', status: 'sent' },
      ]),
    );
  });

  it('refunds everything when the host cancels, and marks the payment refunded', async () => {
    const property = await createProperty(server.client, undefined, { cancellation_policy: 'strict' });
    const booking = await createBooking(server.client, { property });
    const payment = await payStay(server, booking);
    await api.cancelBooking({ client: server.client, auth: property.host.token, path: { booking_id: booking.id } });
    await eventually(async () => {
      const { data } = await api.getPayment({ client: server.client, auth: booking.guest.token, path: { payment_id: payment.id } });
      expect(data).toMatchObject({ status: 'refunded', refunded_amount: booking.price.total });
    });
  });

  it('records a refund of 0 as done when the policy returns nothing, without calling the provider', async () => {
    const property = await createProperty(server.client, undefined, { cancellation_policy: 'strict' });
    const booking = await createBooking(server.client, { property, stay: { check_in: fromToday(3), check_out: fromToday(5) } });
    const payment = await payStay(server, booking);
    const cancelled = await api.cancelBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id } });
    expect(cancelled.data?.refund).toEqual({ amount: 0, currency: 'EUR', status: 'succeeded' });
    expect(await server.deps.db.selectFrom('refunds').select('id').where('payment_id', '=', payment.id).execute()).toEqual([]);
  });

  it('retries a refund the provider refuses, and never forgets it (pm_card_refundFail)', async () => {
    const property = await createProperty(server.client, undefined, { cancellation_policy: 'flexible' });
    const booking = await createBooking(server.client, { property });
    await payStay(server, booking, 'pm_card_refundFail');
    await api.cancelBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id } });

    const refundRow = () => server.deps.db.selectFrom('refunds').selectAll().where('booking_id', '=', booking.id).executeTakeFirstOrThrow();
    await eventually(async () => expect(await refundRow()).toMatchObject({ status: 'failed', attempts: 1, failure_code: 'declined' }));
    const failed = await refundRow();
    // The next attempt is scheduled, with a new idempotency key (the attempt number moved on).
    expect(failed.next_attempt_at.getTime()).toBeGreaterThan(Date.now());
    expect(await bookingRow(booking.id)).toMatchObject({ refund_status: 'failed' });

    // When it is due, the sweep hands it to the refund job again.
    await server.deps.db.updateTable('refunds').set({ next_attempt_at: sql`now()` }).where('id', '=', failed.id).execute();
    const { enqueueOwedWork } = await import('../server/jobs/sweep.js');
    const started = await enqueueOwedWork(server.deps.db, server.deps.jobs);
    expect(started).toContainEqual({ name: 'execute-refund', id: failed.id });
    await eventually(async () => expect(await refundRow()).toMatchObject({ status: 'failed', attempts: 2 }));
  });
});

describe('listPayments', () => {
  it("lists the caller's own payments newest first, by booking, one page at a time; admins see all", async () => {
    const guest = await createUser(server.client);
    const other = await createBooking(server.client);
    await payStay(server, other);
    const mine: string[] = [];
    for (let i = 0; i < 3; i++) {
      const booking = await createBooking(server.client, { guest, stay: { check_in: fromToday(40 + i * 5), check_out: fromToday(42 + i * 5) } });
      mine.push((await payStay(server, booking)).id);
    }
    const first = await api.listPayments({ client: server.client, auth: guest.token, query: { limit: 2 } });
    expect(first.data!.data.map((p) => p.id)).toEqual([mine[2], mine[1]]);
    const second = await api.listPayments({ client: server.client, auth: guest.token, query: { limit: 2, cursor: first.data!.next_cursor! } });
    expect(second.data).toEqual({ data: [expect.objectContaining({ id: mine[0] })], next_cursor: null });

    const byBooking = await api.listPayments({ client: server.client, auth: other.guest.token, query: { booking_id: other.id } });
    expect(byBooking.data!.data).toHaveLength(1);
    const asStranger = await api.listPayments({ client: server.client, auth: guest.token, query: { booking_id: other.id } });
    expect(asStranger.data!.data).toEqual([]);
    const asAdmin = await api.listPayments({ client: server.client, auth: admin.token, query: { limit: 100 } });
    expect(asAdmin.data!.data.map((p) => p.id)).toEqual(expect.arrayContaining([...mine]));
    expectProblem(await api.listPayments({ client: server.client }), 401, 'unauthenticated');
  });
});

describe('getPayment', () => {
  it('shows a payment to its payer and admins with an ETag, and to nobody else (404)', async () => {
    const booking = await createBooking(server.client);
    const payment = await payStay(server, booking);
    const seen = await api.getPayment({ client: server.client, auth: booking.guest.token, path: { payment_id: payment.id } });
    expect(seen.data).toEqual(payment);
    const etag = seen.response.headers.get('etag')!;
    const again = await api.getPayment({ client: server.client, auth: booking.guest.token, path: { payment_id: payment.id }, headers: { 'If-None-Match': etag } });
    expect(again.response.status).toBe(304);
    expect((await api.getPayment({ client: server.client, auth: admin.token, path: { payment_id: payment.id } })).data?.id).toBe(payment.id);
    const stranger = await createUser(server.client);
    expectProblem(await api.getPayment({ client: server.client, auth: stranger.token, path: { payment_id: payment.id } }), 404, 'not_found');
    expectProblem(await api.getPayment({ client: server.client, auth: stranger.token, path: { payment_id: UNKNOWN_ID } }), 404, 'not_found');
  });
});

describe('the database afterwards', () => {
  it('adds up: every money column equals its recomputation, every booking\'s status agrees with its payments', async () => {
    expect(await inconsistencies(server.deps.db, server.deps.config.serviceFeeBasisPoints)).toEqual([]);
  });
});
