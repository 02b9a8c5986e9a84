/**
 * Bookings: a guest holds a property's nights with a pending booking, priced by
 * the server; a payment confirms it (db/bookings.ts confirmBooking); it reads as
 * completed from check-out; a pending or confirmed booking can be cancelled, with
 * the refund its property's policy allows.
 *
 * Overlapping stays are refused by the database (the exclusion constraint
 * bookings_no_overlap, mapped to 409 dates_unavailable in server/errors.ts);
 * this file checks the rules a listing sets and who may see and change what.
 */
import {
  expireLapsedHolds,
  findBlockedNights,
  findBookingById,
  insertPendingBooking,
  listBookings,
  lockBooking,
  lockListing,
  updateBookingRow,
  type BookingRow,
} from '../db/bookings.js';
import type { Tx } from '../db/index.js';
import type { PropertyRow } from '../db/properties.js';
import type { Booking, PriceBreakdown } from '../generated/client/types.gen.js';
import { isAdmin, type AuthUser } from '../server/auth.js';
import { daysBetween, utcToday } from '../server/dates.js';
import { ApiError, invalidFields, type FieldError } from '../server/errors.js';
import { inIdempotentTransaction } from '../server/idempotency.js';
import { caller, startJobs, type ResourceHandlers } from '../server/operations.js';
import { notifyCancelled, refundForCancellation } from '../server/payments/settle.js';
import { decodeCursor, page } from '../server/pagination.js';

export function bookingRowToBooking(row: BookingRow): Booking {
  const currency = row.currency as PriceBreakdown['currency'];
  return {
    id: row.id,
    property_id: row.property_id,
    guest_id: row.guest_id,
    check_in: row.check_in,
    check_out: row.check_out,
    guests: row.guests,
    status: row.status,
    price: {
      nights: row.nights,
      nightly_rate: row.nightly_rate,
      subtotal: row.subtotal,
      cleaning_fee: row.cleaning_fee,
      service_fee: row.service_fee,
      total: row.total,
      currency,
    },
    expires_at: row.expires_at?.toISOString() ?? null,
    cancelled_at: row.cancelled_at?.toISOString() ?? null,
    cancelled_by: row.cancelled_by,
    cancellation_reason: row.cancellation_reason,
    refund:
      row.refund_amount === null || row.refund_status === null
        ? null
        : { amount: row.refund_amount, currency, status: row.refund_status as 'pending' | 'succeeded' | 'failed' },
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

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

export type CancellationPolicy = 'flexible' | 'moderate' | 'strict';

/**
 * What a paid booking refunds when cancelled (the CancellationPolicy schema of
 * the spec): the host or an admin refunds the whole total; the guest gets the
 * policy's share of the total minus the service fee, by days before check-in.
 */
export function refundFor(
  booking: Pick<BookingRow, 'total' | 'service_fee' | 'check_in'>,
  policy: CancellationPolicy,
  cancelledBy: 'guest' | 'host_or_admin',
  today: string,
): number {
  if (cancelledBy === 'host_or_admin') return booking.total;
  const refundable = booking.total - booking.service_fee;
  const daysBefore = daysBetween(today, booking.check_in);
  switch (policy) {
    case 'flexible':
      return daysBefore >= 1 ? refundable : 0;
    case 'moderate':
      return daysBefore >= 5 ? refundable : percentOf(refundable, 5_000);
    case 'strict':
      return daysBefore >= 7 ? percentOf(refundable, 5_000) : 0;
  }
}

// Rules ----------------------------------------------------------------------

interface Stay {
  check_in: string;
  check_out: string;
  guests: number;
}

/** check_out after check_in: a malformed request (400), not a rule of the listing. */
function assertDatesInOrder(stay: Pick<Stay, 'check_in' | 'check_out'>): void {
  if (stay.check_out <= stay.check_in) {
    throw invalidFields([{ path: 'body.check_out', message: 'must be after check_in' }], 'check_out must be after check_in.');
  }
}

/** The listing's rules for a stay (422 booking_rule_violated), every broken one at once. */
function assertStayFitsListing(listing: PropertyRow, stay: Stay, guest: AuthUser): void {
  const problems: FieldError[] = [];
  const today = utcToday();
  if (listing.host_id === guest.id) problems.push({ path: 'body.property_id', message: 'is your own listing; hosts cannot book their own property' });
  if (stay.check_in < today) problems.push({ path: 'body.check_in', message: `must not be in the past (today is ${today} UTC)` });
  const nights = daysBetween(stay.check_in, stay.check_out);
  if (nights < listing.min_nights) problems.push({ path: 'body.check_out', message: `the stay must be at least ${listing.min_nights} nights` });
  if (nights > listing.max_nights) problems.push({ path: 'body.check_out', message: `the stay must be at most ${listing.max_nights} nights` });
  if (stay.guests > listing.max_guests) problems.push({ path: 'body.guests', message: `must be <= ${listing.max_guests} (the property's max_guests)` });
  if (problems.length > 0) {
    const detail = problems.length === 1 && problems[0] ? `The stay breaks a rule of the listing: ${problems[0].path} ${problems[0].message}.` : undefined;
    throw new ApiError('booking_rule_violated', detail, problems);
  }
}

/** Nights the host blocked are not free: the same answer as an overlapping stay. */
async function assertNoBlockedNights(trx: Tx, listing: PropertyRow, stay: Stay): Promise<void> {
  const blocked = await findBlockedNights(trx, listing.id, stay.check_in, stay.check_out);
  if (blocked.length > 0) {
    throw new ApiError('dates_unavailable', `The host has blocked ${blocked.length === 1 ? 'the night of' : 'the nights of'} ${blocked.join(', ')}.`);
  }
}

/**
 * A stay checked and priced against its listing, under the listing's lock:
 * the rules, then blocked nights, then lapsed holds written down so that their
 * nights are free for the exclusion constraint.
 */
async function priceCheckedStay(trx: Tx, listing: PropertyRow, stay: Stay, guest: AuthUser, serviceFeeBasisPoints: number) {
  assertStayFitsListing(listing, stay, guest);
  await assertNoBlockedNights(trx, listing, stay);
  await expireLapsedHolds(trx, listing.id);
  return priceStay(listing, daysBetween(stay.check_in, stay.check_out), serviceFeeBasisPoints);
}

/** Its guest, the host of its property and admins see a booking; to anyone else it does not exist. */
export function canSeeBooking(booking: { guest_id: string; host_id: string }, auth: AuthUser): boolean {
  return booking.guest_id === auth.id || booking.host_id === auth.id || isAdmin(auth);
}

const NO_SUCH_BOOKING = 'No such booking.';

export const bookingHandlers: ResourceHandlers<'createBooking' | 'getBooking' | 'listBookings' | 'updateBooking' | 'cancelBooking'> = {
  async createBooking({ body, headers }, ctx) {
    const auth = caller(ctx);
    const { db, config } = ctx.deps;
    assertDatesInOrder(body);
    return inIdempotentTransaction(
      db,
      { userId: auth.id, operation: 'createBooking', key: headers['idempotency-key'], request: body },
      async (trx) => {
        const listing = await lockListing(trx, body.property_id);
        if (!listing) throw new ApiError('not_found', 'No such property.');
        const price = await priceCheckedStay(trx, listing, body, auth, config.serviceFeeBasisPoints);
        const row = await insertPendingBooking(
          trx,
          { property_id: listing.id, guest_id: auth.id, check_in: body.check_in, check_out: body.check_out, guests: body.guests, ...price },
          config.bookingHoldSeconds,
        );
        return { status: 201 as const, body: bookingRowToBooking(row), headers: { Location: `/bookings/${row.id}` } };
      },
    );
  },

  async getBooking({ path }, ctx) {
    const row = await findBookingById(ctx.deps.db, path.booking_id);
    if (!row || !canSeeBooking(row, caller(ctx))) throw new ApiError('not_found', NO_SUCH_BOOKING);
    return { status: 200, body: bookingRowToBooking(row) };
  },

  async listBookings({ query }, ctx) {
    const auth = caller(ctx);
    const limit = query.limit ?? 20;
    const after = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const side = isAdmin(auth) ? {} : query.role === 'host' ? { hostId: auth.id } : { guestId: auth.id };
    const rows = await listBookings(ctx.deps.db, {
      ...side,
      status: query.status,
      after: after ? { createdAt: after[0] as string, id: after[1] as string } : undefined,
      limit,
    });
    return { status: 200, body: page(rows, limit, bookingRowToBooking, (row) => [row.created_at.toISOString(), row.id]) };
  },

  async updateBooking({ path, body }, ctx) {
    const auth = caller(ctx);
    const { db, config } = ctx.deps;
    return db.transaction().execute(async (trx) => {
      const current = await findBookingById(trx, path.booking_id);
      if (!current || !canSeeBooking(current, auth)) throw new ApiError('not_found', NO_SUCH_BOOKING);
      if (current.guest_id !== auth.id) throw new ApiError('forbidden', 'Only the guest who booked may change a booking.');
      const stay: Stay = {
        check_in: body.check_in ?? current.check_in,
        check_out: body.check_out ?? current.check_out,
        guests: body.guests ?? current.guests,
      };
      assertDatesInOrder(stay);
      // The listing first, then the booking: the same order as createBooking, so two writers never deadlock.
      const listing = await lockListing(trx, current.property_id);
      const booking = await lockBooking(trx, current.id);
      if (!booking) throw new ApiError('not_found', NO_SUCH_BOOKING);
      if (booking.status !== 'pending') {
        throw new ApiError('invalid_state', `Only a pending booking can be changed; this one is ${booking.status}.`);
      }
      if (!listing) throw new ApiError('invalid_state', 'The property has been withdrawn; this booking can only be cancelled.');
      const price = await priceCheckedStay(trx, listing, stay, auth, config.serviceFeeBasisPoints);
      const row = await updateBookingRow(trx, booking.id, { ...stay, ...price });
      return { status: 200, body: bookingRowToBooking(row) };
    });
  },

  async cancelBooking({ path, body }, ctx) {
    const auth = caller(ctx);
    const { value: row, jobs } = await ctx.deps.db.transaction().execute(async (trx) => {
      const booking = await lockBooking(trx, path.booking_id);
      if (!booking || !canSeeBooking(booking, auth)) throw new ApiError('not_found', NO_SUCH_BOOKING);
      if (booking.status !== 'pending' && booking.status !== 'confirmed') {
        throw new ApiError('invalid_state', `Only a pending or confirmed booking can be cancelled; this one is ${booking.status}.`);
      }
      // What the policy allows back of what was paid; the refund job sends it (server/payments/settle.ts).
      const byGuest = booking.guest_id === auth.id && !isAdmin(auth);
      const amount = refundFor(booking, booking.cancellation_policy as CancellationPolicy, byGuest ? 'guest' : 'host_or_admin', utcToday());
      const refund = await refundForCancellation(trx, booking, amount);
      const cancelled = await updateBookingRow(trx, booking.id, {
        status: 'cancelled',
        expires_at: null,
        cancelled_at: new Date(),
        cancelled_by: auth.id,
        cancellation_reason: body?.reason ?? null,
        ...refund.value,
      });
      return { value: cancelled, jobs: [...refund.jobs, ...(await notifyCancelled(trx, cancelled))] };
    });
    await startJobs(ctx, jobs);
    return { status: 200, body: bookingRowToBooking(row) };
  },
};
