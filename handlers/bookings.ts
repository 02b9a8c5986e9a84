/**
 * Bookings: a guest holds a property's nights with a pending booking, priced by
 * the server; a payment confirms it (db/bookings.ts confirmBooking); it reads as
 * completed from check-out; a pending or confirmed booking can be cancelled, with
 * the refund its property's policy allows.
 *
 * On a listing that is not instant-bookable the booking starts as `requested`:
 * its dates are held, nothing can be paid, and the listing's host accepts it
 * (-> pending, with a fresh hold) or declines it (-> declined) before its
 * deadline, or it expires. Each step notifies the other side by email (a
 * notification row in the transaction, its job after commit) and on the live
 * stream (server/events.ts, after commit). The database refuses any other
 * status change (trigger bookings_status_transition, migration 0900).
 *
 * Overlapping stays are refused by the database (the exclusion constraint
 * bookings_no_overlap, mapped to 409 dates_unavailable in server/errors.ts).
 * Who may see and change what is decided in ./access.ts; the price, the
 * listing's rules for a stay and the refund policy in ./bookings/rules.ts.
 */
import {
  acceptRequestedBooking,
  countLiveHolds,
  declineRequestedBooking,
  countUnpaidHoldsOfStay,
  expireLapsedHolds,
  findBlockedNights,
  findBookingById,
  insertPendingBooking,
  insertRequestedBooking,
  listBookings,
  lockBooking,
  lockGuest,
  lockListing,
  updateBookingRow,
} from '../db/bookings.js';
import { ensureConversation } from '../db/conversations.js';
import type { Tx } from '../db/index.js';
import { insertNotifications, type NotificationInput } from '../db/notifications.js';
import { findLivePayment } from '../db/payments.js';
import type { PropertyRow } from '../db/properties.js';
import type { Config } from '../server/config.js';
import { daysBetween, utcToday } from '../server/dates.js';
import { ApiError, invalidFields } from '../server/errors.js';
import { inIdempotentTransaction } from '../server/idempotency.js';
import type { JobRequest } from '../server/jobs/job.js';
import { caller, startJobs, type RequestContext, type ResourceHandlers } from '../server/operations.js';
import { notifyCancelled, recordCancellationRefund } from '../server/payments/settle.js';
import { decodeCursor, page } from '../server/pagination.js';
import {
  bookingsVisibleTo,
  cancellingParty,
  mayAnswerBookingRequest,
  mayCancelBooking,
  mayChangeBooking,
  mayViewBooking,
  permit,
} from './access.js';
import {
  beyondHorizon,
  cancellationRefund,
  initialBookingStatus,
  priceStay,
  requestAnswerRefusal,
  stayRuleViolations,
  type Stay,
} from './bookings/rules.js';
import { publishBookingUpdated } from './events.js';
import { bookingRowToBooking } from './presenters.js';
import type { Booking } from '../generated/client/types.gen.js';
import type { BookingWithListing } from '../db/bookings.js';

/** Emails owed for a change, as notification rows in its transaction; their jobs are started after commit. */
async function notify(trx: Tx, notifications: NotificationInput[]): Promise<JobRequest[]> {
  return (await insertNotifications(trx, notifications)).map((id) => ({ name: 'send-notification', id }));
}

/** The host's answer is only for a request still waiting for one (409 booking_not_requested / request_expired). */
function assertAwaitingAnswer(booking: BookingWithListing, answer: 'accepted' | 'declined'): void {
  const refusal = requestAnswerRefusal(booking);
  if (refusal === 'request_expired') {
    throw new ApiError('request_expired', `The request expired at ${booking.expires_at?.toISOString()}, before it was ${answer}; the guest may ask again.`);
  }
  if (refusal) throw new ApiError('booking_not_requested', `Only a requested booking can be ${answer}; this one is ${booking.status}.`);
}

/** check_out after check_in: a malformed request (400), not a rule of the listing. */
function assertDatesInOrder(stay: Pick<Stay, 'check_in' | 'check_out'>): void {
  if (stay.check_out <= stay.check_in) {
    throw invalidFields([{ path: 'body.check_out', message: 'must be after check_in' }], 'check_out must be after check_in.');
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
 * the listing's rules (422 booking_rule_violated, every broken one at once), then
 * blocked nights, then lapsed holds and unanswered requests written down so that
 * their nights are free for the exclusion constraint (with the jobs of the emails
 * the expired requests owe).
 */
async function priceCheckedStay(trx: Tx, listing: PropertyRow, stay: Stay, guestId: string, serviceFeeBasisPoints: number) {
  const problems = stayRuleViolations(listing, stay, guestId, utcToday());
  if (problems.length > 0) {
    const detail = problems.length === 1 && problems[0] ? `The stay breaks a rule of the listing: ${problems[0].path} ${problems[0].message}.` : undefined;
    throw new ApiError('booking_rule_violated', detail, problems);
  }
  await assertNoBlockedNights(trx, listing, stay);
  // Requests written down as expired here owe their guests an email.
  const expired = await expireLapsedHolds(trx, listing.id);
  return {
    price: priceStay(listing, daysBetween(stay.check_in, stay.check_out), serviceFeeBasisPoints),
    jobs: expired.map((id): JobRequest => ({ name: 'send-notification', id })),
  };
}

/** The booking horizon (422 beyond_booking_horizon): how far ahead a stay may end. */
function assertWithinHorizon(stay: Pick<Stay, 'check_out'>, months: number): void {
  const end = beyondHorizon(stay, utcToday(), months);
  if (end) {
    throw new ApiError('beyond_booking_horizon', `Stays can be booked to end up to ${months} months ahead, by ${end}.`, [
      { path: 'body.check_out', message: `must be on or before ${end}` },
    ]);
  }
}

/**
 * The limits on one guest's unpaid holds, checked under the guest's row lock so
 * that concurrent requests of one guest are counted one after another: at most
 * `maxPendingHolds` at once (409 too_many_holds), and at most `maxHoldsPerStay`
 * holds of overlapping dates of one listing within the renewal window, so that
 * cancelling or letting a hold lapse and holding again cannot keep a calendar
 * closed without paying (409 hold_renewal_limit).
 */
async function assertHoldLimits(trx: Tx, guestId: string, stay: Stay & { property_id: string }, config: Config): Promise<void> {
  await lockGuest(trx, guestId);
  const live = await countLiveHolds(trx, guestId);
  if (live >= config.maxPendingHolds) {
    throw new ApiError(
      'too_many_holds',
      `You already hold ${live} unpaid bookings, the most one guest may hold at once; pay for or cancel one of them first.`,
    );
  }
  const earlier = await countUnpaidHoldsOfStay(
    trx,
    { guestId, propertyId: stay.property_id, checkIn: stay.check_in, checkOut: stay.check_out },
    config.holdRenewalWindowSeconds,
  );
  if (earlier >= config.maxHoldsPerStay) {
    const hours = Math.round(config.holdRenewalWindowSeconds / 360) / 10;
    throw new ApiError(
      'hold_renewal_limit',
      `You have held these dates of this listing ${earlier} times without paying in the last ${hours} hours; they can be held again later, or booked and paid by someone else meanwhile.`,
    );
  }
}

const NO_SUCH_BOOKING = 'No such booking.';

/**
 * After a booking's change has committed, the one way every writer ends: start the jobs
 * it owes, drop its listing's cached calendar, and tell its guest and host.
 */
async function bookingChanged(ctx: RequestContext, booking: { id: string; property_id: string }, jobs: JobRequest[]): Promise<void> {
  await startJobs(ctx, jobs);
  await ctx.deps.cache.bump({ property: booking.property_id, stays: true });
  await publishBookingUpdated(ctx, booking.id);
}

type BookingOperation =
  | 'createBooking' | 'getBooking' | 'listBookings' | 'updateBooking' | 'cancelBooking' | 'acceptBooking' | 'declineBooking';

export const bookingHandlers: ResourceHandlers<BookingOperation> = {
  async createBooking({ body, headers }, ctx) {
    const auth = caller(ctx);
    const { db, config } = ctx.deps;
    assertDatesInOrder(body);
    assertWithinHorizon(body, config.bookingHorizonMonths);
    // Set only when the work ran (not on an idempotent replay): the jobs it owes and whom to tell.
    let done: { jobs: JobRequest[] } | undefined;
    const reply = await inIdempotentTransaction(
      db,
      { userId: auth.id, operation: 'createBooking', key: headers['idempotency-key'], request: body },
      async (trx) => {
        // The guest first, then the listing: every createBooking takes them in this order.
        await assertHoldLimits(trx, auth.id, body, config);
        const listing = await lockListing(trx, body.property_id);
        if (!listing) throw new ApiError('not_found', 'No such property.');
        const { price, jobs } = await priceCheckedStay(trx, listing, body, auth.id, config.serviceFeeBasisPoints);
        const stay = { property_id: listing.id, guest_id: auth.id, check_in: body.check_in, check_out: body.check_out, guests: body.guests, ...price };
        const row = initialBookingStatus(listing) === 'pending'
          ? await insertPendingBooking(trx, stay, config.bookingHoldSeconds)
          : await insertRequestedBooking(trx, stay, config.requestExpiryHours * 3600);
        const owed = row.status === 'requested'
          ? await notify(trx, [{ kind: 'booking_requested', recipientId: listing.host_id, bookingId: row.id }])
          : [];
        // The guest's thread with the host about this listing, made or linked to this booking.
        await ensureConversation(trx, { guestId: auth.id, propertyId: listing.id, bookingId: row.id });
        done = { jobs: [...jobs, ...owed] };
        return { status: 201 as const, body: bookingRowToBooking(row), headers: { Location: `/bookings/${row.id}` } };
      },
    );
    if (done) await bookingChanged(ctx, reply.body, done.jobs);
    // A replay: nothing new to start or tell; the listing's cache is dropped as on the first answer.
    else await ctx.deps.cache.bump({ property: body.property_id, stays: true });
    return reply;
  },

  async getBooking({ path }, ctx) {
    const row = permit(mayViewBooking(caller(ctx), await findBookingById(ctx.deps.db, path.booking_id)));
    return { status: 200, body: bookingRowToBooking(row) };
  },

  async listBookings({ query }, ctx) {
    const auth = caller(ctx);
    const limit = query.limit ?? 20;
    const after = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const rows = await listBookings(ctx.deps.db, {
      ...bookingsVisibleTo(auth, query.role),
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
      const current = permit(mayChangeBooking(auth, await findBookingById(trx, path.booking_id)));
      const stay: Stay = {
        check_in: body.check_in ?? current.check_in,
        check_out: body.check_out ?? current.check_out,
        guests: body.guests ?? current.guests,
      };
      assertDatesInOrder(stay);
      assertWithinHorizon(stay, config.bookingHorizonMonths);
      // The listing first, then the booking: the same order as createBooking, so two writers never deadlock.
      const listing = await lockListing(trx, current.property_id);
      const booking = await lockBooking(trx, current.id);
      if (!booking) throw new ApiError('not_found', NO_SUCH_BOOKING);
      // A request is refused too: the host answers the stay that was asked for.
      if (booking.status !== 'pending') {
        throw new ApiError('invalid_state', `Only a pending booking can be changed; this one is ${booking.status}.`);
      }
      if (!listing) throw new ApiError('invalid_state', 'The property has been withdrawn; this booking can only be cancelled.');
      // Price and dates are frozen while a payment is in flight: the provider was asked for this total,
      // and its success must confirm the stay it was asked for (finding: pay for 1 night, stay for 29).
      const payment = await findLivePayment(trx, booking.id);
      if (payment) {
        throw new ApiError(
          'payment_in_progress',
          payment.status === 'pending'
            ? `Payment ${payment.id} of this booking is waiting for the provider's outcome; the booking cannot change until it is settled. Cancel the booking to book other dates.`
            : `Payment ${payment.id} of this booking has been settled; the booking cannot change.`,
        );
      }
      const { price, jobs } = await priceCheckedStay(trx, listing, stay, auth.id, config.serviceFeeBasisPoints);
      const row = await updateBookingRow(trx, booking.id, { ...stay, ...price });
      return { reply: { status: 200 as const, body: bookingRowToBooking(row) }, jobs };
    }).then(async ({ reply, jobs }) => {
      await bookingChanged(ctx, reply.body, jobs);
      return reply;
    });
  },

  async cancelBooking({ path, body }, ctx) {
    const auth = caller(ctx);
    const { value: row, jobs } = await ctx.deps.db.transaction().execute(async (trx) => {
      const booking = permit(mayCancelBooking(auth, await lockBooking(trx, path.booking_id)));
      if (booking.status !== 'requested' && booking.status !== 'pending' && booking.status !== 'confirmed') {
        throw new ApiError('invalid_state', `Only a requested, pending or confirmed booking can be cancelled; this one is ${booking.status}.`);
      }
      // What the policy sends back of what was paid; the refund job sends it (server/payments/settle.ts).
      const payment = await findLivePayment(trx, booking.id);
      const decision = cancellationRefund({
        booking,
        policy: booking.cancellation_policy,
        cancelledBy: cancellingParty(auth, booking),
        today: utcToday(),
        payment,
      });
      const refund = await recordCancellationRefund(trx, booking, payment, decision);
      const cancelled = await updateBookingRow(trx, booking.id, {
        status: 'cancelled',
        expires_at: null,
        cancelled_at: new Date(),
        cancelled_by: auth.id,
        cancellation_reason: body?.reason ?? null,
        ...refund.value,
      });
      // A request the guest withdraws is news to the host, who was asked to answer it.
      const toHost = booking.status === 'requested' && booking.guest_id === auth.id
        ? await notify(trx, [{ kind: 'booking_cancelled', recipientId: booking.host_id, bookingId: booking.id }])
        : [];
      return { value: cancelled, jobs: [...refund.jobs, ...(await notifyCancelled(trx, cancelled)), ...toHost] };
    });
    await bookingChanged(ctx, row, jobs);
    return { status: 200, body: bookingRowToBooking(row) };
  },

  async acceptBooking({ path }, ctx) {
    const auth = caller(ctx);
    const { db, config } = ctx.deps;
    const { row, jobs } = await db.transaction().execute(async (trx) => {
      // Locked, and its deadline judged under the lock: the sweep's expiry of the same row either
      // committed first (this reads it expired: 409 request_expired) or waits and then finds it pending.
      const booking = permit(mayAnswerBookingRequest(auth, await lockBooking(trx, path.booking_id)));
      assertAwaitingAnswer(booking, 'accepted');
      const accepted = await acceptRequestedBooking(trx, booking.id, config.bookingHoldSeconds);
      const owed = await notify(trx, [{ kind: 'booking_accepted', recipientId: booking.guest_id, bookingId: booking.id }]);
      return { row: accepted, jobs: owed };
    });
    // Its bump matters: the calendar's cached answer lived until the request's deadline; the hold now lapses sooner.
    await bookingChanged(ctx, row, jobs);
    return { status: 200, body: bookingRowToBooking(row) };
  },

  async declineBooking({ path, body: input }, ctx) {
    const auth = caller(ctx);
    const { row, jobs } = await ctx.deps.db.transaction().execute(async (trx) => {
      const booking = permit(mayAnswerBookingRequest(auth, await lockBooking(trx, path.booking_id)));
      assertAwaitingAnswer(booking, 'declined');
      const declined = await declineRequestedBooking(trx, booking.id, input.reason);
      const owed = await notify(trx, [{ kind: 'booking_declined', recipientId: booking.guest_id, bookingId: booking.id }]);
      return { row: declined, jobs: owed };
    });
    await bookingChanged(ctx, row, jobs);
    return { status: 200, body: bookingRowToBooking(row) };
  },
};
