/**
 * Queries on reviews and their hosts' replies. Each takes the database or a
 * transaction first.
 *
 * Nothing here writes a property's `rating_sum` or `review_count`: the trigger
 * reviews_keep_property_ratings moves them with every write of a review, in the
 * writer's transaction (see the reviews migration). Reviews are read with their
 * stay's check-out and the database's "today", from which handlers/reviews/rules.ts
 * decides the review window, so every server process agrees.
 *
 * Only live reviews are ever read: a deleted review is a tombstone (no rating,
 * no text) that only keeps its booking from being reviewed again.
 */
import { sql, type Insertable, type Selectable, type Updateable } from 'kysely';
import type { Db, Tx } from './index.js';
import type { Reviews } from '../generated/db.js';
import type { BookingStatus } from '../generated/client/types.gen.js';
import { effectiveStatus, today } from './bookings.js';

/** What a review shows and what deciding about it takes from its booking, its author and its listing. */
export interface ReviewContext {
  /** The author's name as it is now ('Deleted user' once the account is gone). */
  author_name: string;
  host_id: string;
  /** The stay's check-out, from which its review window runs (handlers/reviews/rules.ts). */
  check_out: string;
  /** Today's UTC date by the database's clock, so that every process judges the window alike. */
  today: string;
}

type StoredReview = Omit<Selectable<Reviews>, 'rating' | 'comment' | 'deleted_at' | 'deleted_by'>;
/** A live review: its rating and comment are there (only a tombstone has none). */
export type LiveReview = StoredReview & { rating: number; comment: string };
export type ReviewRow = LiveReview & ReviewContext;

const reviewColumns = [
  'reviews.id', 'reviews.booking_id', 'reviews.property_id', 'reviews.author_id', 'reviews.rating', 'reviews.comment',
  'reviews.host_reply', 'reviews.host_replied_at', 'reviews.host_reply_updated_at', 'reviews.created_at', 'reviews.updated_at',
] as const;

/** The context columns, for a query that has joined `bookings`, the author as `users` and `properties`. */
const contextColumns = ['users.name as author_name', 'properties.host_id', 'bookings.check_out', today.as('today')] as const;

export function contextOf(row: ReviewContext): ReviewContext {
  return { author_name: row.author_name, host_id: row.host_id, check_out: row.check_out, today: row.today };
}

function selectReviews(db: Db | Tx) {
  return db
    .selectFrom('reviews')
    .innerJoin('bookings', 'bookings.id', 'reviews.booking_id')
    .innerJoin('users', 'users.id', 'reviews.author_id')
    .innerJoin('properties', 'properties.id', 'reviews.property_id')
    .select(reviewColumns)
    .select(contextColumns)
    .where('reviews.deleted_at', 'is', null)
    .$narrowType<{ rating: number; comment: string }>();
}

export async function findReviewById(db: Db | Tx, id: string): Promise<ReviewRow | undefined> {
  return selectReviews(db).where('reviews.id', '=', id).executeTakeFirst();
}

/** The review, locked until the transaction ends, so concurrent changes of it queue behind this one. */
export async function lockReview(trx: Tx, id: string): Promise<ReviewRow | undefined> {
  return selectReviews(trx).where('reviews.id', '=', id).forUpdate('reviews').executeTakeFirst();
}

export interface ReviewListOptions {
  propertyId?: string;
  authorId?: string;
  /** created_at and id of the last row of the previous page. */
  after?: { createdAt: string; id: string };
  limit: number;
}

/** Live reviews, newest first; each filter is answered by its own partial index. */
export async function listReviews(db: Db, options: ReviewListOptions): Promise<ReviewRow[]> {
  let query = selectReviews(db);
  if (options.propertyId) query = query.where('reviews.property_id', '=', options.propertyId);
  if (options.authorId) query = query.where('reviews.author_id', '=', options.authorId);
  if (options.after) {
    const { createdAt, id } = options.after;
    query = query.where((eb) => eb(eb.refTuple('reviews.created_at', 'reviews.id'), '<', eb.tuple(new Date(createdAt), id)));
  }
  return query.orderBy('reviews.created_at', 'desc').orderBy('reviews.id', 'desc').limit(options.limit + 1).execute();
}

/** A booking as reviewing it needs it: its guest (the author), listing, the status a client sees, and check-out. */
export type BookingToReview = { id: string; guest_id: string; property_id: string; status: BookingStatus } & ReviewContext;

export async function findBookingToReview(db: Db | Tx, bookingId: string): Promise<BookingToReview | undefined> {
  return db
    .selectFrom('bookings')
    .innerJoin('users', 'users.id', 'bookings.guest_id')
    .innerJoin('properties', 'properties.id', 'bookings.property_id')
    .select(['bookings.id', 'bookings.guest_id', 'bookings.property_id', 'bookings.check_out', effectiveStatus.as('status')])
    .select(contextColumns)
    .where('bookings.id', '=', bookingId)
    .executeTakeFirst();
}

/**
 * Takes the listing's row lock (FOR NO KEY UPDATE) before a review of it is
 * written. The trigger would take it anyway; taking it first puts it in the order
 * every writer of the listing uses (the listing, then its bookings: createBooking,
 * updateBooking). Otherwise the new review's foreign key would share-lock the
 * booking first, and a concurrent updateBooking of that booking, holding the
 * listing and waiting for the booking, would deadlock with it.
 * Withdrawn listings are locked too: their past stays can still be reviewed.
 */
export async function lockRatingsOf(trx: Tx, propertyId: string): Promise<void> {
  await trx.selectFrom('properties').select('id').where('id', '=', propertyId).forNoKeyUpdate().execute();
}

export type NewReview = Pick<Insertable<Reviews>, 'booking_id' | 'property_id' | 'author_id'> & { rating: number; comment: string };

/** 23505 on reviews_booking_id_key when the booking already has (or had) a review. */
export async function insertReview(trx: Tx, row: NewReview): Promise<LiveReview> {
  return trx.insertInto('reviews').values(row).returning(reviewColumns).$narrowType<{ rating: number; comment: string }>().executeTakeFirstOrThrow();
}

/** A review written as it already stands (with its own timestamps and reply): history, as the demo data brings it. */
export async function insertReviewRecord(trx: Tx, row: Insertable<Reviews>): Promise<void> {
  await trx.insertInto('reviews').values(row).execute();
}

export async function updateReviewRow(trx: Tx, id: string, changes: Pick<Updateable<Reviews>, 'rating' | 'comment'>): Promise<LiveReview> {
  return trx
    .updateTable('reviews')
    .set(changes)
    .where('id', '=', id)
    .returning(reviewColumns)
    .$narrowType<{ rating: number; comment: string }>()
    .executeTakeFirstOrThrow();
}

const nowMs = sql<Date>`date_trunc('milliseconds', now())`;

/** The host's reply, written or replaced: its first time is kept, its last change is now. */
export async function setHostReply(trx: Tx, id: string, reply: string): Promise<LiveReview> {
  return trx
    .updateTable('reviews')
    .set((eb) => ({ host_reply: reply, host_replied_at: eb.fn.coalesce('host_replied_at', nowMs), host_reply_updated_at: nowMs }))
    .where('id', '=', id)
    .returning(reviewColumns)
    .$narrowType<{ rating: number; comment: string }>()
    .executeTakeFirstOrThrow();
}

export async function removeHostReply(trx: Tx, id: string): Promise<void> {
  await trx.updateTable('reviews').set({ host_reply: null, host_replied_at: null, host_reply_updated_at: null }).where('id', '=', id).execute();
}

/** Deletes a review's content and keeps its row as a tombstone, so that its booking stays reviewed. */
export async function tombstoneReview(trx: Tx, id: string, deletedBy: string): Promise<void> {
  await trx
    .updateTable('reviews')
    .set({ rating: null, comment: null, host_reply: null, host_replied_at: null, host_reply_updated_at: null, deleted_at: nowMs, deleted_by: deletedBy })
    .where('id', '=', id)
    .execute();
}
