/**
 * Graceful shutdown and a rolling restart, as a deploy does it: two real server
 * processes (`node --import tsx server/main.ts`, one throwaway database, the shared
 * Redis under a key prefix of their own) behind one address take a steady load of
 * reads and bookings over keep-alive connections while each in turn is taken out
 * of the balancer, stopped with SIGTERM and started again. Requests that were in
 * flight at the SIGTERM are answered (with `Connection: close`), nothing is reset,
 * and no write is lost: every 201 booking is in the database, and every booking in
 * the database was answered 201.
 *
 * The one address is a small round-robin HTTP proxy in this file, in the role of a
 * load balancer: it takes a process out of rotation before the SIGTERM, as a
 * balancer deregisters an instance before it is stopped. SO_REUSEPORT would need
 * Node 22.12 (`reusePort`), and the kernel then resets connections still queued
 * on the socket of the process that stops, which is not how deploys are run.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createHost, createProperty, createUser, fromToday, type Account } from './support/factories.js';
import { startServerProcess, type ServerProcess } from './support/instances.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { clientFor, redisUrl } from './support/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const started: ServerProcess[] = [];
let database: TestDatabase | undefined;
const outboxDir = mkdtempSync(path.join(tmpdir(), 'staybook-outbox-'));
afterAll(async () => {
  await Promise.all(started.map((server) => server.stop()));
  await database?.drop();
  rmSync(outboxDir, { recursive: true, force: true });
});

/** `npm start`'s entry point as a child process on a free port (test/support/instances.ts), stopped after the file. */
async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const server = await startServerProcess({ LOG_REQUESTS: 'false', ...env });
  started.push(server);
  return server;
}

/** A round-robin HTTP proxy with keep-alive connections to its backends: the one address clients use. */
async function startBalancer() {
  const rotation: string[] = [];
  const inFlight = new Map<string, number>();
  const failures: string[] = [];
  const agent = new http.Agent({ keepAlive: true });
  let turn = 0;
  const hopByHop = (headers: http.IncomingHttpHeaders) => {
    const { connection: _connection, 'keep-alive': _keepAlive, ...rest } = headers;
    return rest;
  };
  const server = http.createServer((req, res) => {
    const backend = rotation[turn++ % rotation.length];
    if (!backend) {
      failures.push('no backend in rotation');
      res.writeHead(503).end();
      return;
    }
    inFlight.set(backend, (inFlight.get(backend) ?? 0) + 1);
    const done = () => inFlight.set(backend, inFlight.get(backend)! - 1);
    const upstream = http.request(`${backend}${req.url}`, { method: req.method, headers: hopByHop(req.headers), agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, hopByHop(answer.headers));
      answer.pipe(res);
      answer.once('end', done);
    });
    upstream.once('error', (err) => {
      failures.push(`${req.method} ${req.url} to ${backend}: ${err.message}`);
      done();
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    failures,
    add: (backend: string) => void rotation.push(backend),
    remove: (backend: string) => void rotation.splice(rotation.indexOf(backend), 1),
    inFlightTo: (backend: string) => inFlight.get(backend) ?? 0,
    async close() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A booking whose client sends the headers now and the rest of the body when told:
 * a request the server has started on and not finished, whatever the machine's speed.
 */
function bookingInFlight(url: string, token: string, body: object) {
  const text = JSON.stringify(body);
  const agent = new http.Agent({ keepAlive: true });
  const request = http.request(`${url}/bookings`, {
    method: 'POST',
    agent,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
  });
  const answered = new Promise<{ status: number; connection: string | undefined; id: string | undefined }>((resolve, reject) => {
    request.once('response', (response) => {
      let received = '';
      response.on('data', (chunk) => (received += chunk));
      response.once('end', () => {
        agent.destroy();
        resolve({ status: response.statusCode ?? 0, connection: response.headers.connection, id: (JSON.parse(received) as { id?: string }).id });
      });
    });
    request.once('error', reject);
  });
  request.write(text.slice(0, 10));
  return { finish: () => request.end(text.slice(10)), answered };
}

describe('a rolling restart of two server processes behind one address', () => {
  it('answers every request of a load running through it, with 0 resets and 0 lost writes', async () => {
    database = await createTestDatabase();
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: `staybook-test-${randomBytes(6).toString('hex')}:`,
      MAIL_OUTBOX_DIR: outboxDir,
      SHUTDOWN_GRACE_SECONDS: '10',
      // The load holds thousands of unpaid one-night stays per guest, up to 25 years ahead: lift the hold limits.
      MAX_PENDING_HOLDS: '1000000',
      BOOKING_HORIZON_MONTHS: '1200',
    };
    const began = Date.now();
    const step = (what: string) => console.log(`${((Date.now() - began) / 1000).toFixed(1)} s: ${what}`);
    // Both at once: the migrator takes a lock, so one migrates the new database and the other finds it done.
    const servers = await Promise.all([startServer(env), startServer(env)]);
    step('two servers listening');
    const balancer = await startBalancer();
    for (const server of servers) balancer.add(server.url);

    const client = clientFor(balancer.url);
    const property = await createProperty(client, await createHost(client), { max_guests: 2 });
    const guests: Account[] = [];
    for (let i = 0; i < 4; i++) guests.push(await createUser(client));

    // The load: each of 4 clients (its own guest, keep-alive connections) books a stay
    // of one night on a day of its own, reads it back and reads the listing, about 4
    // times a second, until told to stop (or 4000 bookings).
    let day = 1;
    let stopped = false;
    const answered201 = new Set<string>();
    const statuses = new Map<string, number>();
    const errors: string[] = [];
    const count = (what: string) => statuses.set(what, (statuses.get(what) ?? 0) + 1);
    const MAX_BOOKINGS = 4000;
    const load = guests.map(async (guest) => {
      const auth = { authorization: `Bearer ${guest.token}` };
      while (!stopped && day <= MAX_BOOKINGS) {
        const stay = day++;
        try {
          const created = await fetch(`${balancer.url}/bookings`, {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/json' },
            body: JSON.stringify({ property_id: property.id, check_in: fromToday(stay), check_out: fromToday(stay + 1), guests: 1 }),
          });
          const booking = (await created.json()) as { id: string };
          count(`POST /bookings ${created.status}`);
          if (created.status !== 201) continue;
          answered201.add(booking.id);
          const read = await fetch(`${balancer.url}/bookings/${booking.id}`, { headers: auth });
          await read.arrayBuffer();
          count(`GET /bookings/{id} ${read.status}`);
          const listing = await fetch(`${balancer.url}/properties/${property.id}`);
          await listing.arrayBuffer();
          count(`GET /properties/{id} ${listing.status}`);
        } catch (err) {
          errors.push(String((err as Error).cause ?? err));
        }
        await sleep(250);
      }
    });

    await sleep(1000);
    const restarts: { inFlightAtSigterm: number; stopMs: number; exitCode: number | null }[] = [];
    for (let i = 0; i < servers.length; i++) {
      const old = servers[i]!;
      // A rolling update with a surge of one: the new process first, then the old one goes.
      const replacement = await startServer(env);
      servers[i] = replacement;
      balancer.add(replacement.url);
      step(`replacement ${i + 1} listening and in rotation`);
      // Two clients whose bookings the old server has begun reading when the deploy stops it.
      const held = [0, 1].map((n) =>
        bookingInFlight(old.url, guests[n]!.token, { property_id: property.id, check_in: fromToday(9000 + 10 * i + n), check_out: fromToday(9001 + 10 * i + n), guests: 1 }),
      );
      await sleep(1500);
      // The balancer stops sending it new requests and gives those already sent a moment to arrive.
      balancer.remove(old.url);
      await sleep(1000);
      const inFlightAtSigterm = balancer.inFlightTo(old.url) + held.length;
      const stopping = Date.now();
      old.child.kill('SIGTERM');
      await sleep(300);
      for (const request of held) request.finish();
      for (const { status, connection, id } of await Promise.all(held.map((request) => request.answered))) {
        // Finished after the SIGTERM, and the connection is closed after it.
        expect(status).toBe(201);
        expect(connection).toBe('close');
        answered201.add(id!);
        count('POST /bookings in flight at SIGTERM 201');
      }
      const exitCode = await old.exitCode;
      restarts.push({ inFlightAtSigterm, stopMs: Date.now() - stopping, exitCode });
      step(`old server ${i + 1} stopped with ${exitCode} after ${Date.now() - stopping} ms`);
      expect(exitCode, old.output()).toBe(0);
      await sleep(1000);
    }
    stopped = true;
    await Promise.all(load);

    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    const { rows } = await db.query<{ id: string }>('select id from bookings where property_id = $1', [property.id]);
    await db.end();
    console.log('rolling restart:', { restarts, requests: Object.fromEntries(statuses), bookings_in_database: rows.length, errors, balancer_failures: balancer.failures });

    expect(errors).toEqual([]);
    expect(balancer.failures).toEqual([]);
    expect([...statuses.keys()].every((key) => / 20[01]$/.test(key)), JSON.stringify(Object.fromEntries(statuses))).toBe(true);
    expect(answered201.size).toBeGreaterThan(20);
    expect(new Set(rows.map((row) => row.id))).toEqual(answered201);

    for (const server of servers) server.child.kill('SIGTERM');
    expect(await Promise.all(servers.map((server) => server.exitCode))).toEqual([0, 0]);
    await balancer.close();
  }, 600_000);
});
