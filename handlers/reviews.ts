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
 * Who may do what is decided in ./access.ts, and when in ./reviews/rules.ts (the window).
 *
 * listReviews is read through the cache (server/cache.ts); every write bumps its
 * listing (reviews and rating), its author's reviews, unfiltered lists and the search
 * (ratings sort it) once its transaction has committed.
 */
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
  type ReviewRow,
} from '../db/reviews.js';
import type { Tx } from '../db/index.js';
import type { AuthUser } from '../server/auth.js';
import { cachedReply, type CacheScope } from '../server/cache.js';
import { ApiError } from '../server/errors.js';
import { caller, type RequestContext, type ResourceHandlers } from '../server/operations.js';
import { decodeCursor, page } from '../server/pagination.js';
import {
  mayDeleteReview,
  mayEditReview,
  mayRemoveReviewReply,
  mayReplyToReview,
  mayReviewBooking,
  permit,
  type ReviewDecision,
} from './access.js';
import { reviewRowToReview } from './presenters.js';
import { reviewEditRefusal, reviewRefusal } from './reviews/rules.js';

/**
 * Runs `work` in a transaction on the review, locked so that concurrent changes
 * of it queue, once `may` allows the caller (404 when it does not exist or was
 * deleted, 403 when the caller may not change it). The review's lock comes
 * before its listing's (which the aggregates trigger takes), the one order these
 * writers use.
 */
async function changeReview<T>(
  ctx: RequestContext,
  reviewId: string,
  may: ReviewDecision,
  work: (trx: Tx, review: ReviewRow, auth: AuthUser) => Promise<T>,
): Promise<T> {
  const auth = caller(ctx);
  let changed: ReviewRow | undefined;
  const result = await ctx.deps.db.transaction().execute(async (trx) => {
    const review = permit(may(auth, await lockReview(trx, reviewId)));
    changed = review;
    return work(trx, review, auth);
  });
  if (changed) await ctx.deps.cache.bump(touchedBy(changed));
  return result;
}

/** What a write of this review changes in cached answers. */
function touchedBy(review: { property_id: string; author_id: string }): CacheScope {
  return { property: review.property_id, user: review.author_id, reviews: true, search: true };
}

export const reviewHandlers: ResourceHandlers<
  'listReviews' | 'createReview' | 'getReview' | 'updateReview' | 'deleteReview' | 'replyToReview' | 'deleteReviewReply'
> = {
  async listReviews({ query }, ctx) {
    const limit = query.limit ?? 20;
    const after = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const windowDays = ctx.deps.config.reviewWindowDays;
    // Every review shows its author's current name: a renamed profile moves every list.
    const scope: CacheScope = {
      profiles: true,
      ...(query.property_id ? { property: query.property_id } : {}),
      ...(query.author_id ? { user: query.author_id } : {}),
      ...(query.property_id || query.author_id ? {} : { reviews: true }),
    };
    const answer = await ctx.deps.cache.read('listReviews', scope, { ...query, limit, windowDays }, async () => {
      const rows = await listReviews(ctx.deps.db, {
        propertyId: query.property_id,
        authorId: query.author_id,
        after: after ? { createdAt: after[0] as string, id: after[1] as string } : undefined,
        limit,
      });
      return { body: page(rows, limit, (row) => reviewRowToReview(row, windowDays), (row) => [row.created_at.toISOString(), row.id]) };
    });
    return cachedReply(answer, ctx.auth, ctx.deps.config.cacheMaxAgeSeconds);
  },

  async createReview({ body }, ctx) {
    const auth = caller(ctx);
    const { db, config } = ctx.deps;
    const reply = await db.transaction().execute(async (trx) => {
      const booking = permit(mayReviewBooking(auth, await findBookingToReview(trx, body.booking_id)));
      const refusal = reviewRefusal(booking, config.reviewWindowDays, booking.today);
      if (refusal) throw refusal;
      await lockRatingsOf(trx, booking.property_id);
      const row = await insertReview(trx, {
        booking_id: booking.id,
        property_id: booking.property_id,
        author_id: auth.id,
        rating: body.rating,
        comment: body.comment,
      });
      return {
        status: 201 as const,
        body: reviewRowToReview({ ...row, ...contextOf(booking) }, config.reviewWindowDays),
        headers: { Location: `/reviews/${row.id}` },
      };
    });
    await ctx.deps.cache.bump(touchedBy(reply.body));
    return reply;
  },

  async getReview({ path }, ctx) {
    const row = await findReviewById(ctx.deps.db, path.review_id);
    if (!row) throw new ApiError('not_found', 'No such review.');
    return { status: 200, body: reviewRowToReview(row, ctx.deps.config.reviewWindowDays) };
  },

  async updateReview({ path, body }, ctx) {
    const windowDays = ctx.deps.config.reviewWindowDays;
    return changeReview(ctx, path.review_id, mayEditReview, async (trx, review) => {
      const refusal = reviewEditRefusal(review, windowDays, review.today);
      if (refusal) throw refusal;
      const row = await updateReviewRow(trx, review.id, { rating: body.rating, comment: body.comment });
      return { status: 200 as const, body: reviewRowToReview({ ...row, ...contextOf(review) }, windowDays) };
    });
  },

  async deleteReview({ path }, ctx) {
    await changeReview(ctx, path.review_id, mayDeleteReview, (trx, review, auth) =>
      tombstoneReview(trx, review.id, auth.id),
    );
    return { status: 204 };
  },

  async replyToReview({ path, body }, ctx) {
    return changeReview(ctx, path.review_id, mayReplyToReview, async (trx, review) => {
      const row = await setHostReply(trx, review.id, body.comment);
      return { status: 200 as const, body: reviewRowToReview({ ...row, ...contextOf(review) }, ctx.deps.config.reviewWindowDays) };
    });
  },

  async deleteReviewReply({ path }, ctx) {
    await changeReview(ctx, path.review_id, mayRemoveReviewReply, async (trx, review) => {
      if (review.host_reply === null) throw new ApiError('not_found', 'This review has no reply.');
      await removeHostReply(trx, review.id);
    });
    return { status: 204 };
  },
};
