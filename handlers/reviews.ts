/**
 * Reviews: the guest of a completed stay reviews it once, within the review
 * window after check-out (REVIEW_WINDOW_DAYS), and may edit the review while
 * that window is open and delete it at any time; admins delete any review; the
 * listing's host answers each review once and may edit or remove the answer.
 *
 * The database keeps what it can (reviews migration): one review per booking,
 * ever (23505 on reviews_booking_id_key, mapped to 409 already_reviewed in
 * server/errors.ts), the author being the booking's guest, and the property's
 * rating aggregates, moved by a trigger in the same transaction as each write.
 * This file checks who may do what, and when.
 */
import { canSeeBooking } from './bookings.js';
import {
  contextOf,
  findBookingToReview,
  findReviewById,
  insertReview,
  listReviews,
  lockRatingsOf,
  lockReview,
  removeHostReply,
  setHostReply,
  tombstoneReview,
  updateReviewRow,
  type BookingToReview,
  type ReviewRow,
} from '../db/reviews.js';
import type { Review } from '../generated/client/types.gen.js';
import type { Tx } from '../db/index.js';
import { isAdmin, type AuthUser } from '../server/auth.js';
import { ApiError } from '../server/errors.js';
import { caller, type RequestContext, type ResourceHandlers } from '../server/operations.js';
import { decodeCursor, page } from '../server/pagination.js';

export function reviewRowToReview(row: ReviewRow): Review {
  return {
    id: row.id,
    booking_id: row.booking_id,
    property_id: row.property_id,
    author_id: row.author_id,
    author_name: row.author_name,
    rating: row.rating,
    comment: row.comment,
    host_reply:
      row.host_reply === null || row.host_replied_at === null || row.host_reply_updated_at === null
        ? null
        : { comment: row.host_reply, created_at: row.host_replied_at.toISOString(), updated_at: row.host_reply_updated_at.toISOString() },
    editable_until: row.editable_until,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

function windowClosed(what: string, lastDay: string, windowDays: number): ApiError {
  return new ApiError('review_window_closed', `This ${what} until ${lastDay} (${windowDays} days after check-out).`);
}

/** Only a completed stay (paid, checked out, not cancelled) within its window can be reviewed. */
function assertReviewable(booking: BookingToReview, windowDays: number): void {
  if (booking.status !== 'completed') {
    const now = booking.status === 'confirmed' ? `it is confirmed and checks out on ${booking.check_out}` : `this one is ${booking.status}`;
    throw new ApiError('invalid_state', `Only a completed stay (paid and checked out) can be reviewed; ${now}.`);
  }
  if (!booking.window_open) throw windowClosed('stay could be reviewed', booking.editable_until, windowDays);
}

const NO_SUCH_REVIEW = 'No such review.';

type MayChange = (review: ReviewRow, auth: AuthUser) => boolean;
const isAuthor: MayChange = (review, auth) => review.author_id === auth.id;
const isAuthorOrAdmin: MayChange = (review, auth) => isAuthor(review, auth) || isAdmin(auth);
const isHost: MayChange = (review, auth) => review.host_id === auth.id;
const isHostOrAdmin: MayChange = (review, auth) => isHost(review, auth) || isAdmin(auth);

/**
 * Runs `work` in a transaction on the review, locked so that concurrent changes
 * of it queue: 404 when it does not exist (or was deleted), 403 `refusal` when
 * the caller may not change it. The review's lock comes before its listing's
 * (which the aggregates trigger takes), the one order these writers use.
 */
async function changeReview<T>(
  ctx: RequestContext,
  reviewId: string,
  may: MayChange,
  refusal: string,
  work: (trx: Tx, review: ReviewRow, auth: AuthUser) => Promise<T>,
): Promise<T> {
  const auth = caller(ctx);
  const { db, config } = ctx.deps;
  return db.transaction().execute(async (trx) => {
    const review = await lockReview(trx, reviewId, config.reviewWindowDays);
    if (!review) throw new ApiError('not_found', NO_SUCH_REVIEW);
    if (!may(review, auth)) throw new ApiError('forbidden', refusal);
    return work(trx, review, auth);
  });
}

export const reviewHandlers: ResourceHandlers<
  'listReviews' | 'createReview' | 'getReview' | 'updateReview' | 'deleteReview' | 'replyToReview' | 'deleteReviewReply'
> = {
  async listReviews({ query }, ctx) {
    const limit = query.limit ?? 20;
    const after = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const rows = await listReviews(ctx.deps.db, {
      propertyId: query.property_id,
      authorId: query.author_id,
      after: after ? { createdAt: after[0] as string, id: after[1] as string } : undefined,
      limit,
      windowDays: ctx.deps.config.reviewWindowDays,
    });
    return { status: 200, body: page(rows, limit, reviewRowToReview, (row) => [row.created_at.toISOString(), row.id]) };
  },

  async createReview({ body }, ctx) {
    const auth = caller(ctx);
    const { db, config } = ctx.deps;
    return db.transaction().execute(async (trx) => {
      const booking = await findBookingToReview(trx, body.booking_id, config.reviewWindowDays);
      if (!booking || !canSeeBooking(booking, auth)) throw new ApiError('not_found', 'No such booking.');
      if (booking.guest_id !== auth.id) throw new ApiError('forbidden', 'Only the guest who stayed may review a stay.');
      assertReviewable(booking, config.reviewWindowDays);
      await lockRatingsOf(trx, booking.property_id);
      const row = await insertReview(trx, {
        booking_id: booking.id,
        property_id: booking.property_id,
        author_id: auth.id,
        rating: body.rating,
        comment: body.comment,
      });
      return { status: 201 as const, body: reviewRowToReview({ ...row, ...contextOf(booking) }), headers: { Location: `/reviews/${row.id}` } };
    });
  },

  async getReview({ path }, ctx) {
    const row = await findReviewById(ctx.deps.db, path.review_id, ctx.deps.config.reviewWindowDays);
    if (!row) throw new ApiError('not_found', NO_SUCH_REVIEW);
    return { status: 200, body: reviewRowToReview(row) };
  },

  async updateReview({ path, body }, ctx) {
    const windowDays = ctx.deps.config.reviewWindowDays;
    return changeReview(ctx, path.review_id, isAuthor, 'Only its author may edit a review.', async (trx, review) => {
      if (!review.window_open) throw windowClosed('review could be edited', review.editable_until, windowDays);
      const row = await updateReviewRow(trx, review.id, { rating: body.rating, comment: body.comment });
      return { status: 200 as const, body: reviewRowToReview({ ...row, ...contextOf(review) }) };
    });
  },

  async deleteReview({ path }, ctx) {
    await changeReview(ctx, path.review_id, isAuthorOrAdmin, 'Only its author or an admin may delete a review.', (trx, review, auth) =>
      tombstoneReview(trx, review.id, auth.id),
    );
    return { status: 204 };
  },

  async replyToReview({ path, body }, ctx) {
    return changeReview(ctx, path.review_id, isHost, "Only the listing's host may reply to its reviews.", async (trx, review) => {
      const row = await setHostReply(trx, review.id, body.comment);
      return { status: 200 as const, body: reviewRowToReview({ ...row, ...contextOf(review) }) };
    });
  },

  async deleteReviewReply({ path }, ctx) {
    await changeReview(ctx, path.review_id, isHostOrAdmin, "Only the listing's host or an admin may remove a reply.", async (trx, review) => {
      if (review.host_reply === null) throw new ApiError('not_found', 'This review has no reply.');
      await removeHostReply(trx, review.id);
    });
    return { status: 204 };
  },
};
