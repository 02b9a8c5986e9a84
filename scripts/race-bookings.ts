/**
 * npm run race:bookings -- [--url http://127.0.0.1:3000] [--url2 <second server>] [--requests 50]
 *
 * The booking race against running servers, through the API only: a fresh host
 * lists one place, N fresh guests book the same nights of it at the same
 * moment (alternating between --url and --url2, so two processes race on one
 * database), and one guest sends N concurrent retries with one Idempotency-Key.
 * Prints how many requests won, lost and failed; exits 1 unless exactly one
 * booking won each round and nothing failed.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createClient, createConfig, type Client } from '../generated/client/client/index.js';
import * as api from '../generated/client/sdk.gen.js';
import type { Booking, BookingInput, Problem } from '../generated/client/types.gen.js';
import { addDays, utcToday } from '../server/dates.js';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:3000' },
    url2: { type: 'string' },
    requests: { type: 'string', default: '50' },
  },
});
const requests = Number(args.requests);
if (!Number.isSafeInteger(requests) || requests < 2 || requests > 500) {
  console.error('usage: npm run race:bookings -- [--url URL] [--url2 URL] [--requests 2..500]');
  process.exit(2);
}
const urls = [args.url, ...(args.url2 ? [args.url2] : [])].map((url) => url.replace(/\/$/, ''));
const clients: Client[] = urls.map((baseUrl) => createClient(createConfig({ baseUrl })));
/** Request i goes to server i mod the number of servers. */
const clientAt = (i: number): Client => clients[i % clients.length]!;
const run = randomUUID().slice(0, 8);
const PASSWORD = 'race password 1';

interface Account {
  id: string;
  token: string;
}

/** Registers and signs in a fresh user on one server (the token works on every server of the database). */
async function newAccount(client: Client, role: 'host' | 'guest', n: number): Promise<Account> {
  const email = `race-${run}-${role}-${n}@example.test`;
  const registered = await api.registerUser({ client, body: { email, password: PASSWORD, name: `Race ${role} ${n}`, role } });
  if (!registered.data) throw new Error(`registerUser ${email}: ${describe(registered)}`);
  const session = await api.login({ client, body: { email, password: PASSWORD } });
  if (!session.data) throw new Error(`login ${email}: ${describe(session)}`);
  return { id: registered.data.id, token: session.data.access_token };
}

function describe(result: { response: Response; error?: unknown }): string {
  const problem = result.error as Partial<Problem> | undefined;
  return `${result.response.status} ${problem?.code ?? ''} ${problem?.detail ?? ''}`.trim();
}

type Attempt = Awaited<ReturnType<typeof api.createBooking>>;
type Outcome = { kind: 'won'; booking: Booking; replayed: boolean } | { kind: 'lost' } | { kind: 'failed'; why: string };

/** Sends every request at once; a network error counts as a failure, not a crash. */
async function fireAll(count: number, send: (i: number) => Promise<Attempt>): Promise<Outcome[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i): Promise<Outcome> => {
      try {
        const result = await send(i);
        if (result.response.status === 201 && result.data) {
          return { kind: 'won', booking: result.data, replayed: result.response.headers.get('Idempotent-Replayed') === 'true' };
        }
        if (result.response.status === 409 && ('error' in result ? (result.error as Problem | undefined)?.code : undefined) === 'dates_unavailable') return { kind: 'lost' };
        return { kind: 'failed', why: describe(result) };
      } catch (error) {
        return { kind: 'failed', why: error instanceof Error ? error.message : String(error) };
      }
    }),
  );
}

const row = (label: string, value: number | string, note = '') => console.log(`   ${label.padEnd(32)}${String(value).padStart(5)}${note ? `  ${note}` : ''}`);

function printFailures(outcomes: Outcome[]): void {
  const reasons = new Map<string, number>();
  for (const o of outcomes) if (o.kind === 'failed') reasons.set(o.why, (reasons.get(o.why) ?? 0) + 1);
  for (const [why, count] of reasons) console.log(`     ${count} x ${why}`);
}

async function main(): Promise<boolean> {
  console.log(`Booking race against ${urls.join(' and ')}`);
  const setupStarted = Date.now();
  const host = await newAccount(clients[0]!, 'host', 1);
  const listing = await api.createProperty({
    client: clients[0]!,
    auth: host.token,
    body: {
      name: `Race loft ${run}`, description: 'A listing made by npm run race:bookings.',
      city: `Raceville ${run}`, country: 'PT', latitude: 38.7, longitude: -9.14,
      price_per_night: 10000, currency: 'EUR', cleaning_fee: 2500, max_guests: 2, bedrooms: 1,
      amenities: ['wifi'], photos: [], cancellation_policy: 'flexible', min_nights: 1, max_nights: 30,
    },
  });
  if (!listing.data) throw new Error(`createProperty: ${describe(listing)}`);
  // Passwords are argon2id, slow on purpose: a few registrations at a time, before the race.
  const guests: Account[] = [];
  for (let i = 0; i < requests; i += 5) {
    const batch = Array.from({ length: Math.min(5, requests - i) }, (_, j) => newAccount(clientAt(i + j), 'guest', i + j + 1));
    guests.push(...(await Promise.all(batch)));
  }
  console.log(`setup: a host, one listing ("${listing.data.name}"), ${requests} guests signed in (${((Date.now() - setupStarted) / 1000).toFixed(1)} s)`);

  const today = utcToday();
  const stay: BookingInput = { property_id: listing.data.id, check_in: addDays(today, 30), check_out: addDays(today, 33), guests: 2 };
  console.log(`\n1. ${requests} guests book the same nights (${stay.check_in} to ${stay.check_out}) at once`);
  let started = Date.now();
  // Each guest books through a server other than the one it signed in on, when there are two.
  const race = await fireAll(requests, (i) => api.createBooking({ client: clientAt(i + 1), auth: guests[i]!.token, body: stay }));
  const elapsed1 = Date.now() - started;
  const won = race.filter((o) => o.kind === 'won').length;
  const raceFailed = race.filter((o) => o.kind === 'failed').length;
  row('won (201)', won);
  row('lost (409 dates_unavailable)', race.filter((o) => o.kind === 'lost').length);
  row('failed (anything else)', raceFailed);
  printFailures(race);
  console.log(`   ${clients.length === 2 ? `spread over 2 servers, ${Math.ceil(requests / 2)} + ${Math.floor(requests / 2)} requests` : 'one server'}, ${elapsed1} ms`);

  const retryStay: BookingInput = { ...stay, check_in: addDays(today, 40), check_out: addDays(today, 42) };
  const key = `race-${run}`;
  console.log(`\n2. one guest sends the same booking ${requests} times at once with one Idempotency-Key (${retryStay.check_in} to ${retryStay.check_out})`);
  started = Date.now();
  const retries = await fireAll(requests, (i) =>
    api.createBooking({ client: clientAt(i), auth: guests[0]!.token, body: retryStay, headers: { 'Idempotency-Key': key } }),
  );
  const elapsed2 = Date.now() - started;
  const answered = retries.flatMap((o) => (o.kind === 'won' ? [o] : []));
  const bookingIds = new Set(answered.map((o) => o.booking.id));
  const retriesFailed = retries.length - answered.length;
  row('201 with the booking', answered.length, `(${answered.filter((o) => !o.replayed).length} original, ${answered.filter((o) => o.replayed).length} replayed)`);
  row('distinct bookings made', bookingIds.size);
  row('failed (anything else)', retriesFailed);
  printFailures(retries);
  console.log(`   ${elapsed2} ms`);

  // What the host sees on the listing: the one stay of each round, nothing more.
  const onListing = await api.listBookings({ client: clients[0]!, auth: host.token, query: { role: 'host', limit: 100 } });
  const held = (onListing.data?.data ?? []).filter((b) => b.status === 'pending' || b.status === 'confirmed');
  console.log(`\nthe host sees ${held.length} held stay${held.length === 1 ? '' : 's'} on the listing:`);
  for (const b of held) console.log(`   ${b.check_in} to ${b.check_out}  ${b.status}  guest ${b.guest_id}`);

  const ok = won === 1 && raceFailed === 0 && bookingIds.size === 1 && retriesFailed === 0 && held.length === 2;
  console.log(ok ? '\nOK: exactly one booking won each round; nothing failed.' : '\nFAILED: expected exactly one winner per round, no failures and two stays on the listing.');
  return ok;
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (error: unknown) => {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    console.error(cause === 'ECONNREFUSED' ? `No server answers at ${urls.join(' or ')}: start one with npm start.` : error);
    process.exit(2);
  },
);
