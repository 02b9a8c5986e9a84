/**
 * The `stripe` payment provider through the real Stripe SDK, on the wire, against
 * a local server that answers like Stripe's API (support/fake-stripe.ts), with
 * real PostgreSQL and Redis (the jobs run on bee-queue in the test server). What
 * Stripe is sent, what it answers, and what the database holds afterwards: a
 * charge, a decline, an unknown method, no answer at all, a payment settled by a
 * signed event, and refunds that succeed, fail over and over, or finish later.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { createBooking, createProperty, fromToday, payStay, type Account } from './support/factories.js';
import { startFakeStripe, type FakeStripe, type Form } from './support/fake-stripe.js';
import { createPaymentAs, expectOnePaymentReplayed } from './support/payments.js';
import { expectProblem } from './support/problems.js';
import { eventually } from './support/server.js';
import { inconsistencies } from './support/consistency.js';
import { useTestApp } from './support/app.js';

const WEBHOOK_SECRET = 'whsec_test_staybook';

let fake: FakeStripe;
beforeAll(async () => {
  fake = await startFakeStripe();
});
// Hooks after a file's tests run last-registered first: the server stops before the fake Stripe does.
afterAll(() => fake.close());
afterEach(() => fake.reset());

const { env, server } = useTestApp({
  config: () => ({
    paymentProvider: 'stripe',
    stripeSecretKey: 'sk_test_staybook',
    stripeWebhookSecret: WEBHOOK_SECRET,
    stripeApiBase: new URL(fake.url),
  }),
});

const pay = (guest: Account, bookingId: string, paymentMethod?: string, key?: string) => createPaymentAs(server.client, guest, bookingId, paymentMethod, key);

/** POSTs a signed Stripe event exactly as Stripe does: the raw bytes, signed by the SDK's own helper. */
async function deliver(payload: string) {
  const response = await fetch(`${server.url}/payments/webhook`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Stripe-Signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET }) },
    body: payload,
  });
  return { status: response.status, body: await response.json() };
}

const db = () => server.deps.db;
const bookingRow = (id: string) => db().selectFrom('bookings').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const paymentsOf = (bookingId: string) => db().selectFrom('payments').selectAll().where('booking_id', '=', bookingId).orderBy('created_at').execute();
const refundsOf = (bookingId: string) => db().selectFrom('refunds').selectAll().where('booking_id', '=', bookingId).execute();
const eventsOf = (paymentId: string) =>
  db().selectFrom('payment_events').select(['type', 'payment_id', 'refund_id']).where('payment_id', '=', paymentId).orderBy('type').execute();
const notificationsOf = (bookingId: string) =>
  db().selectFrom('notifications').select(['id', 'kind', 'status']).where('booking_id', '=', bookingId).orderBy('kind').execute();

/** The PaymentIntent creates Stripe was sent for a booking (our metadata names it), failed ones included. */
const intentCreatesFor = (bookingId: string) =>
  fake.requestsTo('POST /v1/payment_intents').filter((request) => (request.body.metadata as Form | undefined)?.booking_id === bookingId);
const refundCallsFor = (intentId: string) => fake.requestsTo('POST /v1/refunds').filter((request) => request.body.payment_intent === intentId);
/** What Stripe holds: the PaymentIntents made for a booking, the Refunds of a PaymentIntent. */
const stripeIntentsFor = (bookingId: string) => [...fake.intents.values()].filter((intent) => (intent.metadata as Form).booking_id === bookingId);
const stripeRefundsOf = (intentId: string) => [...fake.refunds.values()].filter((refund) => refund.payment_intent === intentId);

/** A stay on a flexible listing a month ahead, paid through Stripe with pm_card_visa. */
async function paidStay() {
  const property = await createProperty(server.client, undefined, { cancellation_policy: 'flexible' });
  const booking = await createBooking(server.client, { property, stay: { check_in: fromToday(30), check_out: fromToday(33) } });
  const payment = await payStay(server, booking);
  expect(payment).toMatchObject({ status: 'succeeded', provider: 'stripe' });
  return { property, booking, payment, intentId: payment.provider_reference! };
}

function cancel(actor: Account, bookingId: string) {
  return api.cancelBooking({ client: server.client, auth: actor.token, path: { booking_id: bookingId } });
}

describe('createPayment through Stripe', () => {
  it('creates and confirms one PaymentIntent for the booking total under a key from the client\'s, confirms the booking and mails the receipt', async () => {
    const booking = await createBooking(server.client);
    const key = randomUUID();
    const { data, response } = await pay(booking.guest, booking.id, 'pm_card_visa', key);

    expect(response.status).toBe(201);
    const [create, ...others] = intentCreatesFor(booking.id);
    expect(others).toEqual([]);
    expect(create).toMatchObject({
      status: 200,
      body: {
        amount: String(booking.price.total),
        currency: booking.price.currency.toLowerCase(),
        payment_method: 'pm_card_visa',
        confirm: 'true',
        automatic_payment_methods: { enabled: 'true', allow_redirects: 'never' },
        metadata: { payment_id: data!.id, booking_id: booking.id, payer_id: booking.guest.id },
      },
    });
    expect(create!.headers.authorization).toBe('Bearer sk_test_staybook');
    expect(create!.idempotencyKey).toContain(key);
    expect(create!.idempotencyKey).toContain(booking.guest.id);
    const [intent, ...moreIntents] = stripeIntentsFor(booking.id);
    expect(moreIntents).toEqual([]);
    expect(intent).toMatchObject({ status: 'succeeded', amount: booking.price.total });
    const intentId = intent!.id;

    expect(data).toMatchObject({
      booking_id: booking.id,
      amount: booking.price.total,
      currency: booking.price.currency,
      status: 'succeeded',
      provider: 'stripe',
      provider_reference: intentId,
      failure_code: null,
    });
    expect(await paymentsOf(booking.id)).toMatchObject([
      { id: data!.id, status: 'succeeded', provider: 'stripe', provider_reference: intentId, provider_idempotency_key: create!.idempotencyKey },
    ]);
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'confirmed', expires_at: null });

    await eventually(async () =>
      expect(await notificationsOf(booking.id)).toMatchObject([
        { kind: 'booking_confirmed', status: 'sent' },
        { kind: 'payment_receipt', status: 'sent' },
      ]),
    );
    const outbox = readdirSync(env.outboxDir);
    for (const notification of await notificationsOf(booking.id)) expect(outbox).toContain(`${notification.kind}-${notification.id}.eml`);
  });

  it('sends one PaymentIntent create for eight concurrent requests with one Idempotency-Key; the other seven replay its answer', async () => {
    const booking = await createBooking(server.client);
    const key = randomUUID();
    const results = await Promise.all(Array.from({ length: 8 }, () => pay(booking.guest, booking.id, 'pm_card_visa', key)));

    const payment = expectOnePaymentReplayed(results);
    expect(intentCreatesFor(booking.id)).toHaveLength(1);
    expect(await paymentsOf(booking.id)).toMatchObject([{ id: payment.id, status: 'succeeded' }]);
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'confirmed' });
  });

  it('keeps a declined card as a failed payment, answers 402 card_declined and leaves the booking pending for another method', async () => {
    const booking = await createBooking(server.client);
    const key = randomUUID();
    const problem = expectProblem(await pay(booking.guest, booking.id, 'pm_card_chargeDeclined', key), 402, 'card_declined');
    expect(problem.detail).toContain('generic_decline');

    const [decline] = intentCreatesFor(booking.id);
    expect(decline).toMatchObject({ status: 402, body: { payment_method: 'pm_card_chargeDeclined' } });
    const [failed] = await paymentsOf(booking.id);
    expect(failed).toMatchObject({ status: 'failed', failure_code: 'generic_decline', failure_message: 'Your card was declined.', succeeded_at: null });
    expect(fake.intents.get(failed!.provider_reference!)).toMatchObject({ status: 'requires_payment_method', metadata: { payment_id: failed!.id } });
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'pending' });

    // The same key replays the decline without asking Stripe again; a new key may try another card.
    expectProblem(await pay(booking.guest, booking.id, 'pm_card_chargeDeclined', key), 402, 'card_declined');
    expect(intentCreatesFor(booking.id)).toHaveLength(1);
    const { data } = await pay(booking.guest, booking.id, 'pm_card_visa');
    expect(data).toMatchObject({ status: 'succeeded' });
    expect(await paymentsOf(booking.id)).toMatchObject([{ status: 'failed' }, { id: data!.id, status: 'succeeded' }]);
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'confirmed' });
  });

  it('refuses a payment method Stripe does not know with 422 payment_method_invalid, recording no payment', async () => {
    const booking = await createBooking(server.client);
    expectProblem(await pay(booking.guest, booking.id, 'pm_xyz'), 422, 'payment_method_invalid');

    expect(intentCreatesFor(booking.id)).toMatchObject([{ status: 400, body: { payment_method: 'pm_xyz' } }]);
    expect(await paymentsOf(booking.id)).toEqual([]);
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'pending' });
  });

  it('lets a refused request be retried with the same key and a corrected method: Stripe sees another key, never the same key with other parameters', async () => {
    const booking = await createBooking(server.client);
    const key = randomUUID();
    expectProblem(await pay(booking.guest, booking.id, 'pm_xyz', key), 422, 'payment_method_invalid');
    const retried = await pay(booking.guest, booking.id, 'pm_card_visa', key);
    expect(retried.response.status).toBe(201);
    expect(retried.data).toMatchObject({ status: 'succeeded' });

    const [refused, paid] = intentCreatesFor(booking.id);
    expect(refused!.idempotencyKey).toContain(key);
    expect(paid!.idempotencyKey).toContain(key);
    expect(paid!.idempotencyKey).not.toBe(refused!.idempotencyKey);
    expect(fake.requestsTo('POST /v1/payment_intents').filter((request) => request.status === 400 && request.body.payment_method === 'pm_card_visa')).toEqual([]);
  });

  it('refuses an amount sent by the client with 400 validation_failed, before anything reaches Stripe', async () => {
    const booking = await createBooking(server.client);
    const result = await api.createPayment({
      client: server.client,
      auth: booking.guest.token,
      headers: { 'Idempotency-Key': randomUUID() },
      body: { booking_id: booking.id, payment_method: 'pm_card_visa', amount: 1 } as never,
    });
    expectProblem(result, 400, 'validation_failed', 'body.amount');

    expect(fake.requests.filter((request) => JSON.stringify(request.body).includes(booking.id))).toEqual([]);
    expect(await paymentsOf(booking.id)).toEqual([]);
  });

  it('leaves the payment pending when Stripe does not answer; the follow-up job asks again with the same key, is retried, and confirms the booking once Stripe answers', async () => {
    const booking = await createBooking(server.client);
    // The SDK tries each call 3 times (maxNetworkRetries 2): 6 failures outlast createPayment's call and the job's first attempt.
    fake.failNext('POST /v1/payment_intents', 6);
    const { data, response } = await pay(booking.guest, booking.id);

    expect(response.status).toBe(201);
    expect(data).toMatchObject({ status: 'pending', provider_reference: null });
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'pending' });

    await eventually(async () => expect(await paymentsOf(booking.id)).toMatchObject([{ id: data!.id, status: 'succeeded' }]));
    const [payment] = await paymentsOf(booking.id);
    const creates = intentCreatesFor(booking.id);
    // 3 calls of 3 tries: createPayment's, the job's first attempt, and its retry, whose first try is answered.
    expect(creates.map((request) => request.status)).toEqual([500, 500, 500, 500, 500, 500, 200]);
    expect(new Set(creates.map((request) => request.idempotencyKey))).toEqual(new Set([payment!.provider_idempotency_key]));
    expect(stripeIntentsFor(booking.id)).toHaveLength(1);
    expect(payment!.provider_reference).toMatch(/^pi_/);
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'confirmed' });
  });
});

describe('handlePaymentWebhook with Stripe\'s events', () => {
  it('settles a processing payment on payment_intent.succeeded, and a payment_failed arriving after it changes nothing', async () => {
    const booking = await createBooking(server.client);
    const { data, response } = await pay(booking.guest, booking.id, 'pm_card_processing');
    expect(response.status).toBe(201);
    expect(data).toMatchObject({ status: 'pending', provider_reference: expect.stringMatching(/^pi_/) });
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'pending' });
    const intentId = data!.provider_reference!;

    const succeeded = fake.settleIntent(intentId, 'succeeded');
    expect(await deliver(fake.event('payment_intent.succeeded', succeeded))).toEqual({ status: 200, body: { received: true, duplicate: false } });
    expect(await paymentsOf(booking.id)).toMatchObject([{ id: data!.id, status: 'succeeded', provider_reference: intentId }]);
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'confirmed' });

    const late = {
      ...succeeded,
      status: 'requires_payment_method',
      last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' },
    };
    expect(await deliver(fake.event('payment_intent.payment_failed', late))).toEqual({ status: 200, body: { received: true, duplicate: false } });
    expect(await paymentsOf(booking.id)).toMatchObject([{ status: 'succeeded', failure_code: null, failed_at: null }]);
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'confirmed' });
    expect(await eventsOf(data!.id)).toEqual([
      { type: 'payment_intent.payment_failed', payment_id: data!.id, refund_id: null },
      { type: 'payment_intent.succeeded', payment_id: data!.id, refund_id: null },
    ]);
  });
  it('settles a processing payment whose event never came by looking it up (the sweep\'s follow-up job), retrying a lookup Stripe does not answer', async () => {
    const booking = await createBooking(server.client);
    const { data } = await pay(booking.guest, booking.id, 'pm_card_processing');
    const intentId = data!.provider_reference!;
    fake.settleIntent(intentId, 'succeeded');
    fake.failNext('GET /v1/payment_intents/:id', 3);
    // What the sweep does for a payment pending too long; the tests do not wait minutes for it.
    await server.deps.jobs.enqueue([{ name: 'follow-up-payment', id: data!.id }]);

    await eventually(async () => expect(await paymentsOf(booking.id)).toMatchObject([{ id: data!.id, status: 'succeeded', provider_reference: intentId }]));
    const lookups = fake.requestsTo('GET /v1/payment_intents/:id').filter((request) => request.path === `/v1/payment_intents/${intentId}`);
    expect(lookups.map((request) => request.status)).toEqual([500, 500, 500, 200]);
    expect(intentCreatesFor(booking.id)).toHaveLength(1);
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'confirmed' });
  });

  it('acknowledges a refund event of another integration on the same Stripe account (its refund_id is not one of ours) and changes nothing', async () => {
    const foreign = { id: 're_foreign0001', object: 'refund', amount: 500, currency: 'eur', payment_intent: 'pi_foreign0001', status: 'succeeded', metadata: { refund_id: 'RF-1042' } };
    const payload = fake.event('refund.updated', foreign);
    expect(await deliver(payload)).toEqual({ status: 200, body: { received: true, duplicate: false } });
    const eventId = (JSON.parse(payload) as { id: string }).id;
    expect(await db().selectFrom('payment_events').select(['type', 'payment_id', 'refund_id']).where('id', '=', eventId).execute()).toEqual([
      { type: 'refund.updated', payment_id: null, refund_id: null },
    ]);
  });
});

describe('refunds through Stripe', () => {
  it.each([
    ['guest', 'all but the service fee', 'partially_refunded'],
    ['host', 'the whole total', 'refunded'],
  ] as const)('refunds the %s\'s cancellation of a flexible stay (%s): Stripe refunds that much of the PaymentIntent, and the refund, payment and booking say so', async (by, _amount, paymentStatus) => {
    const { property, booking, payment, intentId } = await paidStay();
    const expected = by === 'guest' ? booking.price.total - booking.price.service_fee : booking.price.total;
    const { data } = await cancel(by === 'guest' ? booking.guest : property.host, booking.id);
    expect(data).toMatchObject({ status: 'cancelled', refund: { amount: expected, status: 'pending' } });

    await eventually(async () => {
      const seen = await api.getBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id } });
      expect(seen.data!.refund).toEqual({ amount: expected, currency: booking.price.currency, status: 'succeeded' });
    });
    const [refund] = await refundsOf(booking.id);
    expect(refundCallsFor(intentId)).toMatchObject([
      { status: 200, idempotencyKey: `refund-${refund!.id}-0`, body: { amount: String(expected), metadata: { refund_id: refund!.id, payment_id: payment.id } } },
    ]);
    const [stripeRefund] = stripeRefundsOf(intentId);
    expect(refund).toMatchObject({ status: 'succeeded', amount: expected, reason: 'cancellation', provider_reference: stripeRefund!.id, attempts: 0 });
    expect(await paymentsOf(booking.id)).toMatchObject([{ status: paymentStatus, refunded_amount: expected }]);
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'cancelled', refund_amount: expected, refund_status: 'succeeded' });
    await eventually(async () => expect(await notificationsOf(booking.id)).toContainEqual(expect.objectContaining({ kind: 'refund_issued', status: 'sent' })));
  });

  it('retries a refund Stripe does not answer through the execute-refund job, with the same idempotency key every time, until it succeeds', async () => {
    const { property, booking, intentId } = await paidStay();
    // More failures than the SDK's 3 tries: the job itself fails once and is retried.
    fake.failNext('POST /v1/refunds', 4);
    await cancel(property.host, booking.id);

    await eventually(async () => expect(await refundsOf(booking.id)).toMatchObject([{ status: 'succeeded' }]));
    const [refund] = await refundsOf(booking.id);
    const calls = refundCallsFor(intentId);
    expect(calls.map((call) => call.status)).toEqual([500, 500, 500, 500, 200]);
    expect(new Set(calls.map((call) => call.idempotencyKey))).toEqual(new Set([`refund-${refund!.id}-0`]));
    expect(stripeRefundsOf(intentId)).toHaveLength(1);
    expect(await paymentsOf(booking.id)).toMatchObject([{ status: 'refunded', refunded_amount: booking.price.total }]);
    expect(await bookingRow(booking.id)).toMatchObject({ refund_status: 'succeeded' });
  });

  it('keeps a refund Stripe answers as pending pending until its refund.updated event, and applies a redelivered event once', async () => {
    const { booking, payment } = await paidStay();
    fake.answerNextRefund('pending');
    const { data } = await cancel(booking.guest, booking.id);
    const amount = data!.refund!.amount;

    await eventually(async () => expect(await refundsOf(booking.id)).toMatchObject([{ status: 'pending', provider_reference: expect.stringMatching(/^re_/) }]));
    const [refund] = await refundsOf(booking.id);
    expect(await paymentsOf(booking.id)).toMatchObject([{ status: 'succeeded', refunded_amount: 0 }]);
    expect(await bookingRow(booking.id)).toMatchObject({ refund_status: 'pending' });

    const payload = fake.event('refund.updated', fake.settleRefund(refund!.provider_reference!, 'succeeded'));
    expect(await deliver(payload)).toEqual({ status: 200, body: { received: true, duplicate: false } });
    expect(await deliver(payload)).toEqual({ status: 200, body: { received: true, duplicate: true } });

    expect(await refundsOf(booking.id)).toMatchObject([{ id: refund!.id, status: 'succeeded', amount }]);
    expect(await paymentsOf(booking.id)).toMatchObject([{ status: 'partially_refunded', refunded_amount: amount }]);
    expect(await bookingRow(booking.id)).toMatchObject({ refund_status: 'succeeded' });
    expect(await eventsOf(payment.id)).toEqual([{ type: 'refund.updated', payment_id: payment.id, refund_id: refund!.id }]);
  });
});

describe('the database afterwards', () => {
  it('adds up: every money column equals its recomputation, every booking\'s status agrees with its payments', async () => {
    expect(await inconsistencies(server.deps.db, server.deps.config.serviceFeeBasisPoints)).toEqual([]);
  });
});
