/**
 * The money and stay rules of bookings, as plain functions of their inputs: the
 * rounding, the price of a stay, the listing's rules a stay must keep, and the
 * whole cancellation-refund policy (what the policy returns, and what is sent
 * back of what was actually paid). The handlers, the payment settlement, the
 * demo data and the walk scripts all ask these; nothing else decides them.
 */
import type { CancellationPolicy, PriceBreakdown } from '../../generated/client/types.gen.js';
import type { PropertyRow } from '../../db/properties.js';
import type { PaymentRow } from '../../db/payments.js';
import { daysBetween } from '../../server/dates.js';
import type { FieldError } from '../../server/errors.js';

// Pricing --------------------------------------------------------------------

/**
 * `amount × basisPoints / 10 000`, rounded half up to a whole minor unit: the
 * one rounding the API applies (service fee, partial refunds). Integers only;
 * the largest product (a year's stay at the price cap, times 10 000) is far
 * below 2^53.
 */
export function percentOf(amount: number, basisPoints: number): number {
  return Math.floor((amount * basisPoints + 5_000) / 10_000);
}

/** The price breakdown of a stay at a listing's current rates. */
export function priceStay(
  listing: Pick<PropertyRow, 'price_per_night' | 'cleaning_fee' | 'currency'>,
  nights: number,
  serviceFeeBasisPoints: number,
): PriceBreakdown {
  const subtotal = nights * listing.price_per_night;
  const serviceFee = percentOf(subtotal + listing.cleaning_fee, serviceFeeBasisPoints);
  return {
    nights,
    nightly_rate: listing.price_per_night,
    subtotal,
    cleaning_fee: listing.cleaning_fee,
    service_fee: serviceFee,
    total: subtotal + listing.cleaning_fee + serviceFee,
    currency: listing.currency as PriceBreakdown['currency'],
  };
}

// The listing's rules for a stay ------------------------------------------------

export interface Stay {
  check_in: string;
  check_out: string;
  guests: number;
}

/**
 * Every rule of the listing the stay breaks (422 booking_rule_violated names
 * them all at once), empty when it keeps them: not the guest's own listing, not
 * in the past, within the night limits and the guest limit.
 */
export function stayRuleViolations(
  listing: Pick<PropertyRow, 'host_id' | 'min_nights' | 'max_nights' | 'max_guests'>,
  stay: Stay,
  guestId: string,
  today: string,
): FieldError[] {
  const problems: FieldError[] = [];
  if (listing.host_id === guestId) problems.push({ path: 'body.property_id', message: 'is your own listing; hosts cannot book their own property' });
  if (stay.check_in < today) problems.push({ path: 'body.check_in', message: `must not be in the past (today is ${today} UTC)` });
  const nights = daysBetween(stay.check_in, stay.check_out);
  if (nights < listing.min_nights) problems.push({ path: 'body.check_out', message: `the stay must be at least ${listing.min_nights} nights` });
  if (nights > listing.max_nights) problems.push({ path: 'body.check_out', message: `the stay must be at most ${listing.max_nights} nights` });
  if (stay.guests > listing.max_guests) problems.push({ path: 'body.guests', message: `must be <= ${listing.max_guests} (the property's max_guests)` });
  return problems;
}

// Cancellation refunds ----------------------------------------------------------

export type { CancellationPolicy };

/** Who cancelled, as the policy sees it (handlers/access.ts cancellingParty decides it). */
export type CancellingParty = 'guest' | 'host_or_admin';

/**
 * The CancellationPolicy schema of the spec as data: for a guest's cancellation,
 * the first tier whose `daysBefore` the cancellation reaches (whole days from
 * today, UTC, to check-in) gives the share, in basis points, of the total minus
 * the service fee that is returned.
 */
export const CANCELLATION_POLICIES: Record<CancellationPolicy, readonly { daysBefore: number; share: number }[]> = {
  flexible: [{ daysBefore: 1, share: 10_000 }, { daysBefore: -Infinity, share: 0 }],
  moderate: [{ daysBefore: 5, share: 10_000 }, { daysBefore: -Infinity, share: 5_000 }],
  strict: [{ daysBefore: 7, share: 5_000 }, { daysBefore: -Infinity, share: 0 }],
};

/** The share (basis points of the total minus the service fee) a guest's cancellation returns `daysBefore` days ahead. */
export function guestRefundShare(policy: CancellationPolicy, daysBefore: number): number {
  return CANCELLATION_POLICIES[policy].find((tier) => daysBefore >= tier.daysBefore)?.share ?? 0;
}

/**
 * What the policy returns of a paid booking: the host or an admin refunds the
 * whole total; the guest gets the policy's share of the total minus the service
 * fee, by days before check-in.
 */
export function refundFor(
  booking: { total: number; service_fee: number; check_in: string },
  policy: CancellationPolicy,
  cancelledBy: CancellingParty,
  today: string,
): number {
  if (cancelledBy === 'host_or_admin') return booking.total;
  return percentOf(booking.total - booking.service_fee, guestRefundShare(policy, daysBetween(today, booking.check_in)));
}

/**
 * What a cancellation sends back:
 * - `none`: nothing was paid (no payment, or one still in flight or declined); the booking shows `refund: null`;
 * - `nothing_due`: paid, but the policy returns nothing; a refund of 0, done at once;
 * - `send`: the amount to refund, never more than what is left of the payment.
 */
export type CancellationRefund = { kind: 'none' } | { kind: 'nothing_due' } | { kind: 'send'; amount: number };

export function cancellationRefund(input: {
  booking: { total: number; service_fee: number; check_in: string };
  policy: CancellationPolicy;
  cancelledBy: CancellingParty;
  today: string;
  /** The booking's live payment (db/payments.ts findLivePayment), if any. */
  payment: Pick<PaymentRow, 'status' | 'amount' | 'refunded_amount'> | undefined;
}): CancellationRefund {
  const { payment } = input;
  if (!payment || payment.status === 'pending' || payment.status === 'failed') return { kind: 'none' };
  const amount = refundFor(input.booking, input.policy, input.cancelledBy, input.today);
  if (amount === 0) return { kind: 'nothing_due' };
  return { kind: 'send', amount: Math.min(amount, payment.amount - payment.refunded_amount) };
}

/** A payment's status once a refund of `amount` has succeeded: refunded when nothing of it is left. */
export function paymentStatusAfterRefund(payment: Pick<PaymentRow, 'amount' | 'refunded_amount'>, amount: number): 'refunded' | 'partially_refunded' {
  return payment.refunded_amount + amount === payment.amount ? 'refunded' : 'partially_refunded';
}
