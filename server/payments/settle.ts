/**
 * What a provider's answer does to our records, whoever brought it: the
 * createPayment request, the webhook, or a follow-up job. Each function runs in
 * the caller's transaction, with the payment or refund locked, and returns the
 * jobs to start once that transaction has committed (a job started earlier could
 * run before the rows it needs are visible). A job that is never started, because
 * the process died between commit and enqueue, is found again by the sweep: the
 * rows it works from were written in the transaction.
 */
import { confirmBooking, findBookingGuestId, lockBooking, type BookingRow } from '../../db/bookings.js';
import { insertNotifications, type NotificationInput } from '../../db/notifications.js';
import {
  findLivePayment,
  insertPaymentIfAbsent,
  insertRefund,
  linkProviderEvent,
  lockPayment,
  lockPaymentByReference,
  lockRefund,
  lockRefundByReference,
  markPaymentFailed,
  markPaymentSucceeded,
  recordSettlementIssue,
  markRefundFailed,
  markRefundPending,
  markRefundSucceeded,
  recordPaymentRefunded,
  setPaymentReference,
  type PaymentRow,
  type RefundRow,
} from '../../db/payments.js';
import type { Tx } from '../../db/index.js';
import { chargeMismatch, paymentStatusAfterRefund, type CancellationRefund } from '../../handlers/bookings/rules.js';
import type { JobRequest } from '../jobs/job.js';
import type { PaymentProvider, ProviderEvent, ProviderOutcome } from './provider.js';

export interface Settled<T> {
  value: T;
  /** To enqueue after commit. */
  jobs: JobRequest[];
  /** The booking this confirmed, if any: its guest and host are told after commit (a live event). */
  confirmed?: string;
}

async function notify(trx: Tx, notifications: NotificationInput[]): Promise<JobRequest[]> {
  const ids = await insertNotifications(trx, notifications);
  return ids.map((id) => ({ name: 'send-notification', id }));
}

/**
 * A charge's outcome. A success confirms the booking through the one
 * pending -> confirmed transition, but only when what the provider took (its
 * amount and currency) is exactly the booking's total and what the payment
 * asked for (rules.ts chargeMismatch); a mismatch never confirms: the payment is
 * recorded as succeeded with its `settlement_issue` and the money goes back
 * (a refund of reason amount_mismatch), the booking stays pending until its hold
 * lapses. If the booking can no longer be confirmed (its hold was written down
 * as expired, it was cancelled) the money goes back in full too. A failure leaves
 * the booking pending. A status never moves backwards: a failure reported after a
 * success changes nothing, and a success reported for a charge we saw fail
 * confirms nothing (it is recorded on the payment for support to look at).
 */
export async function settleCharge(trx: Tx, payment: PaymentRow, outcome: ProviderOutcome): Promise<Settled<PaymentRow>> {
  switch (outcome.status) {
    case 'succeeded': {
      if (payment.status === 'failed') {
        // Our flow never charges a failed attempt again, so this is a forged event or a provider-side
        // surprise: either way not a reason to confirm a stay. The event row, linked to the payment,
        // keeps the provider's word; a real charge is refunded by hand.
        await recordSettlementIssue(trx, payment.id, 'succeeded_after_failure');
        console.error(JSON.stringify({ level: 'error', message: 'a success was reported for a payment seen failing; not confirmed, check and refund by hand', payment_id: payment.id, reference: outcome.reference }));
        return { value: { ...payment, settlement_issue: 'succeeded_after_failure' }, jobs: [] };
      }
      if (payment.status !== 'pending') return { value: payment, jobs: [] };
      // Locked before it is compared, so the booking cannot change between the comparison and the confirmation.
      const current = await lockBooking(trx, payment.booking_id);
      const received = outcome.received ?? { amount: payment.amount, currency: payment.currency };
      const issue = current ? chargeMismatch(received, payment, current) : undefined;
      const paid = (await markPaymentSucceeded(trx, payment.id, outcome.reference, issue ?? null)) ?? payment;
      const booking = issue ? undefined : await confirmBooking(trx, payment.booking_id);
      if (booking) {
        const jobs = await notify(trx, [
          { kind: 'payment_receipt', recipientId: payment.payer_id, bookingId: booking.id, paymentId: payment.id },
          { kind: 'booking_confirmed', recipientId: payment.payer_id, bookingId: booking.id, paymentId: payment.id },
        ]);
        return { value: paid, jobs, confirmed: booking.id };
      }
      if (issue) {
        console.error(JSON.stringify({
          level: 'error',
          message: 'a charge does not match its booking; not confirmed, refunded',
          payment_id: payment.id,
          issue,
          received,
          expected: current && { amount: current.total, currency: current.currency },
        }));
      }
      const jobs = await notify(trx, [{ kind: 'payment_receipt', recipientId: payment.payer_id, bookingId: payment.booking_id, paymentId: payment.id }]);
      // Never more than the payment holds (what a refund can send back of it); nothing taken, nothing to send.
      const amount = Math.min(received.amount, payment.amount);
      if (amount === 0) return { value: paid, jobs };
      const refund = await insertRefund(trx, {
        payment_id: payment.id,
        booking_id: payment.booking_id,
        amount,
        currency: payment.currency,
        reason: issue ? 'amount_mismatch' : 'booking_unavailable',
      });
      return { value: paid, jobs: [...jobs, { name: 'execute-refund', id: refund.id }] };
    }
    case 'failed':
      return { value: (await markPaymentFailed(trx, payment.id, outcome)) ?? payment, jobs: [] };
    case 'pending':
      await setPaymentReference(trx, payment.id, outcome.reference);
      return { value: { ...payment, provider_reference: payment.provider_reference ?? outcome.reference }, jobs: [] };
    case 'unknown':
      // No answer (a timeout): the follow-up asks again with the same idempotency key.
      return { value: payment, jobs: [{ name: 'follow-up-payment', id: payment.id }] };
  }
}

/**
 * A refund's outcome. Success updates the refund, its payment and its booking
 * together and tells the guest; a failure schedules another attempt
 * (`retryAfterSeconds`) and is never given up; pending waits for the provider's
 * event or the next look.
 */
export async function settleRefund(
  trx: Tx,
  refund: RefundRow,
  outcome: ProviderOutcome,
  retryAfterSeconds: number,
): Promise<Settled<RefundRow>> {
  switch (outcome.status) {
    case 'succeeded': {
      const done = await markRefundSucceeded(trx, refund, outcome.reference);
      if (!done) return { value: refund, jobs: [] };
      // Locked, so that two refunds of one payment succeeding at once add up.
      const payment = await lockPayment(trx, done.payment_id);
      if (!payment) throw new Error(`refund ${done.id} has no payment ${done.payment_id}`);
      await recordPaymentRefunded(trx, payment.id, payment.refunded_amount + done.amount, paymentStatusAfterRefund(payment, done.amount));
      const jobs = await notify(trx, [
        { kind: 'refund_issued', recipientId: payment.payer_id, bookingId: done.booking_id, paymentId: done.payment_id, refundId: done.id },
      ]);
      return { value: done, jobs };
    }
    case 'failed':
      return { value: (await markRefundFailed(trx, refund, outcome, retryAfterSeconds)) ?? refund, jobs: [] };
    case 'pending':
      await markRefundPending(trx, refund, outcome.reference);
      return { value: refund, jobs: [] };
    case 'unknown':
      return { value: refund, jobs: [] };
  }
}

/**
 * Records what the refund policy decided a cancellation sends back
 * (handlers/bookings/rules.ts cancellationRefund): nothing paid, no refund
 * (null); nothing due, a refund of 0, done; otherwise a pending refund row of
 * the payment and the job that executes it.
 */
export async function recordCancellationRefund(
  trx: Tx,
  booking: BookingRow,
  payment: PaymentRow | undefined,
  decision: CancellationRefund,
): Promise<Settled<{ refund_amount: number; refund_status: 'pending' | 'succeeded' } | null>> {
  if (decision.kind === 'none' || !payment) return { value: null, jobs: [] };
  if (decision.kind === 'nothing_due') return { value: { refund_amount: 0, refund_status: 'succeeded' }, jobs: [] };
  const refund = await insertRefund(trx, {
    payment_id: payment.id,
    booking_id: booking.id,
    amount: decision.amount,
    currency: payment.currency,
    reason: 'cancellation',
  });
  return { value: { refund_amount: refund.amount, refund_status: 'pending' }, jobs: [{ name: 'execute-refund', id: refund.id }] };
}

/** The guest hears of every cancellation, whoever made it. */
export async function notifyCancelled(trx: Tx, booking: BookingRow): Promise<JobRequest[]> {
  return notify(trx, [{ kind: 'booking_cancelled', recipientId: booking.guest_id, bookingId: booking.id }]);
}

/** How long after a refund failure reported by an event its next attempt is made. */
const RETRY_AFTER_REPORTED_FAILURE_SECONDS = 15 * 60;

/**
 * What one verified provider event changes, in the webhook's transaction (which
 * has recorded the event's id first). Events about objects that are not ours,
 * and events we do not act on, change nothing.
 */
export async function applyProviderEvent(trx: Tx, provider: PaymentProvider, event: ProviderEvent): Promise<Omit<Settled<unknown>, 'value'>> {
  switch (event.about) {
    case 'charge': {
      const payment = await paymentOfCharge(trx, provider, event);
      if (!payment) return { jobs: [] };
      await linkProviderEvent(trx, event.id, { paymentId: payment.id });
      const { jobs, confirmed } = await settleCharge(trx, payment, event.outcome);
      return { jobs, ...(confirmed ? { confirmed } : {}) };
    }
    case 'refund': {
      const refund = (event.refundId && (await lockRefund(trx, event.refundId))) || (await lockRefundByReference(trx, event.reference));
      if (!refund) return { jobs: [] };
      await linkProviderEvent(trx, event.id, { paymentId: refund.payment_id, refundId: refund.id });
      return { jobs: (await settleRefund(trx, refund, event.outcome, RETRY_AFTER_REPORTED_FAILURE_SECONDS)).jobs };
    }
    case 'other':
      return { jobs: [] };
  }
}

/**
 * The payment a charge event is about, locked. Found by our id in its metadata,
 * or by its reference. A charge with our metadata but no payment row is one whose
 * createPayment never committed (its process died after the provider took the
 * money): it is recorded from the event, so the money is never unaccounted for.
 */
async function paymentOfCharge(trx: Tx, provider: PaymentProvider, event: Extract<ProviderEvent, { about: 'charge' }>): Promise<PaymentRow | undefined> {
  const known = (event.paymentId && (await lockPayment(trx, event.paymentId))) || (await lockPaymentByReference(trx, event.reference));
  if (known) return known;
  const charge = event.recovery;
  if (!charge || (await findBookingGuestId(trx, charge.bookingId)) !== charge.payerId) return undefined;
  const other = await findLivePayment(trx, charge.bookingId);
  await insertPaymentIfAbsent(trx, {
    id: charge.paymentId,
    booking_id: charge.bookingId,
    payer_id: charge.payerId,
    amount: charge.amount,
    currency: charge.currency,
    payment_method: charge.paymentMethod,
    provider: provider.name,
    provider_reference: event.reference,
    provider_idempotency_key: `recovered-${event.reference}`,
    // Another payment already holds the booking: this one can only be a failed attempt on our side.
    ...(other ? { status: 'failed', failure_code: 'recovered_after_other_payment', failure_message: 'Recorded from a provider event.', failed_at: new Date() } : {}),
  });
  return lockPayment(trx, charge.paymentId);
}
