/**
 * handlers/bookings/rules.ts on tables of cases: pricing, the listing's rules
 * for a stay, and the whole cancellation-refund policy (the policy's share,
 * nothing paid, nothing due, the cap at what is left of the payment, and the
 * payment's status once a refund succeeds). Pure functions: no server, no database.
 */
import { describe, expect, it } from 'vitest';
import {
  initialBookingStatus,
  requestAnswerRefusal,
  beyondHorizon,
  bookingHorizonEnd,
  cancellationRefund,
  chargeMismatch,
  guestRefundShare,
  paymentStatusAfterRefund,
  percentOf,
  priceStay,
  refundFor,
  stayRuleViolations,
  unspentNights,
  type CancellationPolicy,
  type CancellingParty,
} from '../handlers/bookings/rules.js';
import { addDays } from '../server/dates.js';

describe('percentOf', () => {
  it.each([
    [39_000, 1_000, 3_900],
    [12_345, 1_000, 1_235], // 1234.5 rounds up
    [12_344, 1_000, 1_234], // 1234.4 rounds down
    [1, 5_000, 1], // 0.5 rounds up
    [0, 1_000, 0],
    [41_000, 10_000, 41_000], // the whole of it
    [41_000, 0, 0],
    [365_000_000 + 1_000_000, 10_000, 366_000_000], // the largest stay's refundable part, whole
  ])('%i x %i bp = %i', (amount, basisPoints, expected) => {
    expect(percentOf(amount, basisPoints)).toBe(expected);
  });
});

describe('priceStay', () => {
  it.each([
    // rate, cleaning, nights, fee bp -> subtotal, service fee, total
    [12_345, 2_500, 3, 1_000, 37_035, 3_954, 43_489],
    [9_500, 3_000, 2, 1_000, 19_000, 2_200, 24_200],
    [10_000, 0, 1, 0, 10_000, 0, 10_000],
    [28_000, 5_000, 2, 1_250, 56_000, 7_625, 68_625],
    [1, 0, 1, 5_000, 1, 1, 2], // half a minor unit of fee rounds up
    [1_000_000, 1_000_000, 365, 1_000, 365_000_000, 36_600_000, 402_600_000],
  ])('%i/night + %i cleaning for %i nights at %i bp', (rate, cleaning, nights, fee, subtotal, serviceFee, total) => {
    expect(priceStay({ price_per_night: rate, cleaning_fee: cleaning, currency: 'EUR' }, nights, fee)).toEqual({
      nights,
      nightly_rate: rate,
      subtotal,
      cleaning_fee: cleaning,
      service_fee: serviceFee,
      total,
      currency: 'EUR',
    });
    expect(total).toBeLessThan(2 ** 31);
  });
});

describe('stayRuleViolations', () => {
  const today = '2027-03-01';
  const listing = { host_id: 'host', min_nights: 2, max_nights: 5, max_guests: 3 };
  const stay = (checkIn: number, nights: number, guests = 2) => ({ check_in: addDays(today, checkIn), check_out: addDays(today, checkIn + nights), guests });
  it.each([
    ['a stay that keeps every rule', stay(1, 2), 'guest', []],
    ['today is not the past', stay(0, 5), 'guest', []],
    ['the host booking their own listing', stay(1, 2), 'host', ['body.property_id']],
    ['a stay starting yesterday', stay(-1, 2), 'guest', ['body.check_in']],
    ['too few nights', stay(1, 1), 'guest', ['body.check_out']],
    ['too many nights', stay(1, 6), 'guest', ['body.check_out']],
    ['too many guests', stay(1, 2, 4), 'guest', ['body.guests']],
    ['every rule at once', stay(-3, 1, 9), 'host', ['body.property_id', 'body.check_in', 'body.check_out', 'body.guests']],
  ])('%s', (_what, candidate, guestId, paths) => {
    expect(stayRuleViolations(listing, candidate, guestId, today).map((problem) => problem.path)).toEqual(paths);
  });
});

describe('the cancellation-refund policy', () => {
  const today = '2027-03-01';
  // total 45 100 of which service fee 4 100: 41 000 refundable by the policy.
  // A 3-night stay at 12 000 a night, cleaning 5 000.
  const bookingAt = (daysBefore: number) => ({
    total: 45_100,
    service_fee: 4_100,
    nightly_rate: 12_000,
    check_in: addDays(today, daysBefore),
    check_out: addDays(today, daysBefore + 3),
  });

  it.each<[CancellationPolicy, number, number]>([
    ['flexible', 30, 10_000],
    ['flexible', 1, 10_000],
    ['flexible', 0, 0],
    ['flexible', -2, 0],
    ['moderate', 5, 10_000],
    ['moderate', 4, 5_000],
    ['moderate', 1, 5_000],
    ['moderate', 0, 0], // from check-in day on, the stay-begun rule applies instead
    ['strict', 30, 5_000],
    ['strict', 7, 5_000],
    ['strict', 6, 0],
    ['strict', 0, 0],
  ])('%s, %i days before check-in, returns %i bp to the guest', (policy, daysBefore, share) => {
    expect(guestRefundShare(policy, daysBefore)).toBe(share);
  });

  it.each<[CancellationPolicy, number, CancellingParty, number]>([
    ['flexible', 1, 'guest', 41_000],
    ['flexible', 0, 'guest', 0],
    ['moderate', 5, 'guest', 41_000],
    ['moderate', 4, 'guest', 20_500],
    ['strict', 7, 'guest', 20_500],
    ['strict', 6, 'guest', 0],
    // The host or an admin refunds everything, the service fee too, whenever they cancel.
    ['strict', 0, 'host_or_admin', 45_100],
    ['flexible', -1, 'host_or_admin', 45_100],
  ])('%s, %i days before, cancelled by %s: %i', (policy, daysBefore, party, amount) => {
    expect(refundFor(bookingAt(daysBefore), policy, party, today)).toBe(amount);
  });

  it('rounds a half share of an odd amount half up', () => {
    expect(refundFor({ total: 10_101, service_fee: 100, nightly_rate: 10_001, check_in: addDays(today, 2), check_out: addDays(today, 3) }, 'moderate', 'guest', today)).toBe(5_001);
  });

  // Once the stay has begun nothing of the nights passed, of tonight, of cleaning or of the service fee goes back.
  // A 10-night stay at 12 000 a night (total 137 500: subtotal 120 000, cleaning 5 000, fee 12 500) that began `daysIn` days ago.
  const stayBegun = (daysIn: number) => ({
    total: 137_500,
    service_fee: 12_500,
    nightly_rate: 12_000,
    check_in: addDays(today, -daysIn),
    check_out: addDays(today, 10 - daysIn),
  });
  it.each<[CancellationPolicy, number, number, number]>([
    // policy, days since check-in, nights still to come after tonight, refund
    ['moderate', 0, 9, 54_000], // check-in day: half of the 9 nights after tonight
    ['moderate', 5, 4, 24_000],
    ['moderate', 9, 0, 0], // the last night: nothing (it returned half of the whole stay before)
    ['flexible', 0, 9, 0],
    ['flexible', 5, 4, 0],
    ['strict', 0, 9, 0],
    ['strict', 9, 0, 0],
  ])('%s, cancelled by the guest %i days into the stay (%i nights to come), returns %i', (policy, daysIn, toCome, amount) => {
    expect(unspentNights(stayBegun(daysIn), today)).toBe(toCome);
    expect(refundFor(stayBegun(daysIn), policy, 'guest', today)).toBe(amount);
  });

  it('still refunds everything when the host or an admin cancels during the stay', () => {
    expect(refundFor(stayBegun(9), 'strict', 'host_or_admin', today)).toBe(137_500);
  });

  const paid = { status: 'succeeded' as const, amount: 45_100, refunded_amount: 0 };
  it.each([
    ['no payment at all', undefined, 'host_or_admin', { kind: 'none' }],
    ['a payment still in flight', { ...paid, status: 'pending' as const }, 'host_or_admin', { kind: 'none' }],
    ['a declined payment', { ...paid, status: 'failed' as const }, 'host_or_admin', { kind: 'none' }],
    ['a paid stay the policy returns nothing of', paid, 'guest', { kind: 'nothing_due' }],
    ['a paid stay cancelled by the host', paid, 'host_or_admin', { kind: 'send', amount: 45_100 }],
    ['a charge that did not match the booking (refunded on its own)', { ...paid, settlement_issue: 'amount_mismatch' as const }, 'host_or_admin', { kind: 'none' }],
    ['a paid stay of which 40 000 went back already: capped at what is left', { ...paid, status: 'partially_refunded' as const, refunded_amount: 40_000 }, 'host_or_admin', { kind: 'send', amount: 5_100 }],
  ] as const)('%s', (_what, payment, party, expected) => {
    // strict, 3 days before check-in: a guest gets nothing back.
    expect(cancellationRefund({ booking: bookingAt(3), policy: 'strict', cancelledBy: party, today, payment })).toEqual(expected);
  });

  it.each([
    [{ amount: 45_100, refunded_amount: 0 }, 45_100, 'refunded'],
    [{ amount: 45_100, refunded_amount: 0 }, 41_000, 'partially_refunded'],
    [{ amount: 45_100, refunded_amount: 41_000 }, 4_100, 'refunded'],
    [{ amount: 45_100, refunded_amount: 4_100 }, 1, 'partially_refunded'],
  ] as const)('a payment of %o after a refund of %i is %s', (payment, amount, status) => {
    expect(paymentStatusAfterRefund(payment, amount)).toBe(status);
  });
});

describe('the booking horizon', () => {
  it.each([
    ['2026-11-30', 18, '2028-05-30'],
    ['2026-08-31', 18, '2028-02-29'], // no 31 February: the month's last day (2028 is a leap year)
    ['2026-08-31', 6, '2027-02-28'],
    ['2026-01-15', 1, '2026-02-15'],
    ['2026-12-31', 12, '2027-12-31'],
  ])('from %s, %i months, ends on %s', (today, months, end) => {
    expect(bookingHorizonEnd(today, months)).toBe(end);
  });

  it.each([
    ['2028-05-30', undefined],
    ['2028-05-31', '2028-05-30'],
    ['9999-12-31', '2028-05-30'],
  ])('a stay ending %s is beyond it: %s', (checkOut, expected) => {
    expect(beyondHorizon({ check_out: checkOut }, '2026-11-30', 18)).toBe(expected);
  });
});

describe('chargeMismatch: what a reported charge must be to confirm its booking', () => {
  const payment = { amount: 45_100, currency: 'EUR' };
  const booking = { total: 45_100, currency: 'EUR' };
  it.each([
    ['exactly the total', { amount: 45_100, currency: 'EUR' }, payment, booking, undefined],
    ['lower case currency, as Stripe writes it', { amount: 45_100, currency: 'eur' }, payment, booking, undefined],
    ['one cent (a forged event)', { amount: 1, currency: 'EUR' }, payment, booking, 'amount_mismatch'],
    ['more than asked', { amount: 45_101, currency: 'EUR' }, payment, booking, 'amount_mismatch'],
    ['another currency', { amount: 45_100, currency: 'USD' }, payment, booking, 'currency_mismatch'],
    // Paid for one night, then the booking was stretched to 29 while the payment was in flight.
    ['what was asked, but the booking changed since', { amount: 45_100, currency: 'EUR' }, payment, { total: 396_000, currency: 'EUR' }, 'amount_mismatch'],
  ] as const)('%s', (_what, received, pay, book, expected) => {
    expect(chargeMismatch(received, pay, book)).toBe(expected);
  });
});

describe('request-to-book', () => {
  it('starts a booking pending on an instant-bookable listing and requested otherwise', () => {
    expect(initialBookingStatus({ instant_book: true })).toBe('pending');
    expect(initialBookingStatus({ instant_book: false })).toBe('requested');
  });

  const at = new Date('2026-12-01T10:00:00Z');
  it.each([
    ['a request waiting for its answer', { status: 'requested', requested_at: at, responded_at: null }, undefined],
    ['a request past its deadline', { status: 'expired', requested_at: at, responded_at: null }, 'request_expired'],
    ['an accepted request (pending)', { status: 'pending', requested_at: at, responded_at: at }, 'booking_not_requested'],
    ['an accepted request whose hold lapsed', { status: 'expired', requested_at: at, responded_at: at }, 'booking_not_requested'],
    ['a declined request', { status: 'declined', requested_at: at, responded_at: at }, 'booking_not_requested'],
    ['a cancelled request', { status: 'cancelled', requested_at: at, responded_at: null }, 'booking_not_requested'],
    ['an instant booking', { status: 'pending', requested_at: null, responded_at: null }, 'booking_not_requested'],
    ['an instant booking\'s lapsed hold', { status: 'expired', requested_at: null, responded_at: null }, 'booking_not_requested'],
    ['a confirmed stay', { status: 'confirmed', requested_at: at, responded_at: at }, 'booking_not_requested'],
  ] as const)('answers %s with %s', (_, booking, refusal) => {
    expect(requestAnswerRefusal(booking)).toBe(refusal);
  });
});
