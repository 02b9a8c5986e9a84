/**
 * The reviews walk of `npm run walk:reviews` (scripts/walk-reviews.ts), run as
 * it is against a test server holding the demo data: the demo guest reviews a
 * finished stay, sees the listing's average and count change, is refused a
 * second review, a review of an upcoming stay and one whose window has closed,
 * edits the review, and the host replies. Afterwards the database is checked
 * for what the walk should have left, and the walk is run again, as a user
 * would, to review the next stay.
 * Runs on PostgreSQL (npm test) and on the embedded PGlite (npm run test:embedded).
 */
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { seedDemoData } from '../server/demo-data.js';
import { walkReviews, WalkStopped, type ReviewsWalkResult } from '../scripts/walk-reviews.js';
import { useTestApp } from './support/app.js';

const { server } = useTestApp();
beforeAll(async () => {
  await seedDemoData(server.deps.db, { bookings: server.deps.config });
});

async function guestId(): Promise<string> {
  return (await server.deps.db.selectFrom('users').select('id').where('email', '=', 'guest@example.com').executeTakeFirstOrThrow()).id;
}

/** The listing's stored aggregates beside a fresh count and sum of its live reviews. */
async function ratingsOf(propertyId: string) {
  const stored = await server.deps.db.selectFrom('properties').select(['rating_sum', 'review_count']).where('id', '=', propertyId).executeTakeFirstOrThrow();
  const { rows } = await sql<{ rating_sum: number; review_count: number }>`
    select coalesce(sum(rating), 0)::int as rating_sum, count(*)::int as review_count
    from reviews where property_id = ${propertyId} and deleted_at is null
  `.execute(server.deps.db);
  return { stored, fresh: rows[0] };
}

describe('npm run walk:reviews', () => {
  const runs: ReviewsWalkResult[] = [];
  const printed: string[] = [];

  it('walks every step as the contract says', async () => {
    runs.push(await walkReviews(server.url, { print: (line) => printed.push(line) }));
    expect(runs[0]!.mismatches, printed.join('\n')).toBe(0);
    expect(printed.join('\n')).toContain('Done: every step answered as the contract says.');
  });

  it('leaves one review of the stay, by the demo guest, edited to 4, with the host\'s edited reply, counted in the listing', async () => {
    const { review, listing } = runs[0]!;
    const rows = await server.deps.db.selectFrom('reviews').selectAll().where('booking_id', '=', review.booking_id).execute();
    expect(rows).toEqual([
      expect.objectContaining({ id: review.id, author_id: await guestId(), rating: 4, host_reply: 'Thank you again, see you next time!', deleted_at: null }),
    ]);
    expect(rows[0]!.host_reply_updated_at!.getTime()).toBeGreaterThanOrEqual(rows[0]!.host_replied_at!.getTime());
    // host@example.com hosts it: the walk prefers her listings.
    const host = await server.deps.db.selectFrom('users').select('email').where('id', '=', listing.host_id).executeTakeFirstOrThrow();
    expect(host.email).toBe('host@example.com');
    const { stored, fresh } = await ratingsOf(listing.id);
    expect(stored).toEqual(fresh);
    expect(listing).toMatchObject({ review_count: fresh!.review_count, rating_average: Math.round((fresh!.rating_sum * 100) / fresh!.review_count) / 100 });
  });

  it('wrote nothing for the refused reviews: the upcoming stay and the one past its window have none', async () => {
    const { upcomingBookingId, closedBookingId } = runs[0]!;
    expect(closedBookingId).toBeDefined();
    const refused = await server.deps.db.selectFrom('reviews').select('id').where('booking_id', 'in', [upcomingBookingId, closedBookingId!]).execute();
    expect(refused).toEqual([]);
    const mine = await server.deps.db.selectFrom('reviews').select('id').where('author_id', '=', await guestId()).execute();
    expect(mine).toHaveLength(1);
  });

  it('can be run again: it reviews the next stay, until none is left within the window', async () => {
    runs.push(await walkReviews(server.url));
    expect(runs[1]!.mismatches).toBe(0);
    expect(runs[1]!.review.booking_id).not.toBe(runs[0]!.review.booking_id);
    // The third of the demo guest's stays within the window is on host2@example.com's listing; then none is left.
    runs.push(await walkReviews(server.url));
    expect(runs[2]!.mismatches).toBe(0);
    await expect(walkReviews(server.url)).rejects.toThrow(WalkStopped);
    for (const run of runs) {
      const { stored, fresh } = await ratingsOf(run.listing.id);
      expect(stored).toEqual(fresh);
    }
  }, 60_000);
});
