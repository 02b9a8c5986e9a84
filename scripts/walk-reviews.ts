/**
 * npm run walk:reviews -- [--url http://127.0.0.1:3000] [--window-days 14]
 *
 * The reviews walk a new user takes, against a running server with the demo
 * data (a fresh `npm start`): the demo guest finds a finished stay they have
 * not reviewed yet, reads the listing's rating, reviews the stay and sees the
 * listing's average and count change; is refused a second review of it, a
 * review of an upcoming stay and one of a stay whose review window has closed;
 * edits the review; then the listing's host replies and edits the reply. Each
 * step prints what was sent and what came back, checked against the contract;
 * exits 1 on any mismatch, 2 when the walk cannot go on.
 *
 * Each run reviews one stay, so it can be run again until the demo guest has
 * no unreviewed stay left within the window (`--window-days`, the server's
 * REVIEW_WINDOW_DAYS): three on fresh demo data. A fresh DATA_DIR seeds them
 * again. test/reviews-walk.test.ts runs this same walk against a test server.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { createClient, createConfig, type Client } from '../generated/client/client/index.js';
import * as api from '../generated/client/sdk.gen.js';
import type { Booking, Problem, Property, Review } from '../generated/client/types.gen.js';
import { reviewWindow } from '../handlers/reviews/rules.js';
import { utcToday } from '../server/dates.js';
import { problemOf, reporter } from './walk-support.js';

const DEMO_PASSWORD = 'demo-password';
const DEMO_HOSTS = ['host@example.com', 'host2@example.com'];

export interface ReviewsWalkOptions {
  /** The server's review window (REVIEW_WINDOW_DAYS), to tell the stays that can still be reviewed. */
  windowDays?: number;
  print?: (line: string) => void;
}

export interface ReviewsWalkResult {
  /** Steps whose answer was not the one the contract promises. */
  mismatches: number;
  review: Review;
  listing: Property;
  upcomingBookingId: string;
  closedBookingId?: string;
}

/** The walk cannot go on (no server, no demo data, nothing left to review). */
export class WalkStopped extends Error {}

type Result<T> = { data?: T; error?: unknown; response: Response };

function codeOf(result: { error?: unknown }): string | undefined {
  return (result.error as Partial<Problem> | undefined)?.code;
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
const clip = (text: string, length: number) => (text.length > length ? `${text.slice(0, length - 1)}…` : text);

/** The average as the API rounds it: two decimals, from the integer sum and count. */
const average = (sum: number, count: number) => (count === 0 ? null : Math.round((sum * 100) / count) / 100);

export async function walkReviews(baseUrl: string, options: ReviewsWalkOptions = {}): Promise<ReviewsWalkResult> {
  const { windowDays = 14, print = () => {} } = options;
  const client: Client = createClient(createConfig({ baseUrl: baseUrl.replace(/\/$/, '') }));
  const report = reporter(print);
  const { say, step, check } = report;
  const need = <T>(result: Result<T>, what: string): T => {
    if (result.data === undefined) throw new WalkStopped(`${what} failed (${problemOf(result)})`);
    return result.data;
  };
  const signIn = async (email: string) => {
    const session = need(await api.login({ client, body: { email, password: DEMO_PASSWORD } }), `signing in as ${email} (is this a server with the demo data?)`);
    return { token: session.access_token, user: session.user };
  };
  /** Every review of a listing, through every page, to check the listing's aggregates against. */
  const reviewsOf = async (propertyId: string) => {
    const all: Review[] = [];
    let cursor: string | undefined;
    do {
      const page = need(await api.listReviews({ client, query: { property_id: propertyId, limit: 100, ...(cursor ? { cursor } : {}) } }), 'listing reviews');
      all.push(...page.data);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return all;
  };
  const readListing = async (propertyId: string) => need(await api.getProperty({ client, path: { property_id: propertyId } }), 'reading the listing');
  const today = utcToday();
  // The API's own rule (handlers/reviews/rules.ts), with this walk's idea of the server's window.
  const windowOf = (stay: Booking) => reviewWindow(stay.check_out, windowDays, today);

  step(1, 'Sign in as the demo guest, and as the demo hosts');
  const guest = await signIn('guest@example.com');
  const hosts = new Map<string, { token: string; user: { id: string; name: string; email?: string } }>();
  for (const email of DEMO_HOSTS) {
    const host = await signIn(email);
    hosts.set(host.user.id, host);
  }
  say(`${guest.user.name} (guest@example.com) and ${[...hosts.values()].map((h) => `${h.user.name} (${h.user.email})`).join(' and ')} are signed in`);

  step(2, 'Find a finished stay not reviewed yet (GET /bookings?status=completed, GET /reviews?author_id=me)');
  const completed = need(await api.listBookings({ client, auth: guest.token, query: { status: 'completed', limit: 100 } }), 'listing stays').data;
  const mine = need(await api.listReviews({ client, query: { author_id: guest.user.id, limit: 100 } }), 'listing my reviews').data;
  const reviewed = new Set(mine.map((review) => review.booking_id));
  const unreviewed = completed.filter((stay) => !reviewed.has(stay.id));
  const listings = new Map<string, Property>();
  for (const stay of unreviewed) listings.set(stay.property_id, await readListing(stay.property_id));
  for (const stay of unreviewed) {
    const window = windowOf(stay);
    say(`"${listings.get(stay.property_id)!.name}", ${stay.check_in} to ${stay.check_out}: ${window.open ? `can be reviewed until ${window.lastDay}` : 'its review window has closed'}`);
  }
  say(`${plural(completed.length, 'finished stay')}, ${mine.length} reviewed already`);
  // The most recent stay in the window, on a demo host's listing (host@example.com's first) so that its host can reply.
  const hostRank = (stay: Booking) => DEMO_HOSTS.indexOf(hosts.get(listings.get(stay.property_id)!.host_id)?.user.email ?? '');
  const candidates = unreviewed
    .filter((stay) => windowOf(stay).open && hostRank(stay) >= 0)
    .sort((a, b) => hostRank(a) - hostRank(b) || b.check_out.localeCompare(a.check_out));
  const stay = candidates[0];
  if (!stay) {
    throw new WalkStopped(`the demo guest has no unreviewed stay left within ${windowDays} days of check-out (each run reviews one; a fresh DATA_DIR seeds them again)`);
  }
  const before = listings.get(stay.property_id)!;
  say(`→ "${before.name}" (${before.city}), ${stay.check_in} to ${stay.check_out}`);

  step(3, `Read the listing's rating (GET /properties/${before.id}) and its reviews (GET /reviews?property_id=…)`);
  const earlier = await reviewsOf(before.id);
  const earlierSum = earlier.reduce((sum, review) => sum + review.rating, 0);
  say(`rating_average ${before.rating_average ?? 'null'} from ${plural(before.review_count, 'review')}`);
  check(before.review_count === earlier.length && before.rating_average === average(earlierSum, earlier.length), `that is the average of the ${plural(earlier.length, 'review')} listed (sum ${earlierSum})`);

  step(4, `Review the stay (POST /reviews, rating 5)`);
  const comment = `Everything as described, and ${before.city} right outside the door. Would book again.`;
  const created = await api.createReview({ client, auth: guest.token, body: { booking_id: stay.id, rating: 5, comment } });
  const review = need(created, 'reviewing the stay');
  say(`${created.response.status}; Location ${created.response.headers.get('location')}`);
  check(created.response.status === 201 && review.author_id === guest.user.id && review.rating === 5 && review.host_reply === null, `201, a review by ${review.author_name}, rating 5, no reply yet`);
  check(review.editable_until === windowOf(stay).lastDay, `editable until ${review.editable_until}, ${windowDays} days after check-out`);

  step(5, "See the listing's average and count change");
  const after = await readListing(before.id);
  const expected = average(earlierSum + 5, earlier.length + 1);
  say(`rating_average ${before.rating_average ?? 'null'} → ${after.rating_average}, review_count ${before.review_count} → ${after.review_count}`);
  check(after.review_count === before.review_count + 1 && after.rating_average === expected, `as (${earlierSum} + 5) / ${earlier.length + 1} gives: ${expected}`);

  step(6, 'Try to review the same stay again');
  const again = await api.createReview({ client, auth: guest.token, body: { booking_id: stay.id, rating: 1, comment: 'Changed my mind.' } });
  say(problemOf(again));
  check(again.response.status === 409 && codeOf(again) === 'already_reviewed', 'refused with 409 already_reviewed');
  check((await readListing(before.id)).review_count === after.review_count, 'the listing still counts one review of it');

  step(7, 'Try to review an upcoming stay');
  const confirmed = need(await api.listBookings({ client, auth: guest.token, query: { status: 'confirmed', limit: 100 } }), 'listing stays').data;
  const upcoming = confirmed.filter((b) => b.check_in > today).sort((a, b) => a.check_in.localeCompare(b.check_in))[0];
  if (!upcoming) throw new WalkStopped('the demo guest has no upcoming paid stay (walk:bookings cancels them; a fresh DATA_DIR seeds them again)');
  say(`"${(await readListing(upcoming.property_id)).name}", ${upcoming.check_in} to ${upcoming.check_out}, ${upcoming.status}`);
  const early = await api.createReview({ client, auth: guest.token, body: { booking_id: upcoming.id, rating: 5, comment: 'Looking forward to it!' } });
  say(problemOf(early));
  check(early.response.status === 422 && codeOf(early) === 'invalid_state', 'refused with 422 invalid_state: only a completed stay can be reviewed');

  step(8, `Try to review a stay that checked out more than ${windowDays} days ago`);
  const closed = unreviewed.filter((b) => !windowOf(b).open).sort((a, b) => a.check_out.localeCompare(b.check_out))[0];
  if (closed) {
    say(`"${listings.get(closed.property_id)!.name}", checked out on ${closed.check_out}`);
    const late = await api.createReview({ client, auth: guest.token, body: { booking_id: closed.id, rating: 4, comment: 'Better late than never.' } });
    say(problemOf(late));
    check(late.response.status === 422 && codeOf(late) === 'review_window_closed', 'refused with 422 review_window_closed');
  } else {
    say('no such stay in this data; skipped');
  }

  step(9, 'Edit the review: rating 4 (PATCH /reviews/{review_id})');
  const edited = await api.updateReview({ client, auth: guest.token, path: { review_id: review.id }, body: { rating: 4 } });
  check(edited.response.status === 200 && edited.data?.rating === 4 && edited.data.comment === comment, `${edited.response.status}, rating ${edited.data?.rating}, the comment kept`);
  const afterEdit = await readListing(before.id);
  check(afterEdit.rating_average === average(earlierSum + 4, earlier.length + 1), `the listing's average follows: ${afterEdit.rating_average}`);

  const host = hosts.get(before.host_id)!;
  step(10, `The listing's host, ${host.user.name} (${host.user.email}), replies (PUT /reviews/{review_id}/reply)`);
  const notHost = await api.replyToReview({ client, auth: guest.token, path: { review_id: review.id }, body: { comment: 'Replying to myself.' } });
  check(notHost.response.status === 403 && codeOf(notHost) === 'forbidden', `the guest may not reply: ${problemOf(notHost)}`);
  const replied = await api.replyToReview({ client, auth: host.token, path: { review_id: review.id }, body: { comment: `Thank you, ${guest.user.name.split(' ')[0]}! You are welcome back any time.` } });
  const reply = need(replied, 'replying').host_reply;
  say(`${replied.response.status}; "${reply?.comment}"`);
  check(replied.response.status === 200 && reply !== null, '200, the review now carries the reply');
  const editedReply = await api.replyToReview({ client, auth: host.token, path: { review_id: review.id }, body: { comment: 'Thank you again, see you next time!' } });
  const second = need(editedReply, 'editing the reply').host_reply;
  check(
    second?.comment === 'Thank you again, see you next time!' && second.created_at === reply?.created_at && second.updated_at >= (reply?.updated_at ?? ''),
    `the host edits it: same created_at (${second?.created_at}), updated_at ${second?.updated_at}`,
  );

  step(11, "The listing's reviews, newest first (GET /reviews?property_id=…)");
  const now = await reviewsOf(before.id);
  for (const r of now.slice(0, 3)) say(`${'★'.repeat(r.rating)}${'☆'.repeat(5 - r.rating)}  ${r.author_name}: ${clip(r.comment, 50)}${r.host_reply ? `  ↳ ${clip(r.host_reply.comment, 40)}` : ''}`);
  check(now[0]?.id === review.id && now[0].host_reply?.comment === second?.comment, 'the new review comes first, with the reply');
  const final = await readListing(before.id);
  const finalSum = now.reduce((sum, r) => sum + r.rating, 0);
  check(final.review_count === now.length && final.rating_average === average(finalSum, now.length), `rating_average ${final.rating_average} and review_count ${final.review_count} agree with the reviews listed`);

  const { mismatches } = report;
  print(mismatches === 0 ? '\nDone: every step answered as the contract says.' : `\n${mismatches} step(s) did not answer as the contract says.`);
  return { mismatches, review: edited.data ?? review, listing: final, upcomingBookingId: upcoming.id, closedBookingId: closed?.id };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values: args } = parseArgs({ options: { url: { type: 'string', default: 'http://127.0.0.1:3000' }, 'window-days': { type: 'string', default: '14' } } });
  console.log(`Reviews walk against ${args.url}`);
  try {
    const { mismatches } = await walkReviews(args.url, { windowDays: Number(args['window-days']), print: (line) => console.log(line) });
    process.exitCode = mismatches === 0 ? 0 : 1;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    if (cause === 'ECONNREFUSED') console.error(`No server answers at ${args.url}: start one with npm start.`);
    else console.error(`The walk stopped: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  }
}
