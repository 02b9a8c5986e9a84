/**
 * The race the bookings issue promises to win: many guests book the same nights
 * of one listing at the same moment, through two server processes on one
 * PostgreSQL database (this test's in-process server and a real child process
 * started like `npm start`). The database's exclusion constraint decides: one
 * stay wins, every other request is told 409 dates_unavailable, none fails, and
 * the database holds one stay. The same for one guest's concurrent retries with
 * one Idempotency-Key: one booking, replayed to every retry.
 *
 * On the embedded PGlite (one process by nature) the child process is skipped
 * and every request goes to the in-process server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../generated/client/client/index.js';
import * as api from '../generated/client/sdk.gen.js';
import type { Booking, BookingInput, Property } from '../generated/client/types.gen.js';
import { createHost, createProperty, createUser, fromToday, type Account } from './support/factories.js';
import { expectProblem } from './support/problems.js';
import { clientFor, embedded, redisUrl } from './support/server.js';
import { useTestApp } from './support/app.js';

const GUESTS = 24;
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

const { env, server } = useTestApp();
let child: ChildProcess | undefined;
/** The servers requests are spread across: the in-process one and, on PostgreSQL, the child process. */
let clients: Client[];
let host: Account;
let guests: Account[];

/**
 * `npm start` in a child process on this file's database and Redis; resolves
 * with the URL it prints once it listens.
 */
function startChildServer(databaseUrl: string, redisKeyPrefix: string): Promise<{ process: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      // The same keys as the in-process server, so a session made on one is valid on the other.
      REDIS_KEY_PREFIX: redisKeyPrefix,
      PORT: '0',
      NODE_ENV: 'test',
      SEED_DEMO_DATA: 'false',
      LOG_REQUESTS: 'false',
      // Nothing may depend on a sweep; keep it from touching rows mid-test.
      BOOKING_SWEEP_SECONDS: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Staybook API listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) resolve({ process: proc, url: match[1] });
    };
    proc.stdout?.on('data', onData);
    // A 500 in the child is printed to its stderr: show it, so a failed race explains itself.
    proc.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      process.stderr.write(`[child server] ${chunk.toString()}`);
    });
    proc.once('exit', (code) => reject(new Error(`the child server exited (${code}) before listening:\n${output}`)));
    proc.once('error', reject);
  });
}

async function stopChildServer(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  await exited;
}

beforeAll(async () => {
  clients = [server.client];
  if (!embedded) {
    const started = await startChildServer(env.databaseUrl!, env.redisKeyPrefix);
    child = started.process;
    clients.push(clientFor(started.url));
  }
  // argon2id is slow on purpose: make every guest before the race, a few at a time,
  // each registered and signed in on one server and later booking through the other.
  host = await createHost(server.client);
  guests = [];
  for (let i = 0; i < GUESTS; i += 4) {
    guests.push(...(await Promise.all([0, 1, 2, 3].map((j) => createUser(clientAt(i + j), { name: `Racer ${i + j + 1}` })))));
  }
});

// Runs before the fixture's own afterAll (the last registered runs first): the child leaves the database first.
afterAll(async () => {
  if (child) await stopChildServer(child);
});

/** Requests alternate between the servers. */
function clientAt(index: number): Client {
  return clients[index % clients.length]!;
}

async function newListing(): Promise<Property> {
  return createProperty(server.client, host, { city: `Raceville-${randomUUID().slice(0, 8)}`, min_nights: 1, max_nights: 30, max_guests: 4 });
}

/** Stays of a listing as the database holds them, those that hold their dates first. */
async function staysOf(propertyId: string) {
  return server.deps.db
    .selectFrom('bookings')
    .select(['id', 'guest_id', 'check_in', 'check_out', 'status'])
    .where('property_id', '=', propertyId)
    .orderBy('check_in')
    .execute();
}

type Attempt = Awaited<ReturnType<typeof api.createBooking>>;

/** Every request sent at once; each guest's request goes to the server other than the one it signed in on. */
function raceAll(requests: { guest: Account; body: BookingInput; headers?: Record<string, string> }[]): Promise<Attempt[]> {
  return Promise.all(
    requests.map(({ guest, body, headers }, i) => api.createBooking({ client: clientAt(i + 1), auth: guest.token, body, ...(headers ? { headers } : {}) })),
  );
}

function overlap(a: { check_in: string; check_out: string }, b: { check_in: string; check_out: string }): boolean {
  return a.check_in < b.check_out && b.check_in < a.check_out;
}

describe('createBooking under concurrency', () => {
  it('uses two server processes that share sessions', async () => {
    expect(clients).toHaveLength(embedded ? 1 : 2);
    // A token issued by one process is honoured by the other: sessions live in Redis.
    for (const [i, guest] of guests.slice(0, 2).entries()) {
      const me = await api.getCurrentUser({ client: clientAt(i + 1), auth: guest.token });
      expect(me.response.status).toBe(200);
      expect(me.data?.id).toBe(guest.id);
    }
  });

  it(`${GUESTS} guests booking the same nights at once: one wins, every other gets 409 dates_unavailable`, async () => {
    const listing = await newListing();
    const stay = { property_id: listing.id, check_in: fromToday(30), check_out: fromToday(33), guests: 2 };

    const results = await raceAll(guests.map((guest) => ({ guest, body: stay })));

    const statuses = results.map((r) => r.response.status);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    const won = results.filter((r) => r.response.status === 201);
    expect(won).toHaveLength(1);
    for (const lost of results.filter((r) => r.response.status !== 201)) expectProblem(lost, 409, 'dates_unavailable');

    const winner = won[0]!.data as Booking;
    expect(winner).toMatchObject({ ...stay, status: 'pending' });
    const winnerIndex = results.indexOf(won[0]!);
    expect(winner.guest_id).toBe(guests[winnerIndex]!.id);
    // The losers' transactions rolled back: the one stay is the only row.
    expect(await staysOf(listing.id)).toEqual([
      { id: winner.id, guest_id: winner.guest_id, check_in: stay.check_in, check_out: stay.check_out, status: 'pending' },
    ]);
  });

  it('guests booking overlapping stays shifted by one night at once: only a set of stays that do not overlap wins', async () => {
    const listing = await newListing();
    // Stay i is nights [40 + i, 42 + i): each overlaps its neighbours, so at most every other one can win.
    const stays = guests.map((_, i) => ({ property_id: listing.id, check_in: fromToday(40 + i), check_out: fromToday(42 + i), guests: 1 }));

    const results = await raceAll(guests.map((guest, i) => ({ guest, body: stays[i]! })));

    expect(results.map((r) => r.response.status).filter((s) => s >= 500)).toEqual([]);
    const won = results.flatMap((r) => (r.response.status === 201 ? [r.data as Booking] : []));
    for (const lost of results.filter((r) => r.response.status !== 201)) expectProblem(lost, 409, 'dates_unavailable');
    expect(won.length).toBeGreaterThanOrEqual(1);
    expect(won.length).toBeLessThanOrEqual(GUESTS / 2);
    for (const [i, a] of won.entries()) for (const b of won.slice(i + 1)) expect(overlap(a, b), `${a.check_in}..${a.check_out} and ${b.check_in}..${b.check_out}`).toBe(false);
    // Each loser overlaps some winner: it lost to a real conflict, not to contention.
    for (const [i, r] of results.entries()) {
      if (r.response.status !== 201) expect(won.some((w) => overlap(w, stays[i]!))).toBe(true);
    }

    const rows = await staysOf(listing.id);
    expect(rows.map((row) => row.id).sort()).toEqual(won.map((b) => b.id).sort());
    expect(rows.every((row) => row.status === 'pending')).toBe(true);
    for (const [i, a] of rows.entries()) for (const b of rows.slice(i + 1)) expect(overlap(a, b)).toBe(false);
  });

  it(`one guest retrying with one Idempotency-Key ${GUESTS} times at once: one booking, replayed to every retry`, async () => {
    const listing = await newListing();
    const guest = guests[0]!;
    const key = `race-${randomUUID()}`;
    const stay = { property_id: listing.id, check_in: fromToday(70), check_out: fromToday(72), guests: 2 };

    const results = await raceAll(Array.from({ length: GUESTS }, () => ({ guest, body: stay, headers: { 'Idempotency-Key': key } })));

    expect(results.map((r) => r.response.status)).toEqual(results.map(() => 201));
    const ids = new Set(results.map((r) => (r.data as Booking).id));
    expect(ids.size).toBe(1);
    // The first response is the original; every other one is its replay, byte for byte the same booking.
    const replayed = results.filter((r) => r.response.headers.get('Idempotent-Replayed') === 'true');
    expect(replayed).toHaveLength(GUESTS - 1);
    const original = results.find((r) => !replayed.includes(r))!;
    for (const r of replayed) expect(r.data).toEqual(original.data);
    expect(original.data).toMatchObject({ ...stay, guest_id: guest.id, status: 'pending' });

    const [bookingId] = ids;
    expect(await staysOf(listing.id)).toEqual([{ id: bookingId, guest_id: guest.id, check_in: stay.check_in, check_out: stay.check_out, status: 'pending' }]);
    const keys = await server.deps.db.selectFrom('idempotency_keys').select(['response_status']).where('key', '=', key).execute();
    expect(keys).toEqual([{ response_status: 201 }]);

    // The same key with another body, on either server: refused, and nothing changes.
    const keyRowBefore = await server.deps.db.selectFrom('idempotency_keys').selectAll().where('key', '=', key).executeTakeFirstOrThrow();
    const other = { ...stay, check_in: fromToday(80), check_out: fromToday(82) };
    const reused = await Promise.all(clients.map((client) => api.createBooking({ client, auth: guest.token, body: other, headers: { 'Idempotency-Key': key } })));
    for (const r of reused) expectProblem(r, 409, 'idempotency_key_reused');
    expect(await staysOf(listing.id)).toEqual([{ id: bookingId, guest_id: guest.id, check_in: stay.check_in, check_out: stay.check_out, status: 'pending' }]);
    expect(await server.deps.db.selectFrom('idempotency_keys').selectAll().where('key', '=', key).executeTakeFirstOrThrow()).toEqual(keyRowBefore);
  });

  it('leaves no booking behind that breaks the no-overlap rule', async () => {
    // Belt and braces over the whole database after the races: no two held stays of one listing overlap.
    const clashes = await sql<{ n: number }>`
      select count(*)::int as n from bookings a join bookings b
        on a.property_id = b.property_id and a.id < b.id
       and daterange(a.check_in, a.check_out, '[)') && daterange(b.check_in, b.check_out, '[)')
      where a.status in ('pending', 'confirmed') and b.status in ('pending', 'confirmed')`.execute(server.deps.db);
    expect(clashes.rows[0]?.n).toBe(0);
  });
});
