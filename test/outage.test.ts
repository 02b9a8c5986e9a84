/**
 * Dependencies that come and go, tried as an operator would: two real server
 * processes (`node --import tsx server/main.ts`) on a PostgreSQL and a Redis of
 * this test's own, a small load running throughout, Redis killed for a few
 * seconds, then PostgreSQL stopped (`pg_ctl stop -m fast`) for a few seconds.
 *
 * What must hold: no process exits. Redis down: anonymous and signed-in reads
 * answer 200 (sessions come from PostgreSQL), signing in and out works, /readyz
 * stays 200 and names redis. PostgreSQL down: 503 service_unavailable with
 * Retry-After within 2 s, /readyz 503 naming the database within 1 s. After each,
 * everything answers as before within a bound, with the same sessions; the time
 * to recover is printed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../server/sessions.js';
import { propertyInput, uniqueEmail } from './support/factories.js';
import {
  call,
  kindOf,
  startLoad,
  startOwnPostgres,
  startOwnRedis,
  startServerProcess,
  timeUntil,
  type Answer,
  type Load,
  type OwnPostgres,
  type OwnRedis,
  type ServerProcess,
} from './support/instances.js';

/** The longest an answer may take while a dependency is down. */
const OUTAGE_ANSWER_MS = 2000;
const READYZ_MS = 1000;
/** The longest the service may take to answer normally again once the dependency is back. */
const RECOVERY_MS = 10_000;
const OUTAGE_MS = 3000;

let postgres: OwnPostgres;
let redis: OwnRedis;
let servers: ServerProcess[] = [];
let outboxDir: string;
let guestToken: string;
let hostToken: string;
let load: Load;
const windows: Record<'redis' | 'postgres', { from: number; to: number }> = { redis: { from: 0, to: 0 }, postgres: { from: 0, to: 0 } };

const KEY_PREFIX = 'staybook-outage:';

async function signUpAndIn(url: string, role: 'guest' | 'host'): Promise<string> {
  const email = uniqueEmail(role);
  const password = 'outage test passphrase';
  const registered = await call(`${url}/users`, { method: 'POST', body: { email, password, name: `Outage ${role}`, role } });
  expect(registered.status, JSON.stringify(registered.body)).toBe(201);
  const login = await call(`${url}/auth/login`, { method: 'POST', body: { email, password } });
  expect(login.status, JSON.stringify(login.body)).toBe(200);
  return (login.body as { access_token: string }).access_token;
}

function expectAlive(): void {
  for (const server of servers) {
    expect(server.exited(), `a server process exited; its output:\n${server.output().slice(-4000)}`).toBeUndefined();
  }
}

beforeAll(async () => {
  [postgres, redis] = await Promise.all([startOwnPostgres(), startOwnRedis()]);
  outboxDir = mkdtempSync(path.join(tmpdir(), 'staybook-outage-outbox-'));
  const env = { DATABASE_URL: postgres.url, REDIS_URL: redis.url, REDIS_KEY_PREFIX: KEY_PREFIX, MAIL_OUTBOX_DIR: outboxDir };
  // One at a time: both would run the migrations at once on a fresh database.
  servers.push(await startServerProcess(env));
  servers.push(await startServerProcess(env));
  const [a] = servers as [ServerProcess, ServerProcess];
  hostToken = await signUpAndIn(a.url, 'host');
  guestToken = await signUpAndIn(a.url, 'guest');
  const listing = await call(`${a.url}/properties`, { method: 'POST', token: hostToken, body: propertyInput({ city: 'Porto' }) });
  expect(listing.status, JSON.stringify(listing.body)).toBe(201);
  // A small load for the whole file: anonymous searches and signed-in reads on both processes.
  load = startLoad(
    servers.flatMap((server) => [
      { label: 'anonymous read', url: `${server.url}/properties?city=Porto` },
      { label: 'signed-in read', url: `${server.url}/users/me`, token: guestToken },
    ]),
    { concurrency: 4, maxMs: 120_000, pauseMs: 20 },
  );
}, 240_000);

afterAll(async () => {
  await load?.stop();
  await Promise.all(servers.map((server) => server.stop()));
  await Promise.all([postgres?.destroy(), redis?.destroy()]);
  if (outboxDir) rmSync(outboxDir, { recursive: true, force: true });
}, 60_000);

describe('while Redis is down', () => {
  it('keeps answering: reads 200, signed-in reads from PostgreSQL, sign-in and sign-out work, /readyz 200 naming redis', async () => {
    for (const server of servers) expect((await call(`${server.url}/users/me`, { token: guestToken })).status).toBe(200);

    windows.redis.from = Date.now();
    await redis.stop();
    await sleep(500);
    expectAlive();

    for (const server of servers) {
      const anonymous = await call(`${server.url}/properties?city=Porto`);
      expect([anonymous.status, anonymous.ms < OUTAGE_ANSWER_MS]).toEqual([200, true]);
      expect((anonymous.body as { data: unknown[] }).data).toHaveLength(1);

      const me = await call(`${server.url}/users/me`, { token: guestToken });
      expect([me.status, me.ms < OUTAGE_ANSWER_MS], JSON.stringify(me.body)).toEqual([200, true]);

      const ready = await call(`${server.url}/readyz`);
      expect(ready.ms).toBeLessThan(READYZ_MS);
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({ status: 'degraded', checks: { database: 'ok', redis: 'unreachable' }, unavailable: ['redis'] });
    }

    // A sign-in works (its session is written to PostgreSQL), on one process and is seen by the other.
    const [a, b] = servers as [ServerProcess, ServerProcess];
    const fresh = await signUpAndIn(a.url, 'guest');
    expect((await call(`${b.url}/users/me`, { token: fresh })).status).toBe(200);
    // A wrong password is still refused (the throttle counts in this process meanwhile).
    const wrong = await call(`${a.url}/auth/login`, { method: 'POST', body: { email: uniqueEmail('nobody'), password: 'not it at all' } });
    expect([wrong.status, wrong.code]).toEqual([401, 'invalid_credentials']);
    // A sign-out ends the token on every process at once.
    expect((await call(`${b.url}/auth/logout`, { method: 'POST', token: fresh })).status).toBe(204);
    for (const server of servers) expect((await call(`${server.url}/users/me`, { token: fresh })).status).toBe(401);

    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - windows.redis.from)));
    expectAlive();
  }, 60_000);

  it('is back in use within a bound once Redis returns, and nobody was signed out', async () => {
    await redis.start();
    windows.redis.to = Date.now();
    const recovered = await Promise.all(
      servers.map((server) => timeUntil(() => call(`${server.url}/readyz`), (answer) => answer.status === 200 && (answer.body as { status?: string }).status === 'ok', RECOVERY_MS)),
    );
    console.log(`Redis back: /readyz ok again after ${recovered.join(' ms and ')} ms`);

    for (const server of servers) expect((await call(`${server.url}/users/me`, { token: guestToken })).status).toBe(200);
    // New sessions are cached in Redis again.
    const token = await signUpAndIn((servers[0] as ServerProcess).url, 'guest');
    const client = new Redis(redis.url);
    try {
      expect(await client.exists(`${KEY_PREFIX}session:${hashToken(token)}`)).toBe(1);
    } finally {
      client.disconnect();
    }
    expectAlive();
  }, 60_000);
});

describe('while PostgreSQL is down', () => {
  it('answers 503 service_unavailable with Retry-After within 2 s, and /readyz 503 naming the database within 1 s', async () => {
    windows.postgres.from = Date.now();
    await postgres.stop();
    expectAlive();

    const problems: Answer[] = [];
    for (const [index, server] of servers.entries()) {
      // A search nobody made before: the read cache (Redis is up) may still answer the ones the load made.
      problems.push(await call(`${server.url}/properties?city=Porto&guests=${7 + index}`));
      problems.push(await call(`${server.url}/users/me`, { token: guestToken }));
      problems.push(await call(`${server.url}/auth/login`, { method: 'POST', body: { email: uniqueEmail('any'), password: 'whatever it is' } }));
      const ready = await call(`${server.url}/readyz`);
      expect(ready.ms).toBeLessThan(READYZ_MS);
      expect(ready.status).toBe(503);
      expect(ready.retryAfter).toMatch(/^\d+$/);
      expect(ready.body).toMatchObject({ status: 'unavailable', checks: { database: 'unreachable', redis: 'ok' }, unavailable: ['database'] });
    }
    for (const problem of problems) {
      expect([problem.status, problem.code], JSON.stringify(problem.body)).toEqual([503, 'service_unavailable']);
      expect(problem.retryAfter).toMatch(/^\d+$/);
      expect(problem.ms).toBeLessThan(OUTAGE_ANSWER_MS);
    }

    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - windows.postgres.from)));
    expectAlive();
  }, 60_000);

  it('recovers on its own once PostgreSQL is back, with every session intact', async () => {
    await postgres.start();
    windows.postgres.to = Date.now();
    const recovered = await Promise.all(
      servers.map((server) => timeUntil(() => call(`${server.url}/users/me`, { token: guestToken }), (answer) => answer.status === 200, RECOVERY_MS)),
    );
    console.log(`PostgreSQL back: signed-in reads answer 200 again after ${recovered.join(' ms and ')} ms`);

    for (const server of servers) {
      expect((await call(`${server.url}/properties?city=Porto`)).status).toBe(200);
      expect((await call(`${server.url}/readyz`)).body).toMatchObject({ status: 'ok', checks: { database: 'ok', redis: 'ok' } });
    }
    expect((await call(`${(servers[1] as ServerProcess).url}/users/me`, { token: hostToken })).status).toBe(200);
    expectAlive();
  }, 60_000);
});

describe('the load that ran throughout', () => {
  it('got only 200s, and 503 service_unavailable with Retry-After only around the PostgreSQL outage: no 500, no reset', async () => {
    const answers = await load.stop();
    const tally = new Map<string, number>();
    for (const answer of answers) tally.set(`${answer.label}: ${kindOf(answer)}`, (tally.get(`${answer.label}: ${kindOf(answer)}`) ?? 0) + 1);
    console.log(`load: ${answers.length} requests\n${[...tally].map(([kind, n]) => `  ${kind.padEnd(48)} ${n}`).join('\n')}`);

    expect(answers.length).toBeGreaterThan(50);
    const duringRedisOutage = answers.filter((answer) => answer.at >= windows.redis.from && answer.at <= windows.redis.to);
    expect(duringRedisOutage.length).toBeGreaterThan(0);
    expect(duringRedisOutage.filter((answer) => answer.status !== 200).map(kindOf)).toEqual([]);
    // A request sent just before the stop may meet it: the window starts a little early.
    const aroundPostgresOutage = (at: number) => at >= windows.postgres.from - OUTAGE_ANSWER_MS && at <= windows.postgres.to + RECOVERY_MS;
    for (const answer of answers) {
      if (answer.status === 200) continue;
      expect([kindOf(answer), aroundPostgresOutage(answer.at)]).toEqual(['503 service_unavailable', true]);
      expect(answer.retryAfter).toMatch(/^\d+$/);
    }
    expect(answers.some((answer) => answer.status === 503)).toBe(true);
    expectAlive();
  });
});
