/**
 * The fallbacks behind the outage test, one by one and quickly: sessions read
 * from PostgreSQL when Redis is unreachable (and a Redis restart signs nobody
 * out), sign-in throttling counted in the process meanwhile, and the errors of an
 * unreachable PostgreSQL answered as 503 service_unavailable with Retry-After.
 * Redis here is one of the test's own (killed at will) or a port nobody listens on.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseConnectionError, openDatabase, type Database } from '../db/index.js';
import { migrateToLatest } from '../db/migrate.js';
import { insertUser } from '../db/users.js';
import { loadConfig } from '../server/config.js';
import { toApiError, type ApiError } from '../server/errors.js';
import { createLimits } from '../server/limits.js';
import { connectRedis, redisIsDown } from '../server/redis.js';
import { hashToken, sessionStore, type SessionStore } from '../server/sessions.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { freePort, startOwnRedis, type OwnRedis } from './support/instances.js';
import { eventually } from './support/server.js';
import { uniqueEmail } from './support/factories.js';

/** The longest any session or throttle call may take while Redis is unreachable. */
const BOUND_MS = 1000;
const quiet = () => {};

let testDb: TestDatabase;
let database: Database;
let ownRedis: OwnRedis;
let deadRedis: Redis;
const clients: Redis[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await openDatabase({ databaseUrl: testDb.url });
  await migrateToLatest(database.db);
  ownRedis = await startOwnRedis();
  // Nothing listens on this port: every connection attempt is refused.
  deadRedis = connectRedis(`redis://127.0.0.1:${await freePort()}`, { keyPrefix: 'dead:', log: quiet });
  clients.push(deadRedis);
  await eventually(async () => expect(redisIsDown(deadRedis)).toBe(true), 5000);
});

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await ownRedis?.destroy();
  await database?.close();
  await testDb?.drop();
});

async function newUserId(): Promise<string> {
  const row = await insertUser(database.db, { email: uniqueEmail(), password_hash: 'x', role: 'guest', name: 'Fallback' });
  return row.id;
}

async function timed<T>(work: Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work;
  expect(performance.now() - started).toBeLessThan(BOUND_MS);
  return result;
}

describe('sessions while Redis is unreachable', () => {
  let sessions: SessionStore;
  beforeAll(() => {
    sessions = sessionStore({ db: database.db, redis: deadRedis, log: quiet });
  });

  it('signs in, resolves and signs out from PostgreSQL alone, each within a second', async () => {
    const userId = await newUserId();
    const { token } = await timed(sessions.create(userId, 3600));
    expect(await timed(sessions.resolve(token))).toMatchObject({ userId });

    await timed(sessions.revoke(token));

    expect(await timed(sessions.resolve(token))).toBeNull();
    const row = await database.db.selectFrom('sessions').select('token_hash').where('token_hash', '=', hashToken(token)).executeTakeFirst();
    expect(row).toBeUndefined();
  });

  it('ends every other session of a user and keeps the one given', async () => {
    const userId = await newUserId();
    const [kept, other] = await Promise.all([sessions.create(userId, 3600), sessions.create(userId, 3600)]);

    await timed(sessions.revokeAllForUser(userId, kept.token));

    expect(await sessions.resolve(kept.token)).toMatchObject({ userId });
    expect(await sessions.resolve(other.token)).toBeNull();
  });
});

describe('a Redis restart', () => {
  it('signs nobody out: the session is read from PostgreSQL while Redis is gone, and cached again once it is back', async () => {
    const redis = connectRedis(ownRedis.url, { keyPrefix: 'restart:', log: quiet });
    clients.push(redis);
    const sessions = sessionStore({ db: database.db, redis, log: quiet });
    const userId = await newUserId();
    const { token } = await sessions.create(userId, 3600);
    expect(await redis.exists(`session:${hashToken(token)}`)).toBe(1);

    await ownRedis.stop();
    await eventually(async () => expect(redisIsDown(redis)).toBe(true), 5000);
    expect(await timed(sessions.resolve(token))).toMatchObject({ userId });

    await ownRedis.start();
    await eventually(async () => expect(redis.status).toBe('ready'), 10_000);
    // Redis came back empty (no persistence): the next read fills the cache from the table.
    expect(await sessions.resolve(token)).toMatchObject({ userId });
    await eventually(async () => expect(await redis.exists(`session:${hashToken(token)}`)).toBe(1), 5000);
    // And a sign-out drops it from both.
    await sessions.revoke(token);
    expect(await redis.exists(`session:${hashToken(token)}`)).toBe(0);
    expect(await sessions.resolve(token)).toBeNull();
  });
});

describe('sign-in throttle while Redis is unreachable', () => {
  it('counts attempts in this process: refused after the limit with a Retry-After within the window, and never throws', async () => {
    const limits = createLimits({ redis: deadRedis, config: { ...loadConfig({ NODE_ENV: 'test' }), loginMaxFailures: 3, loginWindowSeconds: 60 }, log: quiet });
    const email = uniqueEmail('throttled');

    for (let i = 0; i < 3; i++) await timed(limits.signInAttempt(email));
    const refused = await timed(limits.signInAttempt(email).then(() => undefined, (err: unknown) => err as ApiError));
    expect(refused?.code).toBe('rate_limited');
    expect(Number(refused?.headers?.['Retry-After'])).toBeGreaterThan(0);
    expect(Number(refused?.headers?.['Retry-After'])).toBeLessThanOrEqual(60);
    await timed(limits.signInAttempt(uniqueEmail('someone-else')));

    await timed(limits.signInSucceeded(email));
    await timed(limits.signInAttempt(email));
  });

  it('goes back to the shared count in Redis once Redis answers', async () => {
    const redis = connectRedis(ownRedis.url, { keyPrefix: 'throttle:', log: quiet });
    clients.push(redis);
    await eventually(async () => expect(redis.status).toBe('ready'), 10_000);
    const limits = createLimits({ redis, config: { ...loadConfig({ NODE_ENV: 'test' }), loginMaxFailures: 2 }, log: quiet });
    const email = uniqueEmail('shared');

    await limits.signInAttempt(email);
    await limits.signInAttempt(email);

    expect((await redis.keys('throttle:limit:sign-in-email-address:*')).length).toBe(1);
    await expect(limits.signInAttempt(email)).rejects.toMatchObject({ code: 'rate_limited' });
  });
});

describe('PostgreSQL unreachable', () => {
  it.each([
    ['08001 (could not connect)', new DatabaseConnectionError('08001', new Error('connect ECONNREFUSED'))],
    ['08006 (connection lost)', new DatabaseConnectionError('08006', new Error('Connection terminated unexpectedly'))],
    ['57P01 (terminated by the administrator)', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })],
    ['57P03 (starting up)', Object.assign(new Error('the database system is starting up'), { code: '57P03' })],
  ])('answers %s with 503 service_unavailable and Retry-After, not as an unexpected error', (_, err) => {
    const { error, unexpected } = toApiError(err);

    expect([error.status, error.code, unexpected]).toEqual([503, 'service_unavailable', false]);
    expect(error.headers?.['Retry-After']).toMatch(/^\d+$/);
  });

  it('fails a query within the connect timeout when nothing listens, with 08001', async () => {
    const nowhere = await openDatabase({ databaseUrl: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`, log: quiet });
    try {
      const started = performance.now();
      const failure = await nowhere.db.selectFrom('users').select('id').execute().then(() => undefined, (err: unknown) => err);
      expect(performance.now() - started).toBeLessThan(BOUND_MS * 2);
      expect(failure).toBeInstanceOf(DatabaseConnectionError);
      expect((failure as DatabaseConnectionError).code).toBe('08001');
    } finally {
      await nowhere.close();
    }
  });
});
