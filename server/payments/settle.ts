/**
 * What a provider's answer does to our records, whoever brought it: the
 * createPayment request, the webhook, or a follow-up job. Each function runs in
 * the caller's transaction, with the payment or refund locked, and returns the
 * jobs to start once that transaction has committed (a job started earlier could
 * run before the rows it needs are visible). A job that is never started, because
 * the process died between commit and enqueue, is found again by the sweep: the
 * rows it works from were written in the transaction.
 */
import { confirmBooking, type BookingRow } from '../../db/bookings.js';
import { insertNotifications, type NotificationInput } from '../../db/notifications.js';
import {
  findLivePayment,
  insertRefund,
  markPaymentFailed,
  markPaymentSucceeded,
  markRefundFailed,
  markRefundPending,
  markRefundSucceeded,
  setPaymentReference,
  type PaymentRow,
  type RefundRow,
} from '../../db/payments.js';
import type { Tx } from '../../db/index.js';
import type { JobRequest } from '../jobs/job.js';
import type { ProviderOutcome } from './provider.js';

export interface Settled<T> {
  value: T;
  /** To enqueue after commit. */
  jobs: JobRequest[];
}

async function notify(trx: Tx, notifications: NotificationInput[]): Promise<JobRequest[]> {
  const ids = await insertNotifications(trx, notifications);
  return ids.map((id) => ({ name: 'send-notification', id }));
}

/**
 * A charge's outcome. A success confirms the booking through the one
 * pending -> confirmed transition; if the booking can no longer be confirmed (its
 * hold was written down as expired, it was cancelled, or another payment paid it)
 * the money goes back in full. A failure leaves the booking pending. A status
 * never moves backwards: a failure reported after a success changes nothing.
 */
export async function settleCharge(trx: Tx, payment: PaymentRow, outcome: ProviderOutcome): Promise<Settled<PaymentRow>> {
  switch (outcome.status) {
    case 'succeeded': {
      if (payment.status !== 'pending' && payment.status !== 'failed') return { value: payment, jobs: [] };
      if (payment.status === 'failed' && (await findLivePayment(trx, payment.booking_id, payment.id))) {
        // A charge we had seen fail succeeded after another payment took its place (our flow
        // never confirms a failed charge again, so only a provider-side retry gets here). The
        // one-live-payment-per-booking invariant keeps it failed; the event row, linked to the
        // payment, keeps the provider's word, and this line tells support to refund it by hand.
        console.error(JSON.stringify({ level: 'error', message: 'charge succeeded after its booking was paid otherwise; refund it by hand', payment_id: payment.id, reference: outcome.reference }));
        return { value: payment, jobs: [] };
      }
      const paid = (await markPaymentSucceeded(trx, payment.id, outcome.reference)) ?? payment;
      const booking = await confirmBooking(trx, payment.booking_id);
      if (booking) {
        const jobs = await notify(trx, [
          { kind: 'payment_receipt', recipientId: payment.payer_id, bookingId: booking.id, paymentId: payment.id },
          { kind: 'booking_confirmed', recipientId: payment.payer_id, bookingId: booking.id, paymentId: payment.id },
        ]);
        return { value: paid, jobs };
      }
      const refund = await insertRefund(trx, {
        payment_id: payment.id,
        booking_id: payment.booking_id,
        amount: payment.amount,
        currency: payment.currency,
        reason: 'booking_unavailable',
      });
      const jobs = await notify(trx, [{ kind: 'payment_receipt', recipientId: payment.payer_id, bookingId: payment.booking_id, paymentId: payment.id }]);
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
      const jobs = await notify(trx, [
        { kind: 'refund_issued', recipientId: done.payer_id, bookingId: done.booking_id, paymentId: done.payment_id, refundId: done.id },
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
 * The refund a cancellation owes, by the amount the policy allows. Nothing was
 * paid: no refund (null). Nothing to send back: a refund of 0, done. Otherwise a
 * pending refund row and the job that executes it.
 */
export async function refundForCancellation(
  trx: Tx,
  booking: BookingRow,
  amount: number,
): Promise<Settled<{ refund_amount: number; refund_status: 'pending' | 'succeeded' } | null>> {
  const payment = await findLivePayment(trx, booking.id);
  if (!payment || payment.status === 'pending' || payment.status === 'failed') return { value: null, jobs: [] };
  if (amount === 0) return { value: { refund_amount: 0, refund_status: 'succeeded' }, jobs: [] };
  const refund = await insertRefund(trx, {
    payment_id: payment.id,
    booking_id: booking.id,
    amount: Math.min(amount, payment.amount - payment.refunded_amount),
    currency: payment.currency,
    reason: 'cancellation',
  });
  return { value: { refund_amount: refund.amount, refund_status: 'pending' }, jobs: [{ name: 'execute-refund', id: refund.id }] };
}

/** The guest hears of every cancellation, whoever made it. */
export async function notifyCancelled(trx: Tx, booking: BookingRow): Promise<JobRequest[]> {
  return notify(trx, [{ kind: 'booking_cancelled', recipientId: booking.guest_id, bookingId: booking.id }]);
}
