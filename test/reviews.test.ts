/**
 * Reviews and the hosts' replies: every rule of the contract, its success and
 * its refusals with status and code, through the generated client against a
 * real PostgreSQL, with what the database holds afterwards; and the listing's
 * rating aggregates under concurrent creates, edits and deletes, compared with
 * a fresh count and sum. A new user's walk is in reviews-walk.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import * as api from '../generated/client/sdk.gen.js';
import type { Property, Review } from '../generated/client/types.gen.js';
import {
  createAdmin,
  createBooking,
  createHost,
  createProperty,
  createReview,
  createUser,
  fromToday,
  insertPastStay,
  payStay,
  type Account,
} from './support/factories.js';
import { expectProblem } from './support/problems.js';
import type { TestServer } from './support/server.js';
import { inconsistencies } from './support/consistency.js';
import { useTestApp } from './support/app.js';

const { env, server } = useTestApp();
let admin: Account;

beforeAll(async () => {
  admin = await createAdmin(server);
});

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const WINDOW_DAYS = 14; // the default REVIEW_WINDOW_DAYS

/** Every row of a booking's reviews, tombstones included. */
function reviewRowsOf(bookingId: string) {
  return server.deps.db.selectFrom('reviews').selectAll().where('booking_id', '=', bookingId).execute();
}

function reviewRow(id: string) {
  return server.deps.db.selectFrom('reviews').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/** The aggregates the listing stores. */
function storedRatings(propertyId: string) {
  return server.deps.db.selectFrom('properties').select(['rating_sum', 'review_count']).where('id', '=', propertyId).executeTakeFirstOrThrow();
}

/** The aggregates computed afresh from the live reviews. */
async function freshRatings(propertyId: string) {
  const { rows } = await sql<{ rating_sum: number; review_count: number }>`
    select coalesce(sum(rating), 0)::int as rating_sum, count(*)::int as review_count
    from reviews where property_id = ${propertyId} and deleted_at is null
  `.execute(server.deps.db);
  return rows[0]!;
}

/**
 * A second server process on this file's database, deployed with a 30-day review
 * window: started once, by the first test that asks for it, and shared by the
 * others (each start compiles every validator again, seconds on a busy machine).
 */
let longWindowStarted: Promise<TestServer> | undefined;
const longWindowServer = () => (longWindowStarted ??= env.start({ reviewWindowDays: 30 }));

/** A paid stay of `guest` at `property` that checked out `checkOut` days from today (2 nights). */
function pastStay(guest: Account, property: Property, checkOut = -1) {
  return insertPastStay(server, { guest, property, checkIn: fromToday(checkOut - 2), checkOut: fromToday(checkOut) });
}

const ids = (reviews: Review[]) => reviews.map((r) => r.id);

function review(guest: Account | undefined, bookingId: string, rating = 5, comment = 'Lovely, quiet and clean.') {
  return api.createReview({ client: server.client, auth: guest?.token, body: { booking_id: bookingId, rating, comment } });
}

describe('createReview', () => {
  let guest: Account;
  beforeAll(async () => {
    guest = await createUser(server.client, { name: 'Rita Reviewer' });
  });

  it('reviews a completed stay: 201 with Location, and the listing\'s rating_average and review_count include it at once', async () => {
    const property = await createProperty(server.client);
    const stay = await pastStay(guest, property, -3);
    const { data, response } = await review(guest, stay, 4, 'Bright rooms, noisy street.');

    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe(`/reviews/${data!.id}`);
    expect(data).toMatchObject({
      booking_id: stay,
      property_id: property.id,
      author_id: guest.id,
      author_name: 'Rita Reviewer',
      rating: 4,
      comment: 'Bright rooms, noisy street.',
      host_reply: null,
      editable_until: fromToday(-3 + WINDOW_DAYS),
    });
    expect(await reviewRowsOf(stay)).toEqual([expect.objectContaining({ id: data!.id, author_id: guest.id, rating: 4, deleted_at: null })]);
    expect(await storedRatings(property.id)).toEqual({ rating_sum: 4, review_count: 1 });
    const listing = await api.getProperty({ client: server.client, path: { property_id: property.id } });
    expect(listing.data).toMatchObject({ rating_average: 4, review_count: 1 });

    const other = await createUser(server.client);
    await review(other, await pastStay(other, property, -6), 5);
    expect((await api.getProperty({ client: server.client, path: { property_id: property.id } })).data).toMatchObject({ rating_average: 4.5, review_count: 2 });
  });

  it('accepts a review on the day of check-out and on the last day of the window, and refuses the day after with 422 review_window_closed', async () => {
    const property = await createProperty(server.client);
    for (const checkOut of [0, -WINDOW_DAYS]) {
      const { response, data } = await review(guest, await pastStay(guest, property, checkOut));
      expect(response.status, `checked out ${-checkOut} days ago`).toBe(201);
      expect(data!.editable_until).toBe(fromToday(checkOut + WINDOW_DAYS));
    }
    const late = await pastStay(guest, await createProperty(server.client), -WINDOW_DAYS - 1);
    const problem = expectProblem(await review(guest, late), 422, 'review_window_closed');
    expect(problem.detail).toContain(fromToday(-1));
    expect(await reviewRowsOf(late)).toEqual([]);
    expect(await storedRatings(property.id)).toEqual({ rating_sum: 10, review_count: 2 });
  });

  it('follows REVIEW_WINDOW_DAYS', async () => {
    const longWindow = await longWindowServer();
    const property = await createProperty(server.client);
    const stay = await pastStay(guest, property, -20);
    expectProblem(await review(guest, stay), 422, 'review_window_closed');
    const accepted = await api.createReview({ client: longWindow.client, auth: guest.token, body: { booking_id: stay, rating: 3, comment: 'Late but fair.' } });
    expect(accepted.response.status).toBe(201);
    expect(accepted.data!.editable_until).toBe(fromToday(10));
  });

  it('refuses a second review of the same booking with 409 already_reviewed, and keeps the first', async () => {
    const property = await createProperty(server.client);
    const stay = await pastStay(guest, property);
    const first = await review(guest, stay, 5);
    expectProblem(await review(guest, stay, 1, 'Changed my mind.'), 409, 'already_reviewed');
    expect(await reviewRowsOf(stay)).toEqual([expect.objectContaining({ id: first.data!.id, rating: 5 })]);
    expect(await storedRatings(property.id)).toEqual({ rating_sum: 5, review_count: 1 });
  });

  it('refuses a booking whose review was deleted with 409 already_reviewed: a booking is reviewed once', async () => {
    const property = await createProperty(server.client);
    const stay = await pastStay(guest, property);
    const first = await review(guest, stay, 1);
    await api.deleteReview({ client: server.client, auth: admin.token, path: { review_id: first.data!.id } });
    expectProblem(await review(guest, stay, 5), 409, 'already_reviewed');
    expect(await reviewRowsOf(stay)).toHaveLength(1);
    expect(await storedRatings(property.id)).toEqual({ rating_sum: 0, review_count: 0 });
  });

  it('refuses anyone but the guest: 404 to another guest and another host, 403 to the listing\'s host and an admin, 401 without a token', async () => {
    const property = await createProperty(server.client);
    const stay = await pastStay(guest, property);
    expectProblem(await review(await createUser(server.client), stay), 404, 'not_found');
    expectProblem(await review(await createHost(server.client), stay), 404, 'not_found');
    expectProblem(await review(property.host, stay), 403, 'forbidden');
    expectProblem(await review(admin, stay), 403, 'forbidden');
    expectProblem(await review(undefined, stay), 401, 'unauthenticated');
    expect(await reviewRowsOf(stay)).toEqual([]);
    expect(await storedRatings(property.id)).toEqual({ rating_sum: 0, review_count: 0 });
  });

  it('refuses a stay that is not completed with 422 invalid_state: pending, upcoming, under way, cancelled, expired', async () => {
    const property = await createProperty(server.client);
    const pending = await createBooking(server.client, { guest, property, stay: { check_in: fromToday(10), check_out: fromToday(12) } });
    const upcoming = await createBooking(server.client, { guest, property, stay: { check_in: fromToday(20), check_out: fromToday(22) } });
    await payStay(server, upcoming);
    const underWay = await insertPastStay(server, { guest, property, checkIn: fromToday(-1), checkOut: fromToday(1) });
    // A paid stay cancelled before it began (too late for a refund: one of 0), whose dates have passed;
    // and a hold that lapsed long ago, never paid.
    const cancelled = await pastStay(guest, property, -5);
    await server.deps.db
      .updateTable('bookings')
      .set({ status: 'cancelled', cancelled_at: new Date(`${fromToday(-20)}T12:00:00Z`), refund_amount: 0, refund_status: 'succeeded' })
      .where('id', '=', cancelled)
      .execute();
    const expired = await pastStay(guest, property, -10);
    await server.deps.db.deleteFrom('payments').where('booking_id', '=', expired).execute();
    // A paid stay cannot become expired (the status trigger of migration 0900 refuses it): history rewritten with it off.
    await server.deps.db.transaction().execute(async (trx) => {
      await sql`alter table bookings disable trigger bookings_status_transition`.execute(trx);
      await trx.updateTable('bookings').set({ status: 'expired', expires_at: new Date(`${fromToday(-30)}T12:00:00Z`) }).where('id', '=', expired).execute();
      await sql`alter table bookings enable trigger bookings_status_transition`.execute(trx);
    });

    for (const [bookingId, status] of [[pending.id, 'pending'], [upcoming.id, 'confirmed'], [underWay, 'confirmed'], [cancelled, 'cancelled'], [expired, 'expired']] as const) {
      const problem = expectProblem(await review(guest, bookingId), 422, 'invalid_state');
      expect(problem.detail, bookingId).toContain(status);
      expect(await reviewRowsOf(bookingId)).toEqual([]);
    }
    expect(await storedRatings(property.id)).toEqual({ rating_sum: 0, review_count: 0 });
  });

  it('refuses an unknown booking with 404 not_found', async () => {
    expectProblem(await review(guest, UNKNOWN_ID), 404, 'not_found');
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a rating of 0', { rating: 0 }, 'body.rating'],
    ['a rating of 6', { rating: 6 }, 'body.rating'],
    ['a rating of 2.5', { rating: 2.5 }, 'body.rating'],
    ['a rating as text', { rating: '5' }, 'body.rating'],
    ['an empty comment', { comment: '' }, 'body.comment'],
    ['a blank comment', { comment: ' \n\t ' }, 'body.comment'],
    ['a comment over 2000 characters', { comment: 'x'.repeat(2001) }, 'body.comment'],
    ['a comment with a control character', { comment: 'Nice\u0000stay' }, 'body.comment'],
    ['no comment', { comment: undefined }, 'body.comment'],
    ['an author_id', { author_id: UNKNOWN_ID }, 'body.author_id'],
  ])('refuses %s with 400 validation_failed and writes nothing', async (_what, change, path) => {
    const property = await createProperty(server.client);
    const stay = await pastStay(guest, property);
    const body = { booking_id: stay, rating: 4, comment: 'Fine.', ...change };
    expectProblem(await api.createReview({ client: server.client, auth: guest.token, body: body as never }), 400, 'validation_failed', path);
    expect(await reviewRowsOf(stay)).toEqual([]);
    expect(await storedRatings(property.id)).toEqual({ rating_sum: 0, review_count: 0 });
  });

  it('accepts a comment of exactly 2000 characters, over several lines', async () => {
    const property = await createProperty(server.client);
    const comment = `Line one.\n${'x'.repeat(1990)}`;
    const { data, response } = await review(guest, await pastStay(guest, property), 5, comment);
    expect(response.status).toBe(201);
    expect(data!.comment).toBe(comment);
    expect((await reviewRow(data!.id)).comment).toHaveLength(2000);
  });

  it('reviews a stay at a listing that has since been withdrawn', async () => {
    const property = await createProperty(server.client);
    const stay = await pastStay(guest, property);
    await api.deleteProperty({ client: server.client, auth: property.host.token, path: { property_id: property.id } });
    expect((await review(guest, stay, 3)).response.status).toBe(201);
    expect(await storedRatings(property.id)).toEqual({ rating_sum: 3, review_count: 1 });
  });
});

describe('getReview', () => {
  let property: Property & { host: Account };
  let written: Review;
  beforeAll(async () => {
    property = await createProperty(server.client);
    written = await createReview(server, { property, rating: 5, comment: 'Would stay again.' });
  });

  it('shows a review to anyone, signed in or not, with an ETag', async () => {
    const { guest: _guest, ...asWritten } = written as Review & { guest: Account };
    for (const token of [undefined, admin.token, (await createUser(server.client)).token]) {
      const { data, response } = await api.getReview({ client: server.client, auth: token, path: { review_id: written.id } });
      expect(response.status).toBe(200);
      expect(data).toEqual(asWritten);
      expect(response.headers.get('etag')).toMatch(/^"[^"]+"$/);
    }
  });

  it('answers 304 to If-None-Match while unchanged, and 200 after a reply', async () => {
    const first = await api.getReview({ client: server.client, path: { review_id: written.id } });
    const etag = first.response.headers.get('etag')!;
    expect((await fetch(`${server.url}/reviews/${written.id}`, { headers: { 'If-None-Match': etag } })).status).toBe(304);
    await api.replyToReview({ client: server.client, auth: property.host.token, path: { review_id: written.id }, body: { comment: 'Thanks!' } });
    expect((await fetch(`${server.url}/reviews/${written.id}`, { headers: { 'If-None-Match': etag } })).status).toBe(200);
  });

  it('answers 404 to an unknown or deleted review and 400 to a malformed id', async () => {
    expectProblem(await api.getReview({ client: server.client, path: { review_id: UNKNOWN_ID } }), 404, 'not_found');
    expectProblem(await api.getReview({ client: server.client, path: { review_id: 'not-a-uuid' } }), 400, 'validation_failed', 'path.review_id');
    const gone = await createReview(server);
    await api.deleteReview({ client: server.client, auth: gone.guest.token, path: { review_id: gone.id } });
    expectProblem(await api.getReview({ client: server.client, path: { review_id: gone.id } }), 404, 'not_found');
  });
});

describe('listReviews', () => {
  let listing: Property;
  let otherListing: Property;
  let author: Account;
  const onListing: string[] = [];
  let byAuthorElsewhere: string;
  let deleted: string;
  beforeAll(async () => {
    listing = await createProperty(server.client);
    otherListing = await createProperty(server.client);
    author = await createUser(server.client);
    onListing.push((await createReview(server, { guest: author, property: listing, checkOut: -5 })).id);
    for (let i = 0; i < 3; i++) onListing.push((await createReview(server, { property: listing, rating: 2 + i })).id);
    byAuthorElsewhere = (await createReview(server, { guest: author, property: otherListing })).id;
    const removed = await createReview(server, { property: listing });
    await api.deleteReview({ client: server.client, auth: removed.guest.token, path: { review_id: removed.id } });
    deleted = removed.id;
  });

  it('lists a listing\'s reviews newest first, without deleted ones, to anyone', async () => {
    const { data, response } = await api.listReviews({ client: server.client, query: { property_id: listing.id } });
    expect(response.status).toBe(200);
    expect(ids(data!.data)).toEqual([...onListing].reverse());
    expect(ids(data!.data)).not.toContain(deleted);
    expect(data!.next_cursor).toBeNull();
  });

  it('lists an author\'s reviews across listings, and both filters at once', async () => {
    const mine = await api.listReviews({ client: server.client, query: { author_id: author.id } });
    expect(ids(mine.data!.data)).toEqual([byAuthorElsewhere, onListing[0]]);
    const both = await api.listReviews({ client: server.client, query: { author_id: author.id, property_id: otherListing.id } });
    expect(ids(both.data!.data)).toEqual([byAuthorElsewhere]);
  });

  it('walks every page with the cursor, without repeats, in the order of the database', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const { data } = await api.listReviews({ client: server.client, query: { limit: 2, ...(cursor ? { cursor } : {}) } });
      seen.push(...ids(data!.data));
      cursor = data!.next_cursor ?? undefined;
    } while (cursor);
    const live = await server.deps.db.selectFrom('reviews').select('id').where('deleted_at', 'is', null).orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
    expect(seen).toEqual(live.map((row) => row.id));
  });

  it('gives an empty page for a listing without reviews or an unknown one', async () => {
    for (const property_id of [(await createProperty(server.client)).id, UNKNOWN_ID]) {
      expect((await api.listReviews({ client: server.client, query: { property_id } })).data).toEqual({ data: [], next_cursor: null });
    }
  });

  it('refuses a forged cursor, a malformed id and a limit over 100 with 400', async () => {
    expectProblem(await api.listReviews({ client: server.client, query: { cursor: 'bm90LWEtY3Vyc29y' } }), 400, 'validation_failed', 'query.cursor');
    expectProblem(await api.listReviews({ client: server.client, query: { property_id: 'nope' } }), 400, 'validation_failed', 'query.property_id');
    expectProblem(await api.listReviews({ client: server.client, query: { limit: 101 } }), 400, 'validation_failed', 'query.limit');
  });
});

describe('updateReview', () => {
  it('lets the author change the rating and the comment; the average follows at once', async () => {
    const property = await createProperty(server.client);
    await createReview(server, { property, rating: 5 });
    const mine = await createReview(server, { property, rating: 5, comment: 'Perfect.' });
    const { data, response } = await api.updateReview({ client: server.client, auth: mine.guest.token, path: { review_id: mine.id }, body: { rating: 2, comment: 'The heating broke.' } });
    expect(response.status).toBe(200);
    expect(data).toMatchObject({ id: mine.id, rating: 2, comment: 'The heating broke.', created_at: mine.created_at });
    expect(Date.parse(data!.updated_at)).toBeGreaterThanOrEqual(Date.parse(mine.updated_at));
    expect(await reviewRow(mine.id)).toMatchObject({ rating: 2, comment: 'The heating broke.' });
    expect(await storedRatings(property.id)).toEqual({ rating_sum: 7, review_count: 2 });
    expect((await api.getProperty({ client: server.client, path: { property_id: property.id } })).data).toMatchObject({ rating_average: 3.5 });
  });

  it('changes only what is sent, and keeps the host\'s reply', async () => {
    const property = await createProperty(server.client);
    const mine = await createReview(server, { property, rating: 3, comment: 'Okay.' });
    await api.replyToReview({ client: server.client, auth: property.host.token, path: { review_id: mine.id }, body: { comment: 'Sorry!' } });
    const { data } = await api.updateReview({ client: server.client, auth: mine.guest.token, path: { review_id: mine.id }, body: { rating: 4 } });
    expect(data).toMatchObject({ rating: 4, comment: 'Okay.', host_reply: { comment: 'Sorry!' } });
  });

  it('refuses anyone but the author with 403 forbidden, admins and the listing\'s host included, and 401 without a token', async () => {
    const property = await createProperty(server.client);
    const mine = await createReview(server, { property, rating: 5 });
    for (const other of [await createUser(server.client), property.host, admin]) {
      expectProblem(await api.updateReview({ client: server.client, auth: other.token, path: { review_id: mine.id }, body: { rating: 1 } }), 403, 'forbidden');
    }
    expectProblem(await api.updateReview({ client: server.client, path: { review_id: mine.id }, body: { rating: 1 } }), 401, 'unauthenticated');
    expect(await reviewRow(mine.id)).toMatchObject({ rating: 5 });
    expect(await storedRatings(property.id)).toEqual({ rating_sum: 5, review_count: 1 });
  });

  it('refuses an edit once the review window has closed with 422 review_window_closed', async () => {
    // Written on a deployment with a 30-day window, 20 days after check-out; the default window ended 6 days ago.
    const longWindow = await longWindowServer();
    const guest = await createUser(server.client);
    const property = await createProperty(server.client);
    const stay = await pastStay(guest, property, -20);
    const written = await api.createReview({ client: longWindow.client, auth: guest.token, body: { booking_id: stay, rating: 4, comment: 'Good.' } });
    const problem = expectProblem(await api.updateReview({ client: server.client, auth: guest.token, path: { review_id: written.data!.id }, body: { rating: 1 } }), 422, 'review_window_closed');
    expect(problem.detail).toContain(fromToday(-20 + WINDOW_DAYS));
    expect(await reviewRow(written.data!.id)).toMatchObject({ rating: 4 });
    expect((await api.getReview({ client: server.client, path: { review_id: written.data!.id } })).data!.editable_until).toBe(fromToday(-6));
  });

  it('refuses an empty body, a rating of 6, a blank comment and an unknown field with 400', async () => {
    const mine = await createReview(server, { rating: 5 });
    const call = (body: object) => api.updateReview({ client: server.client, auth: mine.guest.token, path: { review_id: mine.id }, body: body as never });
    expectProblem(await call({}), 400, 'validation_failed');
    expectProblem(await call({ rating: 6 }), 400, 'validation_failed', 'body.rating');
    expectProblem(await call({ comment: '   ' }), 400, 'validation_failed', 'body.comment');
    expectProblem(await call({ booking_id: UNKNOWN_ID }), 400, 'validation_failed', 'body.booking_id');
    expect(await reviewRow(mine.id)).toMatchObject({ rating: 5 });
  });

  it('answers 404 to an unknown or deleted review', async () => {
    const mine = await createReview(server);
    await api.deleteReview({ client: server.client, auth: mine.guest.token, path: { review_id: mine.id } });
    for (const review_id of [mine.id, UNKNOWN_ID]) {
      expectProblem(await api.updateReview({ client: server.client, auth: mine.guest.token, path: { review_id }, body: { rating: 3 } }), 404, 'not_found');
    }
  });
});

describe('deleteReview', () => {
  it('lets the author delete their review: 204, gone from reads, the aggregates follow, and a tombstone without content remains', async () => {
    const property = await createProperty(server.client);
    await createReview(server, { property, rating: 2 });
    const mine = await createReview(server, { property, rating: 5 });
    await api.replyToReview({ client: server.client, auth: property.host.token, path: { review_id: mine.id }, body: { comment: 'Thanks!' } });
    const { response } = await api.deleteReview({ client: server.client, auth: mine.guest.token, path: { review_id: mine.id } });
    expect(response.status).toBe(204);

    expect(await storedRatings(property.id)).toEqual({ rating_sum: 2, review_count: 1 });
    expect((await api.getProperty({ client: server.client, path: { property_id: property.id } })).data).toMatchObject({ rating_average: 2, review_count: 1 });
    expect(ids((await api.listReviews({ client: server.client, query: { property_id: property.id } })).data!.data)).not.toContain(mine.id);
    expect(await reviewRow(mine.id)).toMatchObject({
      booking_id: mine.booking_id, rating: null, comment: null, host_reply: null, deleted_by: mine.guest.id, deleted_at: expect.any(Date),
    });
    expectProblem(await api.deleteReview({ client: server.client, auth: mine.guest.token, path: { review_id: mine.id } }), 404, 'not_found');
  });

  it('lets an admin remove any review', async () => {
    const property = await createProperty(server.client);
    const theirs = await createReview(server, { property, rating: 1, comment: 'Rude words.' });
    expect((await api.deleteReview({ client: server.client, auth: admin.token, path: { review_id: theirs.id } })).response.status).toBe(204);
    expect(await reviewRow(theirs.id)).toMatchObject({ deleted_by: admin.id, comment: null });
    expect(await storedRatings(property.id)).toEqual({ rating_sum: 0, review_count: 0 });
  });

  it('lets the author delete after the review window has closed', async () => {
    // Written on a deployment with a 30-day window, 20 days after check-out; the default window ended 6 days ago.
    const longWindow = await longWindowServer();
    const guest = await createUser(server.client);
    const stay = await pastStay(guest, await createProperty(server.client), -20);
    const written = await api.createReview({ client: longWindow.client, auth: guest.token, body: { booking_id: stay, rating: 4, comment: 'Good.' } });
    expect((await api.deleteReview({ client: server.client, auth: guest.token, path: { review_id: written.data!.id } })).response.status).toBe(204);
  });

  it('refuses another guest and the listing\'s host with 403 forbidden, and 401 without a token, deleting nothing', async () => {
    const property = await createProperty(server.client);
    const theirs = await createReview(server, { property, rating: 4 });
    for (const other of [await createUser(server.client), property.host]) {
      expectProblem(await api.deleteReview({ client: server.client, auth: other.token, path: { review_id: theirs.id } }), 403, 'forbidden');
    }
    expectProblem(await api.deleteReview({ client: server.client, path: { review_id: theirs.id } }), 401, 'unauthenticated');
    expect(await reviewRow(theirs.id)).toMatchObject({ deleted_at: null, rating: 4 });
    expect(await storedRatings(property.id)).toEqual({ rating_sum: 4, review_count: 1 });
  });
});

describe('replyToReview', () => {
  it('lets the listing\'s host reply once and then edit the reply: its created_at stays, its updated_at moves', async () => {
    const property = await createProperty(server.client);
    const theirs = await createReview(server, { property });
    const first = await api.replyToReview({ client: server.client, auth: property.host.token, path: { review_id: theirs.id }, body: { comment: 'Thank you for staying!' } });
    expect(first.response.status).toBe(200);
    expect(first.data).toMatchObject({ id: theirs.id, rating: theirs.rating, comment: theirs.comment, host_reply: { comment: 'Thank you for staying!' } });
    const repliedAt = first.data!.host_reply!.created_at;
    expect(first.data!.host_reply!.updated_at).toBe(repliedAt);

    await new Promise((resolve) => setTimeout(resolve, 5));
    const edited = await api.replyToReview({ client: server.client, auth: property.host.token, path: { review_id: theirs.id }, body: { comment: 'Thank you, come back soon!' } });
    expect(edited.data!.host_reply).toMatchObject({ comment: 'Thank you, come back soon!', created_at: repliedAt });
    expect(Date.parse(edited.data!.host_reply!.updated_at)).toBeGreaterThan(Date.parse(repliedAt));
    expect((await api.getReview({ client: server.client, path: { review_id: theirs.id } })).data!.host_reply).toEqual(edited.data!.host_reply);
    expect(await reviewRowsOf(theirs.booking_id)).toEqual([expect.objectContaining({ host_reply: 'Thank you, come back soon!' })]);
  });

  it('changes neither the review nor the listing\'s aggregates', async () => {
    const property = await createProperty(server.client);
    const theirs = await createReview(server, { property, rating: 3 });
    const before = await server.deps.db.selectFrom('properties').select(['rating_sum', 'review_count', 'updated_at']).where('id', '=', property.id).executeTakeFirstOrThrow();
    await api.replyToReview({ client: server.client, auth: property.host.token, path: { review_id: theirs.id }, body: { comment: 'Noted.' } });
    const after = await server.deps.db.selectFrom('properties').select(['rating_sum', 'review_count', 'updated_at']).where('id', '=', property.id).executeTakeFirstOrThrow();
    expect(after).toEqual(before);
    expect(await reviewRow(theirs.id)).toMatchObject({ rating: 3, comment: theirs.comment });
  });

  it('refuses the author, another host and an admin with 403 forbidden, and 401 without a token', async () => {
    const property = await createProperty(server.client);
    const theirs = await createReview(server, { property });
    for (const other of [theirs.guest, await createHost(server.client), admin]) {
      expectProblem(await api.replyToReview({ client: server.client, auth: other.token, path: { review_id: theirs.id }, body: { comment: 'Me too.' } }), 403, 'forbidden');
    }
    expectProblem(await api.replyToReview({ client: server.client, path: { review_id: theirs.id }, body: { comment: 'Me too.' } }), 401, 'unauthenticated');
    expect(await reviewRow(theirs.id)).toMatchObject({ host_reply: null, host_replied_at: null });
  });

  it('refuses a blank or too long reply with 400 and an unknown or deleted review with 404', async () => {
    const property = await createProperty(server.client);
    const theirs = await createReview(server, { property });
    const reply = (review_id: string, comment: string) => api.replyToReview({ client: server.client, auth: property.host.token, path: { review_id }, body: { comment } });
    expectProblem(await reply(theirs.id, ' '), 400, 'validation_failed', 'body.comment');
    expectProblem(await reply(theirs.id, 'x'.repeat(2001)), 400, 'validation_failed', 'body.comment');
    expectProblem(await reply(UNKNOWN_ID, 'Hello.'), 404, 'not_found');
    await api.deleteReview({ client: server.client, auth: theirs.guest.token, path: { review_id: theirs.id } });
    expectProblem(await reply(theirs.id, 'Hello.'), 404, 'not_found');
    expect(await reviewRow(theirs.id)).toMatchObject({ host_reply: null });
  });
});

describe('deleteReviewReply', () => {
  async function replied() {
    const property = await createProperty(server.client);
    const theirs = await createReview(server, { property });
    await api.replyToReview({ client: server.client, auth: property.host.token, path: { review_id: theirs.id }, body: { comment: 'Thanks!' } });
    return { property: property as Property & { host: Account }, theirs };
  }

  it('lets the host remove the reply, 404 the second time, and reply again afterwards', async () => {
    const { property, theirs } = await replied();
    const call = () => api.deleteReviewReply({ client: server.client, auth: property.host.token, path: { review_id: theirs.id } });
    expect((await call()).response.status).toBe(204);
    expect(await reviewRow(theirs.id)).toMatchObject({ host_reply: null, host_replied_at: null, host_reply_updated_at: null, rating: theirs.rating });
    expect((await api.getReview({ client: server.client, path: { review_id: theirs.id } })).data!.host_reply).toBeNull();
    expectProblem(await call(), 404, 'not_found');
    const again = await api.replyToReview({ client: server.client, auth: property.host.token, path: { review_id: theirs.id }, body: { comment: 'On second thought: thanks!' } });
    expect(again.data!.host_reply).toMatchObject({ comment: 'On second thought: thanks!' });
  });

  it('lets an admin remove a reply, and refuses the review\'s author with 403', async () => {
    const { theirs } = await replied();
    expectProblem(await api.deleteReviewReply({ client: server.client, auth: theirs.guest.token, path: { review_id: theirs.id } }), 403, 'forbidden');
    expect(await reviewRow(theirs.id)).toMatchObject({ host_reply: 'Thanks!' });
    expect((await api.deleteReviewReply({ client: server.client, auth: admin.token, path: { review_id: theirs.id } })).response.status).toBe(204);
    expect(await reviewRow(theirs.id)).toMatchObject({ host_reply: null });
  });
});

describe('reviews of a deleted account', () => {
  it('stay listed and counted, their author shown as "Deleted user"', async () => {
    const property = await createProperty(server.client);
    const theirs = await createReview(server, { property, rating: 4 });
    expect((await api.deleteUser({ client: server.client, auth: theirs.guest.token, path: { user_id: theirs.guest.id } })).response.status).toBe(204);
    const { data } = await api.listReviews({ client: server.client, query: { author_id: theirs.guest.id } });
    expect(data!.data).toEqual([expect.objectContaining({ id: theirs.id, author_id: theirs.guest.id, author_name: 'Deleted user', rating: 4 })]);
    expect(await storedRatings(property.id)).toEqual({ rating_sum: 4, review_count: 1 });
  });
});

describe('rating aggregates under concurrency', () => {
  it('stay equal to a fresh count and sum after concurrent creates, edits and deletes on one listing through two server processes', async () => {
    // Any second process on the database will do; the review window plays no part here.
    const second = await longWindowServer();
    const servers = [server, second];
    const property = await createProperty(server.client);
    const guests = await Promise.all(Array.from({ length: 24 }, () => createUser(server.client)));
    // Two-night stays, each guest's checked out on one of the last 12 days (so within the window), two per day.
    const stays = await Promise.all(guests.map((guest, i) => insertPastStay(server, { guest, property, checkIn: fromToday(-3 - (i % 12)), checkOut: fromToday(-1 - (i % 12)), status: 'completed' })));
    // The first 12 guests have reviewed already.
    const existing: Review[] = [];
    for (let i = 0; i < 12; i++) existing.push((await review(guests[i], stays[i]!, 1 + (i % 5))).data!);

    const calls: Promise<{ response: Response }>[] = [];
    const on = (i: number) => servers[i % 2]!.client;
    for (let i = 12; i < 24; i++) {
      const body = { booking_id: stays[i]!, rating: 1 + (i % 5), comment: `Guest ${i}.` };
      // Each new review is sent twice at once: one is written, the other is 409 already_reviewed...
      calls.push(api.createReview({ client: on(i), auth: guests[i]!.token, body }), api.createReview({ client: on(i + 1), auth: guests[i]!.token, body }));
      // ...while the guest also tries to change the same (completed) booking, which locks the listing and then the booking.
      calls.push(api.updateBooking({ client: on(i), auth: guests[i]!.token, path: { booking_id: stays[i]! }, body: { guests: 2 } }));
    }
    for (let i = 0; i < 6; i++) {
      calls.push(api.updateReview({ client: on(i), auth: guests[i]!.token, path: { review_id: existing[i]!.id }, body: { rating: 5 } }));
      calls.push(api.updateReview({ client: on(i + 1), auth: guests[i]!.token, path: { review_id: existing[i]!.id }, body: { rating: 3, comment: 'Second thoughts.' } }));
    }
    for (let i = 6; i < 12; i++) {
      // The author and an admin delete the same review at once, while the author edits it.
      calls.push(api.deleteReview({ client: on(i), auth: guests[i]!.token, path: { review_id: existing[i]!.id } }));
      calls.push(api.deleteReview({ client: on(i + 1), auth: admin.token, path: { review_id: existing[i]!.id } }));
      calls.push(api.updateReview({ client: on(i), auth: guests[i]!.token, path: { review_id: existing[i]!.id }, body: { rating: 1 } }));
    }
    const statuses = (await Promise.all(calls)).map((result) => result.response.status);

    // Nothing failed: no deadlock (503), no 500; every refusal is one the contract names.
    expect(statuses.filter((status) => ![200, 201, 204, 404, 409, 422].includes(status))).toEqual([]);
    expect(statuses.filter((status) => status === 201)).toHaveLength(12);
    expect(statuses.filter((status) => status === 409)).toHaveLength(12);

    const live = await server.deps.db.selectFrom('reviews').select(['rating']).where('property_id', '=', property.id).where('deleted_at', 'is', null).execute();
    expect(live).toHaveLength(12 + 6);
    expect(await storedRatings(property.id)).toEqual(await freshRatings(property.id));
    expect(await freshRatings(property.id)).toEqual({ review_count: 18, rating_sum: live.reduce((sum, row) => sum + row.rating!, 0) });
    const listing = (await api.getProperty({ client: server.client, path: { property_id: property.id } })).data!;
    expect(listing.review_count).toBe(18);
    expect(listing.rating_average).toBe(Math.round((live.reduce((sum, row) => sum + row.rating!, 0) * 100) / 18) / 100);
  }, 120_000);

  it('orders sort=rating by the reviews as they now stand', async () => {
    const city = `Ratington-${Date.now().toString(36)}`;
    const [low, high] = [await createProperty(server.client, undefined, { city }), await createProperty(server.client, undefined, { city })];
    await createReview(server, { property: low, rating: 5 });
    const changing = await createReview(server, { property: high, rating: 3 });
    const order = async () => (await api.listProperties({ client: server.client, query: { city, sort: 'rating' } })).data!.data.map((p) => p.id);
    expect(await order()).toEqual([low.id, high.id]);
    await api.updateReview({ client: server.client, auth: changing.guest.token, path: { review_id: changing.id }, body: { rating: 5 } });
    await createReview(server, { property: low, rating: 1 });
    expect(await order()).toEqual([high.id, low.id]);
  });
});

describe('the database afterwards', () => {
  it('adds up: every money column equals its recomputation, every booking\'s status agrees with its payments', async () => {
    expect(await inconsistencies(server.deps.db, server.deps.config.serviceFeeBasisPoints)).toEqual([]);
  });
});
