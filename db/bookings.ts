/**
 * Queries on bookings and on the nights hosts block. Each takes the database or
 * a transaction first.
 *
 * Two clocks are never mixed: whether a hold has lapsed and whether a stay is
 * over are decided here, in SQL, by the database's clock, so every server process
 * agrees. The stored `status` may lag behind (a sweep writes it down); every read
 * goes through `effectiveStatus`, so a client never sees the lag.
 */
import { sql, type Insertable, type Selectable, type SqlBool, type Updateable } from 'kysely';
import type { Db, Tx } from './index.js';
import type { BookingStatus } from '../generated/client/types.gen.js';
import type { Bookings, Properties } from '../generated/db.js';

/** host_id is left out: it is the listing's host, copied for bookings_host_idx (migration 1400); read the listing's. */
export type BookingRow = Omit<Selectable<Bookings>, 'host_id'>;

/** The UTC date of the database's clock: "today" of the spec. */
export const today = sql<string>`(now() at time zone 'utc')::date`;

/**
 * The status a client sees: a lapsed hold or a request unanswered past its
 * deadline is expired, and a paid stay past its check-out completed.
 */
export const effectiveStatus = sql<BookingStatus>`(case
  when bookings.status in ('requested', 'pending') and bookings.expires_at <= now() then 'expired'
  when bookings.status = 'confirmed' and bookings.check_out <= ${today} then 'completed'
  else bookings.status end)`;

/**
 * Stays whose nights are taken: a request waiting for its host (until its
 * deadline), an unpaid hold (until it lapses), a paid stay. The `status in (...)`
 * term is the predicate of the exclusion constraint's index and of
 * bookings_live_stays_idx, so the planner can use them here.
 */
const holdsItsDates = sql<SqlBool>`(bookings.status in ('requested', 'pending', 'confirmed')
  and (bookings.status = 'confirmed' or bookings.expires_at > now()))`;

function overlaps(checkIn: string, checkOut: string) {
  return sql<SqlBool>`daterange(bookings.check_in, bookings.check_out, '[)') && daterange(${checkIn}::date, ${checkOut}::date, '[)')`;
}

/** Every stored column but `status`, which is read through effectiveStatus instead. */
const bookingColumns = [
  'bookings.id', 'bookings.property_id', 'bookings.guest_id', 'bookings.check_in', 'bookings.check_out', 'bookings.guests',
  'bookings.nights', 'bookings.nightly_rate', 'bookings.subtotal', 'bookings.cleaning_fee', 'bookings.service_fee',
  'bookings.total', 'bookings.currency', 'bookings.expires_at', 'bookings.confirmed_at', 'bookings.cancelled_at',
  'bookings.cancelled_by', 'bookings.cancellation_reason', 'bookings.refund_amount', 'bookings.refund_status',
  'bookings.requested_at', 'bookings.responded_at', 'bookings.decline_reason', 'bookings.created_at', 'bookings.updated_at',
] as const;

function selectBookings(db: Db | Tx) {
  return db.selectFrom('bookings').select(bookingColumns).select(effectiveStatus.as('status'));
}

/** A booking with what deciding about it takes from its listing: who hosts it and the policy its refund follows. */
export type BookingWithListing = BookingRow & Pick<Selectable<Properties>, 'host_id' | 'cancellation_policy'>;

function selectBookingWithListing(db: Db | Tx, id: string) {
  return selectBookings(db)
    .innerJoin('properties', 'properties.id', 'bookings.property_id')
    .select(['properties.host_id', 'properties.cancellation_policy'])
    .where('bookings.id', '=', id);
}

export async function findBookingById(db: Db | Tx, id: string): Promise<BookingWithListing | undefined> {
  return selectBookingWithListing(db, id).executeTakeFirst();
}

/** Who booked a booking (its guest), or undefined when there is no such booking. */
export async function findBookingGuestId(db: Db | Tx, id: string): Promise<string | undefined> {
  return (await db.selectFrom('bookings').select('guest_id').where('id', '=', id).executeTakeFirst())?.guest_id;
}

/** The booking, locked until the transaction ends, so a concurrent change waits for this one. */
export async function lockBooking(trx: Tx, id: string): Promise<BookingWithListing | undefined> {
  return selectBookingWithListing(trx, id).forUpdate('bookings').executeTakeFirst();
}

/**
 * A listed property, locked against concurrent bookings, blocks, edits and
 * withdrawal of the same listing until the transaction ends. This orders the
 * writers of one calendar, so a block and a booking of the same night cannot
 * both succeed and a booking is always checked against the listing's current
 * rules. Overlapping stays are refused by the exclusion constraint regardless.
 * (NO KEY UPDATE: inserting bookings that reference the row is not blocked.)
 */
export async function lockListing(trx: Tx, propertyId: string): Promise<Selectable<Properties> | undefined> {
  return trx
    .selectFrom('properties')
    .selectAll()
    .where('id', '=', propertyId)
    .where('deleted_at', 'is', null)
    .forNoKeyUpdate()
    .executeTakeFirst();
}

/**
 * Requests past their deadline written down as expired, each with the
 * notification that tells its guest (booking_request_expired), in one statement:
 * the ids of those notifications, for the caller to start their jobs after
 * commit. Only rows still `requested` and past their deadline are touched, so an
 * accept that committed first (the row is `pending` now) is never undone, and
 * an accept that comes after finds the row `expired` (see acceptBooking).
 */
async function expireLapsedRequests(db: Db | Tx, propertyId?: string): Promise<{ id: string; booking_id: string }[]> {
  const result = await sql<{ id: string; booking_id: string }>`
    with lapsed as (
      update bookings set status = 'expired'
      where status = 'requested' and expires_at <= now() ${propertyId ? sql`and property_id = ${propertyId}` : sql``}
      returning id, guest_id
    )
    insert into notifications (kind, recipient_id, booking_id)
    select 'booking_request_expired', guest_id, id from lapsed
    returning id, booking_id`.execute(db);
  return result.rows;
}

/**
 * Writes down the lapsed holds and unanswered requests of a property, so that
 * their dates leave the exclusion constraint before a new stay is inserted. Run
 * under lockListing, so this is what makes expiry hold without any background
 * worker. Returns the notifications owed for the expired requests.
 */
export async function expireLapsedHolds(trx: Tx, propertyId: string): Promise<string[]> {
  await trx
    .updateTable('bookings')
    .set({ status: 'expired' })
    .where('property_id', '=', propertyId)
    .where('status', '=', 'pending')
    .where('expires_at', '<=', sql<Date>`now()`)
    .execute();
  return (await expireLapsedRequests(trx, propertyId)).map((row) => row.id);
}

/** The transaction's time in whole milliseconds (what the API shows, and what cursors carry), as booking times are kept. */
const transactionTime = () => sql<Date>`date_trunc('milliseconds', now())`;
/** `seconds` after the transaction's time: a hold's or a request's deadline. */
const secondsFromNow = (seconds: number) => sql<Date>`date_trunc('milliseconds', now()) + ${seconds} * interval '1 second'`;

export type NewBooking = Omit<Insertable<Bookings>, 'status' | 'expires_at'>;

/** A pending booking that holds its dates for `holdSeconds` from now (the database's now). */
export async function insertPendingBooking(trx: Tx, row: NewBooking, holdSeconds: number): Promise<BookingRow> {
  return trx
    .insertInto('bookings')
    .values({ ...row, status: 'pending', expires_at: secondsFromNow(holdSeconds) })
    .returning(bookingColumns)
    .returning(effectiveStatus.as('status'))
    .executeTakeFirstOrThrow();
}

/**
 * A request on a listing that is not instant-bookable: it holds its dates,
 * nothing can be paid, and its host has `answerSeconds` from now (the
 * database's now) to accept or decline it.
 */
export async function insertRequestedBooking(trx: Tx, row: NewBooking, answerSeconds: number): Promise<BookingRow> {
  return trx
    .insertInto('bookings')
    .values({
      ...row,
      status: 'requested',
      requested_at: transactionTime(),
      expires_at: secondsFromNow(answerSeconds),
    })
    .returning(bookingColumns)
    .returning(effectiveStatus.as('status'))
    .executeTakeFirstOrThrow();
}

/**
 * requested -> pending: the host accepted. The guest gets a fresh hold of
 * `holdSeconds` from now to pay. The caller holds the row's lock and has seen it
 * requested and not past its deadline (effectiveStatus).
 */
export async function acceptRequestedBooking(trx: Tx, id: string, holdSeconds: number): Promise<BookingRow> {
  return trx
    .updateTable('bookings')
    .set({
      status: 'pending',
      expires_at: secondsFromNow(holdSeconds),
      responded_at: transactionTime(),
    })
    .where('id', '=', id)
    .returning(bookingColumns)
    .returning(effectiveStatus.as('status'))
    .executeTakeFirstOrThrow();
}

/** requested -> declined, with the host's reason; the dates leave the exclusion constraint at once. */
export async function declineRequestedBooking(trx: Tx, id: string, reason: string): Promise<BookingRow> {
  return trx
    .updateTable('bookings')
    .set({ status: 'declined', expires_at: null, responded_at: transactionTime(), decline_reason: reason })
    .where('id', '=', id)
    .returning(bookingColumns)
    .returning(effectiveStatus.as('status'))
    .executeTakeFirstOrThrow();
}

/**
 * A booking written as it already stands (confirmed or completed, with its own
 * timestamps): history, as the demo data brings it. The API itself makes
 * bookings only through insertPendingBooking.
 */
export async function insertSettledBooking(trx: Tx, row: NewBooking & { status: 'confirmed' | 'completed' }): Promise<BookingRow> {
  return trx.insertInto('bookings').values(row).returning(bookingColumns).returning(effectiveStatus.as('status')).executeTakeFirstOrThrow();
}

export async function updateBookingRow(trx: Tx, id: string, changes: Updateable<Bookings>): Promise<BookingRow> {
  return trx
    .updateTable('bookings')
    .set(changes)
    .where('id', '=', id)
    .returning(bookingColumns)
    .returning(effectiveStatus.as('status'))
    .executeTakeFirstOrThrow();
}

/**
 * pending -> confirmed: the one transition a successful payment makes
 * (server/payments/settle.ts). A hold that lapsed but was not yet written down
 * still holds its dates in the exclusion constraint, so nobody else can have
 * taken them and confirming it is safe; once written down as expired, or
 * cancelled, it is not confirmed (undefined), and settleCharge refunds the payment.
 */
export async function confirmBooking(trx: Tx | Db, id: string): Promise<BookingRow | undefined> {
  return trx
    .updateTable('bookings')
    .set({ status: 'confirmed', expires_at: null, confirmed_at: transactionTime() })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .returning(bookingColumns)
    .returning(effectiveStatus.as('status'))
    .executeTakeFirst();
}

/** Held stays of a property that overlap [checkIn, checkOut), other than `exceptId`. */
export async function findHeldStays(db: Db | Tx, propertyId: string, checkIn: string, checkOut: string, exceptId?: string) {
  let query = db
    .selectFrom('bookings')
    .select(['id', 'check_in', 'check_out', 'expires_at'])
    .where('property_id', '=', propertyId)
    .where(holdsItsDates)
    .where(overlaps(checkIn, checkOut));
  if (exceptId) query = query.where('id', '!=', exceptId);
  return query.orderBy('check_in').execute();
}

/** Whether a listing has a pending or confirmed stay that has not ended. */
export async function hasUpcomingStays(db: Db | Tx, propertyId: string): Promise<boolean> {
  const row = await db
    .selectFrom('bookings')
    .select('id')
    .where('property_id', '=', propertyId)
    .where(holdsItsDates)
    .where('check_out', '>', today)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Whether a user has a pending or confirmed stay that has not ended, as its guest or on one of their listings. */
export async function hasUpcomingStaysOfUser(db: Db | Tx, userId: string): Promise<boolean> {
  const row = await db
    .selectFrom('bookings')
    .select('id')
    .where((eb) =>
      eb.or([eb('guest_id', '=', userId), eb('property_id', 'in', eb.selectFrom('properties').select('id').where('host_id', '=', userId))]),
    )
    .where(holdsItsDates)
    .where('check_out', '>', today)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

export async function findBlockedNights(db: Db | Tx, propertyId: string, from: string, to: string): Promise<string[]> {
  const rows = await db
    .selectFrom('blocked_nights')
    .select('night')
    .where('property_id', '=', propertyId)
    .where('night', '>=', from)
    .where('night', '<', to)
    .orderBy('night')
    .execute();
  return rows.map((row) => row.night);
}

export async function blockNights(trx: Tx, propertyId: string, nights: string[]): Promise<void> {
  if (nights.length === 0) return;
  await trx
    .insertInto('blocked_nights')
    .values(nights.map((night) => ({ property_id: propertyId, night })))
    .onConflict((oc) => oc.columns(['property_id', 'night']).doNothing())
    .execute();
}

export async function unblockNights(trx: Tx, propertyId: string, from: string, to: string): Promise<void> {
  await trx.deleteFrom('blocked_nights').where('property_id', '=', propertyId).where('night', '>=', from).where('night', '<', to).execute();
}

export interface BookingListOptions {
  /** Only this guest's stays. */
  guestId?: string;
  /** Only stays on this host's properties. */
  hostId?: string;
  status?: BookingStatus;
  /** created_at and id of the last row of the previous page. */
  after?: { createdAt: string; id: string };
  limit: number;
}

export async function listBookings(db: Db, options: BookingListOptions): Promise<BookingRow[]> {
  let query = selectBookings(db);
  if (options.guestId) query = query.where('bookings.guest_id', '=', options.guestId);
  // bookings.host_id (kept by a trigger and a foreign key) and bookings_host_idx answer this
  // as one index range; through the host's listings it was a scan of properties (see migration 1400).
  if (options.hostId) query = query.where('bookings.host_id', '=', options.hostId);
  if (options.status) query = query.where(effectiveStatus, '=', options.status);
  if (options.after) {
    const { createdAt, id } = options.after;
    query = query.where((eb) => eb(eb.refTuple('bookings.created_at', 'bookings.id'), '<', eb.tuple(new Date(createdAt), id)));
  }
  return query.orderBy('bookings.created_at', 'desc').orderBy('bookings.id', 'desc').limit(options.limit + 1).execute();
}

/**
 * Properties free for the whole stay [checkIn, checkOut): no held stay overlaps
 * it and no night of it is blocked. For the search's WHERE clause; both
 * subqueries are answered by indexes (the exclusion constraint's gist index and
 * blocked_nights' primary key).
 */
export function isFreeFor(checkIn: string, checkOut: string) {
  // The overlap as two comparisons (the same test for half-open stays) rather than `&&`, so the
  // probe is a range of bookings_live_stays_idx (by check-out) instead of the GiST index's.
  return sql<SqlBool>`(not exists (
      select 1 from bookings
      where bookings.property_id = properties.id and ${holdsItsDates}
        and bookings.check_out > ${checkIn}::date and bookings.check_in < ${checkOut}::date
    ) and not exists (
      select 1 from blocked_nights
      where blocked_nights.property_id = properties.id
        and blocked_nights.night >= ${checkIn}::date and blocked_nights.night < ${checkOut}::date
    ))`;
}

/**
 * Writes down what time has already decided: lapsed holds become expired and
 * paid stays past check-out completed. Reads never depend on it (see
 * effectiveStatus); it keeps the stored rows honest for reports and for the
 * payments that look at them.
 */
export async function sweepBookingStatuses(db: Db): Promise<{ expired: number; completed: number; notifications: string[]; expiredRequests: string[] }> {
  const lapsed = await expireLapsedRequests(db);
  const notifications = lapsed.map((row) => row.id);
  const expired = await db
    .updateTable('bookings')
    .set({ status: 'expired' })
    .where('status', '=', 'pending')
    .where('expires_at', '<=', sql<Date>`now()`)
    .executeTakeFirst();
  const completed = await db
    .updateTable('bookings')
    .set({ status: 'completed' })
    .where('status', '=', 'confirmed')
    .where('check_out', '<=', today)
    .executeTakeFirst();
  return { expired: Number(expired.numUpdatedRows) + notifications.length, completed: Number(completed.numUpdatedRows), notifications, expiredRequests: lapsed.map((row) => row.booking_id) };
}

/**
 * The guest's user row, locked (NO KEY UPDATE, so bookings referencing it can
 * still be inserted) until the transaction ends: createBooking takes it first,
 * so one guest's concurrent holds are counted and added one at a time.
 */
export async function lockGuest(trx: Tx, guestId: string): Promise<void> {
  await trx.selectFrom('users').select('id').where('id', '=', guestId).forNoKeyUpdate().executeTakeFirst();
}

/**
 * How many unpaid holds of a guest still hold their dates (pending or
 * requested, not lapsed): a request closes a calendar without payment too, and
 * for longer than a hold.
 */
export async function countLiveHolds(db: Db | Tx, guestId: string): Promise<number> {
  const row = await db
    .selectFrom('bookings')
    .select(sql<number>`count(*)::int`.as('count'))
    .where('guest_id', '=', guestId)
    .where('status', 'in', ['requested', 'pending'])
    .where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirstOrThrow();
  return row.count;
}

/**
 * How many holds a guest made, within the last `windowSeconds`, of dates of a
 * listing overlapping [checkIn, checkOut) that were never paid (cancelled,
 * lapsed or still pending, requests and declined requests included): the first
 * hold of a stay and its re-holds.
 */
export async function countUnpaidHoldsOfStay(
  db: Db | Tx,
  stay: { guestId: string; propertyId: string; checkIn: string; checkOut: string },
  windowSeconds: number,
): Promise<number> {
  const row = await db
    .selectFrom('bookings')
    .select(sql<number>`count(*)::int`.as('count'))
    .where('guest_id', '=', stay.guestId)
    .where('property_id', '=', stay.propertyId)
    .where('confirmed_at', 'is', null)
    .where('status', 'in', ['requested', 'pending', 'expired', 'cancelled', 'declined'])
    .where('created_at', '>', sql<Date>`now() - ${windowSeconds} * interval '1 second'`)
    .where(overlaps(stay.checkIn, stay.checkOut))
    .executeTakeFirstOrThrow();
  return row.count;
}
