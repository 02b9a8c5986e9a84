/**
 * Payments: a guest pays a pending booking; the provider's answer, or later its
 * signed event, settles the payment and confirms the booking
 * (server/payments/settle.ts). The amount and currency always come from the
 * booking. A booking is paid at most once: the database keeps one live payment
 * per booking (payments_one_live_per_booking), and the Idempotency-Key makes a
 * retried request replay its first answer.
 *
 * createPayment holds the booking's row lock (and its key) across the provider
 * call, so concurrent attempts on one booking queue up behind it instead of
 * racing the provider; the SDK's timeout bounds that wait. A call that gets no
 * answer leaves the payment pending and starts the follow-up job, which asks the
 * provider again with the same key.
 */
import { createHash } from 'node:crypto';
import { lockBooking } from '../db/bookings.js';
import { canSeeBooking } from './bookings.js';
import type { Tx } from '../db/index.js';
import {
  findLivePayment,
  findPaymentById,
  insertPayment,
  linkProviderEvent,
  listPayments,
  lockPayment,
  lockPaymentByReference,
  lockRefund,
  lockRefundByReference,
  recordProviderEvent,
  refundsOfPayments,
  type PaymentRow,
  type RefundRow,
} from '../db/payments.js';
import type { Payment } from '../generated/client/types.gen.js';
import { isAdmin } from '../server/auth.js';
import { ApiError } from '../server/errors.js';
import { inIdempotentTransaction } from '../server/idempotency.js';
import type { JobRequest } from '../server/jobs/job.js';
import { caller, startJobs, type ResourceHandlers } from '../server/operations.js';
import { decodeCursor, page } from '../server/pagination.js';
import type { PaymentProvider, ProviderEvent, ProviderOutcome } from '../server/payments/provider.js';
import { settleCharge, settleRefund } from '../server/payments/settle.js';

export function paymentRowToPayment(row: PaymentRow, refunds: RefundRow[]): Payment {
  return {
    id: row.id,
    booking_id: row.booking_id,
    payer_id: row.payer_id,
    amount: row.amount,
    currency: row.currency as Payment['currency'],
    status: row.status,
    payment_method: row.payment_method,
    provider: row.provider,
    provider_reference: row.provider_reference,
    failure_code: row.failure_code,
    failure_message: row.failure_message,
    refunded_amount: row.refunded_amount,
    refunds: refunds.map((refund) => ({
      id: refund.id,
      amount: refund.amount,
      currency: refund.currency as Payment['currency'],
      reason: refund.reason,
      status: refund.status,
      provider_reference: refund.provider_reference,
      failure_code: refund.failure_code,
      created_at: refund.created_at.toISOString(),
      updated_at: refund.updated_at.toISOString(),
      succeeded_at: refund.succeeded_at?.toISOString() ?? null,
    })),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    succeeded_at: row.succeeded_at?.toISOString() ?? null,
    failed_at: row.failed_at?.toISOString() ?? null,
    refunded_at: row.refunded_at?.toISOString() ?? null,
  };
}

/**
 * What is sent to the provider for one attempt, derived from the attempt itself
 * (caller, Idempotency-Key, booking, payment method), so that a retry of it
 * sends the provider exactly the same request, even after our first try rolled
 * back or crashed before it committed:
 * - the key: Stripe's keys are account-wide, so the client's key is scoped to
 *   the caller, and the request it stood for is part of it; a key refused here
 *   (a 422 rolls back and is not remembered) may be retried with a corrected
 *   body, which Stripe must not see as the same key with other parameters;
 * - the payment's id, which travels in the charge's metadata.
 */
function attemptOf(userId: string, key: string, body: { booking_id: string; payment_method: string }) {
  const request = createHash('sha256').update(`${body.booking_id}:${body.payment_method}`).digest('hex').slice(0, 16);
  const scoped = `createPayment-${userId}-${key}`;
  const idempotencyKey = `${scoped.length <= 230 ? scoped : `createPayment-${userId}-${createHash('sha256').update(key).digest('hex')}`}-${request}`;
  // A name-based UUID (version 5 layout) of the key: the same attempt, the same payment id.
  const bytes = createHash('sha256').update(idempotencyKey).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  const paymentId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { idempotencyKey, paymentId };
}

const NO_SUCH_PAYMENT = 'No such payment.';

export const paymentHandlers: ResourceHandlers<'createPayment' | 'listPayments' | 'getPayment' | 'handlePaymentWebhook'> = {
  async createPayment({ body, headers }, ctx) {
    const auth = caller(ctx);
    const { db, payments: provider } = ctx.deps;
    const key = headers['idempotency-key'] as string; // required by the spec, so validated before we get here
    let owedJobs: JobRequest[] = [];
    const reply = await inIdempotentTransaction(db, { userId: auth.id, operation: 'createPayment', key, request: body }, async (trx) => {
      const booking = await lockBooking(trx, body.booking_id);
      if (!booking || !canSeeBooking(booking, auth)) throw new ApiError('not_found', 'No such booking.');
      if (booking.guest_id !== auth.id) throw new ApiError('forbidden', "Only the booking's guest may pay for it.");
      if (booking.status !== 'pending') throw new ApiError('invalid_state', `Only a pending booking can be paid; this one is ${booking.status}.`);
      const live = await findLivePayment(trx, booking.id);
      if (live) throw new ApiError('payment_in_progress', `Payment ${live.id} is waiting for the provider's outcome.`);

      const attempt = attemptOf(auth.id, key, body);
      const payment = await insertPayment(trx, {
        id: attempt.paymentId,
        booking_id: booking.id,
        payer_id: auth.id,
        amount: booking.total,
        currency: booking.currency,
        payment_method: body.payment_method,
        provider: provider.name,
        provider_idempotency_key: attempt.idempotencyKey,
      });
      const outcome = await provider.charge({
        amount: payment.amount,
        currency: payment.currency,
        paymentMethod: payment.payment_method,
        idempotencyKey: payment.provider_idempotency_key,
        metadata: { payment_id: payment.id, booking_id: booking.id, payer_id: auth.id },
      });
      const settled = await settleCharge(trx, payment, outcome);
      owedJobs = settled.jobs;
      return { status: 201 as const, body: paymentRowToPayment(settled.value, []), headers: { Location: `/payments/${payment.id}` } };
    });
    await startJobs(ctx, owedJobs);
    // A decline is kept as a failed payment (and replayed as this same 402).
    if (reply.body.status === 'failed') {
      const message = (reply.body.failure_message ?? 'The card was declined.').replace(/\.$/, '');
      throw new ApiError(
        'card_declined',
        `${message} (${reply.body.failure_code}). The attempt is kept as payment ${reply.body.id}; try another payment method with a new Idempotency-Key.`,
      );
    }
    return reply;
  },

  async listPayments({ query }, ctx) {
    const auth = caller(ctx);
    const limit = query.limit ?? 20;
    const after = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const rows = await listPayments(ctx.deps.db, {
      payerId: isAdmin(auth) ? undefined : auth.id,
      bookingId: query.booking_id,
      after: after ? { createdAt: after[0] as string, id: after[1] as string } : undefined,
      limit,
    });
    const refunds = await refundsOfPayments(ctx.deps.db, rows.slice(0, limit).map((row) => row.id));
    return {
      status: 200,
      body: page(rows, limit, (row) => paymentRowToPayment(row, refunds.get(row.id) ?? []), (row) => [row.created_at.toISOString(), row.id]),
    };
  },

  async getPayment({ path }, ctx) {
    const auth = caller(ctx);
    const row = await findPaymentById(ctx.deps.db, path.payment_id);
    if (!row || (row.payer_id !== auth.id && !isAdmin(auth))) throw new ApiError('not_found', NO_SUCH_PAYMENT);
    const refunds = await refundsOfPayments(ctx.deps.db, [row.id]);
    return { status: 200, body: paymentRowToPayment(row, refunds.get(row.id) ?? []) };
  },

  async handlePaymentWebhook({ headers }, ctx) {
    const { db, payments: provider } = ctx.deps;
    const signature = headers['stripe-signature'] ?? '';
    const event = provider.verifyEvent(ctx.rawBody ?? '', signature);
    const { duplicate, jobs } = await db.transaction().execute(async (trx) => {
      // The event's id is written first and in the same transaction as its effect: a second
      // delivery, even a concurrent one, waits here and then finds it applied.
      if (!(await recordProviderEvent(trx, event))) return { duplicate: true, jobs: [] };
      return { duplicate: false, jobs: await applyEvent(trx, provider, event) };
    });
    await startJobs(ctx, jobs);
    return { status: 200, body: { received: true, duplicate } };
  },
};

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const metadataOf = (object: Record<string, unknown>) => (object.metadata ?? {}) as Record<string, unknown>;

/** What one verified provider event changes. Unknown types, and objects that are not ours, change nothing. */
async function applyEvent(trx: Tx, provider: PaymentProvider, event: ProviderEvent): Promise<JobRequest[]> {
  const object = event.object;
  if (event.type.startsWith('payment_intent.')) {
    const outcome = intentEventOutcome(event.type, object);
    if (!outcome) return [];
    const payment = await paymentOfIntent(trx, provider, object);
    if (!payment) return [];
    await linkProviderEvent(trx, event.id, { paymentId: payment.id });
    return (await settleCharge(trx, payment, outcome)).jobs;
  }
  if (event.type.startsWith('refund.') || event.type === 'charge.refund.updated') {
    const refundId = text(metadataOf(object).refund_id);
    const reference = text(object.id);
    // The metadata may be another integration's on the same Stripe account: only a UUID can be one of our ids.
    const refund = (refundId && UUID.test(refundId) && (await lockRefund(trx, refundId))) || (reference && (await lockRefundByReference(trx, reference))) || undefined;
    if (!refund || !reference) return [];
    await linkProviderEvent(trx, event.id, { paymentId: refund.payment_id, refundId: refund.id });
    const status = text(object.status);
    const outcome: ProviderOutcome =
      status === 'succeeded'
        ? { status: 'succeeded', reference }
        : status === 'failed' || status === 'canceled'
          ? { status: 'failed', reference, failureCode: text(object.failure_reason) ?? 'refund_failed', failureMessage: `The provider reports the refund ${status}.` }
          : { status: 'pending', reference };
    return (await settleRefund(trx, refund, outcome, 15 * 60)).jobs;
  }
  return [];
}

function intentEventOutcome(type: string, intent: Record<string, unknown>): ProviderOutcome | undefined {
  const reference = text(intent.id);
  if (!reference) return undefined;
  switch (type) {
    case 'payment_intent.succeeded':
      return { status: 'succeeded', reference };
    case 'payment_intent.processing':
      return { status: 'pending', reference };
    case 'payment_intent.payment_failed':
    case 'payment_intent.canceled': {
      const error = (intent.last_payment_error ?? {}) as Record<string, unknown>;
      return {
        status: 'failed',
        reference,
        failureCode: text(error.decline_code) ?? text(error.code) ?? (type === 'payment_intent.canceled' ? 'canceled' : 'payment_failed'),
        failureMessage: text(error.message) ?? `The provider reports the payment ${type === 'payment_intent.canceled' ? 'canceled' : 'failed'}.`,
      };
    }
    default:
      return undefined;
  }
}

/**
 * The payment a PaymentIntent is about, locked. Found by our id in its metadata,
 * or by its reference. A PaymentIntent with our metadata but no payment row is a
 * charge whose createPayment never committed (its process died after the
 * provider took the money): it is recorded from the event, so the money is never
 * unaccounted for. Inserting by the id from the metadata also waits for a
 * createPayment still in flight with that id, and then finds its row.
 */
async function paymentOfIntent(trx: Tx, provider: PaymentProvider, intent: Record<string, unknown>): Promise<PaymentRow | undefined> {
  const metadata = metadataOf(intent);
  const paymentId = text(metadata.payment_id);
  const reference = text(intent.id) as string;
  const known = (paymentId && UUID.test(paymentId) && (await lockPayment(trx, paymentId))) || (await lockPaymentByReference(trx, reference));
  if (known) return known;
  const bookingId = text(metadata.booking_id);
  const payerId = text(metadata.payer_id);
  const amount = intent.amount;
  const currency = text(intent.currency);
  if (!paymentId || !UUID.test(paymentId) || !bookingId || !UUID.test(bookingId) || !payerId || !UUID.test(payerId)) return undefined;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0 || !currency) return undefined;
  const booking = await trx.selectFrom('bookings').select(['id', 'guest_id']).where('id', '=', bookingId).executeTakeFirst();
  if (!booking || booking.guest_id !== payerId) return undefined;
  const other = await findLivePayment(trx, bookingId);
  await trx
    .insertInto('payments')
    .values({
      id: paymentId,
      booking_id: bookingId,
      payer_id: payerId,
      amount,
      currency: currency.toUpperCase(),
      payment_method: /^[A-Za-z0-9_]{1,255}$/.test(text(intent.payment_method) ?? '') ? (intent.payment_method as string) : 'unknown',
      provider: provider.name,
      provider_reference: reference,
      provider_idempotency_key: `recovered-${reference}`,
      // Another payment already holds the booking: this one can only be a failed attempt on our side.
      ...(other ? { status: 'failed', failure_code: 'recovered_after_other_payment', failure_message: 'Recorded from a provider event.', failed_at: new Date() } : {}),
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  return lockPayment(trx, paymentId);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
