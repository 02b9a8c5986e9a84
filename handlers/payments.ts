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
import { findLivePayment, findPaymentById, insertPayment, listPayments, recordProviderEvent, refundsOfPayments } from '../db/payments.js';
import { ApiError } from '../server/errors.js';
import { inIdempotentTransaction } from '../server/idempotency.js';
import type { JobRequest } from '../server/jobs/job.js';
import { caller, startJobs, type ResourceHandlers } from '../server/operations.js';
import { decodeCursor, page } from '../server/pagination.js';
import { applyProviderEvent, settleCharge } from '../server/payments/settle.js';
import { mayPayForBooking, mayViewPayment, paymentsVisibleTo, permit } from './access.js';
import { publishBookingUpdated } from './events.js';
import { paymentRowToPayment } from './presenters.js';

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

export const paymentHandlers: ResourceHandlers<'createPayment' | 'listPayments' | 'getPayment' | 'handlePaymentWebhook'> = {
  async createPayment({ body, headers }, ctx) {
    const auth = caller(ctx);
    const { db, payments: provider } = ctx.deps;
    const key = headers['idempotency-key'] as string; // required by the spec, so validated before we get here
    let owedJobs: JobRequest[] = [];
    let confirmed: string | undefined;
    const reply = await inIdempotentTransaction(db, { userId: auth.id, operation: 'createPayment', key, request: body }, async (trx) => {
      const booking = permit(mayPayForBooking(auth, await lockBooking(trx, body.booking_id)));
      if (booking.status === 'requested') {
        throw new ApiError('awaiting_host_approval', 'This booking is a request its host has not accepted yet; it can be paid once accepted.');
      }
      if (booking.status !== 'pending') throw new ApiError('invalid_state', `Only a pending booking can be paid; this one is ${booking.status}.`);
      const live = await findLivePayment(trx, booking.id);
      if (live) {
        // A pending booking with a settled payment is one whose charge did not match it (refunded, see settle.ts).
        throw new ApiError(
          'payment_in_progress',
          live.status === 'pending'
            ? `Payment ${live.id} is waiting for the provider's outcome.`
            : `Payment ${live.id} of this booking was settled without confirming it (${live.settlement_issue ?? 'refunded'}); book again to pay.`,
        );
      }

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
      confirmed = settled.confirmed;
      return { status: 201 as const, body: paymentRowToPayment(settled.value, []), headers: { Location: `/payments/${payment.id}` } };
    });
    await startJobs(ctx, owedJobs);
    if (confirmed) await publishBookingUpdated(ctx, confirmed);
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
      ...paymentsVisibleTo(auth),
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
    const row = permit(mayViewPayment(caller(ctx), await findPaymentById(ctx.deps.db, path.payment_id)));
    const refunds = await refundsOfPayments(ctx.deps.db, [row.id]);
    return { status: 200, body: paymentRowToPayment(row, refunds.get(row.id) ?? []) };
  },

  async handlePaymentWebhook({ headers }, ctx) {
    const { db, payments: provider } = ctx.deps;
    const event = provider.parseEvent(ctx.rawBody ?? '', headers['stripe-signature'] ?? '');
    const { duplicate, jobs, confirmed } = await db.transaction().execute(async (trx) => {
      // The event's id is written first and in the same transaction as its effect: a second
      // delivery, even a concurrent one, waits here and then finds it applied.
      if (!(await recordProviderEvent(trx, event))) return { duplicate: true, jobs: [] };
      return { duplicate: false, ...(await applyProviderEvent(trx, provider, event)) };
    });
    await startJobs(ctx, jobs);
    if (confirmed) await publishBookingUpdated(ctx, confirmed);
    return { status: 200, body: { received: true, duplicate } };
  },
};
