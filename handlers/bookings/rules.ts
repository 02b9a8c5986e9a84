/**
 * The money and stay rules of bookings, as plain functions of their inputs: the
 * rounding, the price of a stay, the listing's rules a stay must keep, and the
 * whole cancellation-refund policy (what the policy returns, and what is sent
 * back of what was actually paid). The handlers, the payment settlement, the
 * demo data and the walk scripts all ask these; nothing else decides them.
 */
import type { BookingStatus, CancellationPolicy, PriceBreakdown } from '../../generated/client/types.gen.js';
import type { PropertyRow } from '../../db/properties.js';
import type { PaymentRow, SettlementIssue } from '../../db/payments.js';
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
 * The CancellationPolicy schema of the spec as data, for a guest's cancellation.
 *
 * Before the stay (check-in still ahead): the first tier whose `daysBefore` the
 * cancellation reaches (whole days from today, UTC, to check-in) gives the
 * share, in basis points, of the total minus the service fee that is returned.
 *
 * Once the stay has begun (today is check-in day or later): nothing of the
 * nights passed, nor of tonight's, nor of the cleaning fee or the service fee;
 * `duringStay` is the share of the price of the nights still to come (after
 * tonight) that is returned. Before this rule a `moderate` stay cancelled on
 * its last night returned half of the whole stay.
 */
export const CANCELLATION_POLICIES: Record<CancellationPolicy, { tiers: readonly { daysBefore: number; share: number }[]; duringStay: number }> = {
  flexible: { tiers: [{ daysBefore: 1, share: 10_000 }, { daysBefore: -Infinity, share: 0 }], duringStay: 0 },
  moderate: { tiers: [{ daysBefore: 5, share: 10_000 }, { daysBefore: 1, share: 5_000 }, { daysBefore: -Infinity, share: 0 }], duringStay: 5_000 },
  strict: { tiers: [{ daysBefore: 7, share: 5_000 }, { daysBefore: -Infinity, share: 0 }], duringStay: 0 },
};

/** The share (basis points of the total minus the service fee) a guest's cancellation returns `daysBefore` days ahead of check-in (0 from check-in day on: see unspentNightsRefund). */
export function guestRefundShare(policy: CancellationPolicy, daysBefore: number): number {
  return CANCELLATION_POLICIES[policy].tiers.find((tier) => daysBefore >= tier.daysBefore)?.share ?? 0;
}

/** Nights of a begun stay still to come after tonight: what a cancellation during the stay can return anything of. */
export function unspentNights(booking: { check_in: string; check_out: string }, today: string): number {
  const from = today < booking.check_in ? booking.check_in : today;
  return Math.max(0, daysBetween(from, booking.check_out) - 1);
}

/**
 * What the policy returns of a paid booking: the host or an admin refunds the
 * whole total; the guest gets, before check-in, the policy's share of the total
 * minus the service fee by days before check-in, and once the stay has begun
 * the policy's `duringStay` share of the nights still to come after tonight.
 */
export function refundFor(
  booking: { total: number; service_fee: number; check_in: string; check_out: string; nightly_rate: number },
  policy: CancellationPolicy,
  cancelledBy: CancellingParty,
  today: string,
): number {
  if (cancelledBy === 'host_or_admin') return booking.total;
  if (today >= booking.check_in) {
    return percentOf(unspentNights(booking, today) * booking.nightly_rate, CANCELLATION_POLICIES[policy].duringStay);
  }
  return percentOf(booking.total - booking.service_fee, guestRefundShare(policy, daysBetween(today, booking.check_in)));
}

/**
 * What a cancellation sends back:
 * - `none`: nothing was paid (no payment, or one still in flight, declined, or not matching the booking and
 *   refunded on its own); the booking shows `refund: null`;
 * - `nothing_due`: paid, but the policy returns nothing; a refund of 0, done at once;
 * - `send`: the amount to refund, never more than what is left of the payment.
 */
export type CancellationRefund = { kind: 'none' } | { kind: 'nothing_due' } | { kind: 'send'; amount: number };

export function cancellationRefund(input: {
  booking: Parameters<typeof refundFor>[0];
  policy: CancellationPolicy;
  cancelledBy: CancellingParty;
  today: string;
  /** The booking's live payment (db/payments.ts findLivePayment), if any. */
  payment: (Pick<PaymentRow, 'status' | 'amount' | 'refunded_amount'> & Partial<Pick<PaymentRow, 'settlement_issue'>>) | undefined;
}): CancellationRefund {
  const { payment } = input;
  if (!payment || payment.status === 'pending' || payment.status === 'failed') return { kind: 'none' };
  // A charge that did not match the booking never paid for it: its money goes back by its own refund (settle.ts).
  if (payment.settlement_issue) return { kind: 'none' };
  const amount = refundFor(input.booking, input.policy, input.cancelledBy, input.today);
  if (amount === 0) return { kind: 'nothing_due' };
  return { kind: 'send', amount: Math.min(amount, payment.amount - payment.refunded_amount) };
}

/** A payment's status once a refund of `amount` has succeeded: refunded when nothing of it is left. */
export function paymentStatusAfterRefund(payment: Pick<PaymentRow, 'amount' | 'refunded_amount'>, amount: number): 'refunded' | 'partially_refunded' {
  return payment.refunded_amount + amount === payment.amount ? 'refunded' : 'partially_refunded';
}

// Settling a charge ---------------------------------------------------------------

/**
 * Whether what the provider took pays exactly for the booking as it stands: the
 * same currency, and the amount equal both to the booking's total and to what
 * the payment asked for. Anything else never confirms (a stay changed while
 * its payment was in flight, or a forged or buggy event); its money goes back.
 */
export function chargeMismatch(
  received: { amount: number; currency: string },
  payment: Pick<PaymentRow, 'amount' | 'currency'>,
  booking: { total: number; currency: string },
): SettlementIssue | undefined {
  const currency = received.currency.toUpperCase();
  if (currency !== booking.currency || currency !== payment.currency) return 'currency_mismatch';
  if (received.amount !== booking.total || received.amount !== payment.amount) return 'amount_mismatch';
  return undefined;
}

// Business limits on holds ----------------------------------------------------------

/**
 * The last check-out the booking horizon allows: `months` calendar months after
 * `today`, on the same day of the month or the month's last day when it has
 * none (31 Aug + 18 months = 28/29 Feb).
 */
export function bookingHorizonEnd(today: string, months: number): string {
  const [year, month, day] = today.split('-').map(Number) as [number, number, number];
  const index = year * 12 + (month - 1) + months;
  const lastDay = new Date(Date.UTC(Math.floor(index / 12), (index % 12) + 1, 0)).getUTCDate();
  const date = new Date(Date.UTC(Math.floor(index / 12), index % 12, Math.min(day, lastDay)));
  return date.toISOString().slice(0, 10);
}

/** The horizon's last check-out when the stay ends beyond it (422 beyond_booking_horizon), else undefined. */
export function beyondHorizon(stay: Pick<Stay, 'check_out'>, today: string, months: number): string | undefined {
  const end = bookingHorizonEnd(today, months);
  return stay.check_out > end ? end : undefined;
}

// Request-to-book -------------------------------------------------------------------

/**
 * Why a host's answer (accept or decline) to a booking is refused, or undefined
 * when it is a request still waiting for one: a request past its deadline is
 * `request_expired` (it reads as expired; the database's clock decided, see
 * db/bookings.ts effectiveStatus), anything else `booking_not_requested`
 * (answered, cancelled, or never a request: an instant booking's lapsed hold).
 */
export function requestAnswerRefusal(
  booking: { status: BookingStatus; requested_at: Date | null; responded_at: Date | null },
): 'request_expired' | 'booking_not_requested' | undefined {
  if (booking.status === 'requested') return undefined;
  if (booking.status === 'expired' && booking.requested_at !== null && booking.responded_at === null) return 'request_expired';
  return 'booking_not_requested';
}

/** The status a new booking starts in: pending (pay now) on an instant-bookable listing, requested otherwise. */
export function initialBookingStatus(listing: Pick<PropertyRow, 'instant_book'>): 'pending' | 'requested' {
  return listing.instant_book ? 'pending' : 'requested';
}
