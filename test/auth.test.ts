/**
 * Signing in and out: opaque tokens stored only as hashes (in the sessions table,
 * and cached in Redis when configured), sign-in throttling, expiry, malformed
 * credentials, and a logout that every server process sees at once.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { expectProblem } from './support/problems.js';
import { eventually, redisUrl, sleepUntil, type TestServer } from './support/server.js';
import { useTestApp } from './support/app.js';
import { createUser, signIn, uniqueEmail, type Account } from './support/factories.js';

/** Sessions in Redis (the default). */
const { env, server } = useTestApp();
/** Sessions in the database table, no Redis. */
const { env: dbEnv, server: dbServer } = useTestApp({ redis: false });
let redis: Redis;

beforeAll(() => {
  redis = new Redis(redisUrl);
});
afterAll(() => redis.disconnect());

const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');

/** Every `session:*` key in Redis with its value. */
async function redisSessions(): Promise<Array<{ key: string; value: string | null }>> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${env.redisKeyPrefix}session:*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  const values = keys.length > 0 ? await redis.mget(...keys) : [];
  return keys.map((key, i) => ({ key, value: values[i] ?? null }));
}

function sessionRows(target: TestServer, userId: string) {
  return target.deps.db.selectFrom('sessions').selectAll().where('user_id', '=', userId).execute();
}

/** The answer of getCurrentUser for a token on a server: 200, or the 401 problem. */
async function currentUserStatus(target: TestServer, token: string): Promise<number> {
  const result = await api.getCurrentUser({ client: target.client, auth: token });
  if (result.response.status !== 200) expectProblem(result, 401, 'unauthenticated');
  return result.response.status;
}

describe('login', () => {
  let user: Account;

  beforeAll(async () => {
    user = await createUser(server.client, { name: 'Signing In' });
  });

  it('signs in with 200: a Bearer token that expires about SESSION_TTL from now, and the user with email', async () => {
    const before = Date.now();
    const { data, response } = await api.login({ client: server.client, body: { email: user.email, password: user.password } });
    const after = Date.now();

    expect(response.status).toBe(200);
    expect(data!.token_type).toBe('Bearer');
    expect(data!.access_token).toMatch(/^[A-Za-z0-9_-]{16,256}$/);
    const ttlMs = server.deps.config.sessionTtlSeconds * 1000;
    const expiresAt = Date.parse(data!.expires_at);
    expect(expiresAt).toBeGreaterThanOrEqual(before + ttlMs - 1000);
    expect(expiresAt).toBeLessThanOrEqual(after + ttlMs + 1000);
    expect(data!.user).toMatchObject({ id: user.id, email: user.email, role: 'guest', name: 'Signing In' });

    const stored = await redis.get(`${env.redisKeyPrefix}session:${sha256(data!.access_token)}`);
    expect(JSON.parse(stored!)).toMatchObject({ user_id: user.id });
    expect(await currentUserStatus(server, data!.access_token)).toBe(200);
  });

  it('keeps the token in Redis only as a hash: no session key or value holds the raw token', async () => {
    const { data } = await api.login({ client: server.client, body: { email: user.email, password: user.password } });
    const token = data!.access_token;

    const sessions = await redisSessions();
    expect(sessions.map((session) => session.key)).toContain(`${env.redisKeyPrefix}session:${sha256(token)}`);
    for (const { key, value } of sessions) {
      expect(key).not.toContain(token);
      expect(value ?? '').not.toContain(token);
    }
    const userSessions = await redis.smembers(`${env.redisKeyPrefix}user-sessions:${user.id}`);
    expect(userSessions).toContain(sha256(token));
    expect(userSessions.join()).not.toContain(token);
    // The sessions table is the source of truth (Redis caches it): it too holds the hash only.
    const rows = await sessionRows(server, user.id);
    expect(rows.map((row) => row.token_hash)).toContain(sha256(token));
    for (const row of rows) expect(JSON.stringify(row)).not.toContain(token);
  });

  it('keeps the token in the sessions table only as its SHA-256 when sessions live in the database', async () => {
    const dbUser = await createUser(dbServer.client);
    const { data, response } = await api.login({ client: dbServer.client, body: { email: dbUser.email, password: dbUser.password } });

    expect(response.status).toBe(200);
    const token = data!.access_token;
    const rows = await sessionRows(dbServer, dbUser.id);
    expect(rows.map((row) => row.token_hash)).toContain(sha256(token));
    for (const row of rows) expect(JSON.stringify(row)).not.toContain(token);
    expect(rows.find((row) => row.token_hash === sha256(token))!.expires_at.toISOString()).toBe(data!.expires_at);
    expect(await redis.exists(`${env.redisKeyPrefix}session:${sha256(token)}`)).toBe(0);
    expect(await currentUserStatus(dbServer, token)).toBe(200);
  });

  it('compares the email case-insensitively', async () => {
    const { data, response } = await api.login({ client: server.client, body: { email: user.email.toUpperCase(), password: user.password } });

    expect(response.status).toBe(200);
    expect(data!.user.id).toBe(user.id);
    expect(await redis.exists(`${env.redisKeyPrefix}session:${sha256(data!.access_token)}`)).toBe(1);
  });

  it('answers a wrong password and an unknown email alike with 401 invalid_credentials, and starts no session', async () => {
    const sessionsBefore = await redis.smembers(`${env.redisKeyPrefix}user-sessions:${user.id}`);

    const wrongPassword = await api.login({ client: server.client, body: { email: user.email, password: 'not the password' } });
    const unknownEmail = await api.login({ client: server.client, body: { email: uniqueEmail('nobody'), password: user.password } });

    const a = expectProblem(wrongPassword, 401, 'invalid_credentials');
    const b = expectProblem(unknownEmail, 401, 'invalid_credentials');
    const { request_id: _a, ...wrongPasswordBody } = a;
    const { request_id: _b, ...unknownEmailBody } = b;
    expect(wrongPasswordBody).toEqual(unknownEmailBody);
    expect(wrongPassword.response.headers.get('www-authenticate')).toBe(unknownEmail.response.headers.get('www-authenticate'));
    expect((await redis.smembers(`${env.redisKeyPrefix}user-sessions:${user.id}`)).sort()).toEqual(sessionsBefore.sort());
  });

  it('refuses a malformed email with 400 validation_failed at body.email', async () => {
    const result = await api.login({ client: server.client, body: { email: 'not-an-email', password: user.password } });

    expectProblem(result, 400, 'validation_failed', 'body.email');
  });

  it('refuses an unknown field with 400 validation_failed, and starts no session', async () => {
    const sessionsBefore = await redis.smembers(`${env.redisKeyPrefix}user-sessions:${user.id}`);
    const result = await api.login({
      client: server.client,
      body: { email: user.email, password: user.password, remember_me: true } as never,
    });

    expectProblem(result, 400, 'validation_failed', 'body.remember_me');
    expect((await redis.smembers(`${env.redisKeyPrefix}user-sessions:${user.id}`)).sort()).toEqual(sessionsBefore.sort());
  });

  it('throttles an email from one address after LOGIN_MAX_FAILURES attempts with 429 rate_limited and Retry-After, refusing even the right password', async () => {
    const throttled = await env.start({ loginMaxFailures: 3 });
    const victim = await createUser(throttled.client);
    const bystander = await createUser(throttled.client);
    const sessionsBefore = await redis.smembers(`${env.redisKeyPrefix}user-sessions:${victim.id}`);

    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const result = await api.login({ client: throttled.client, body: { email: victim.email, password: `guess number ${attempt}` } });
      expectProblem(result, 401, 'invalid_credentials');
    }
    const refused = await api.login({ client: throttled.client, body: { email: victim.email, password: victim.password } });

    expectProblem(refused, 429, 'rate_limited');
    const retryAfter = Number(refused.response.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(throttled.deps.config.loginWindowSeconds);
    expect((await redis.smembers(`${env.redisKeyPrefix}user-sessions:${victim.id}`)).sort()).toEqual(sessionsBefore.sort());

    // The throttle is per email (and address): another account still signs in; test/limits-signin.test.ts has the rest.
    const other = await api.login({ client: throttled.client, body: { email: bystander.email, password: bystander.password } });
    expect(other.response.status).toBe(200);
  });
});

describe('bearerAuth', () => {
  let user: Account;

  beforeAll(async () => {
    user = await createUser(server.client);
  });

  // Sessions of a few seconds: long enough to be seen working first on a busy machine, then waited out to their
  // expires_at, and the expiry polled for rather than assumed after a fixed sleep.
  const SHORT_TTL_SECONDS = 3;

  it('refuses an expired token with 401 unauthenticated', async () => {
    const shortLived = await env.start({ sessionTtlSeconds: SHORT_TTL_SECONDS });
    const { data: session } = await api.login({ client: shortLived.client, body: { email: user.email, password: user.password } });
    const token = session!.access_token;
    expect(await currentUserStatus(shortLived, token)).toBe(200);

    await sleepUntil(Date.parse(session!.expires_at));

    await eventually(async () => {
      expect(await currentUserStatus(shortLived, token)).toBe(401);
      expect(await redis.exists(`${env.redisKeyPrefix}session:${sha256(token)}`)).toBe(0);
    });
  });

  it('refuses an expired token with 401 unauthenticated when sessions live in the database', async () => {
    const shortLived = await dbEnv.start({ sessionTtlSeconds: SHORT_TTL_SECONDS });
    const dbUser = await createUser(shortLived.client);
    const signedInBy = Date.now();
    const token = dbUser.token;
    expect(await currentUserStatus(shortLived, token)).toBe(200);

    await sleepUntil(signedInBy + SHORT_TTL_SECONDS * 1000);

    await eventually(async () => expect(await currentUserStatus(shortLived, token)).toBe(401));
    const live = (await sessionRows(shortLived, dbUser.id)).filter((row) => row.expires_at.getTime() > Date.now());
    expect(live).toEqual([]);
  });

  it.each(['Token x', 'Bearer', 'Basic dXNlcjpwYXNz', 'Bearer two tokens'])(
    'refuses the Authorization header "%s" with 401 unauthenticated and WWW-Authenticate: Bearer',
    async (authorization) => {
      const result = await api.getCurrentUser({ client: server.client, headers: { Authorization: authorization } });

      expectProblem(result, 401, 'unauthenticated');
      expect(result.response.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    },
  );

  // RFC 7235 section 2.1: the auth-scheme is case-insensitive (issue 13, finding 9).
  it.each(['bearer', 'BEARER', 'bEaReR', 'Bearer  '])('accepts the scheme written "%s<token>"', async (scheme) => {
    const result = await api.getCurrentUser({ client: server.client, headers: { Authorization: `${scheme} ${user.token}` } });

    expect(result.response.status).toBe(200);
    expect(result.data!.id).toBe(user.id);
  });

  it('refuses an unknown token with 401 unauthenticated and WWW-Authenticate: Bearer', async () => {
    const result = await api.getCurrentUser({ client: server.client, auth: 'sbt_this-token-was-never-issued' });

    expectProblem(result, 401, 'unauthenticated');
    expect(result.response.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
  });

  it('refuses a bad token with 401 on getUser, where signing in is optional', async () => {
    const result = await api.getUser({ client: server.client, auth: 'sbt_this-token-was-never-issued', path: { user_id: user.id } });

    expectProblem(result, 401, 'unauthenticated');
    expect((await api.getUser({ client: server.client, path: { user_id: user.id } })).response.status).toBe(200);
  });

  it('refuses a bad token with 401 on listProperties, where signing in is optional', async () => {
    const result = await api.listProperties({ client: server.client, headers: { Authorization: 'Token x' } });

    expectProblem(result, 401, 'unauthenticated');
    expect((await api.listProperties({ client: server.client })).response.status).toBe(200);
  });
});

describe('logout', () => {
  let user: Account;

  beforeAll(async () => {
    user = await createUser(server.client);
  });

  it('ends the session with 204; the same token then gets 401', async () => {
    const token = await signIn(server.client, user.email, user.password);

    const { response } = await api.logout({ client: server.client, auth: token });

    expect(response.status).toBe(204);
    expect(await redis.exists(`${env.redisKeyPrefix}session:${sha256(token)}`)).toBe(0);
    expect(await redis.sismember(`${env.redisKeyPrefix}user-sessions:${user.id}`, sha256(token))).toBe(0);
    expect(await currentUserStatus(server, token)).toBe(401);
    expectProblem(await api.logout({ client: server.client, auth: token }), 401, 'unauthenticated');
  });

  it('revokes only the session it was sent with: another sign-in of the same user keeps working', async () => {
    const phone = await signIn(server.client, user.email, user.password);
    const laptop = await signIn(server.client, user.email, user.password);

    expect((await api.logout({ client: server.client, auth: phone })).response.status).toBe(204);

    expect(await currentUserStatus(server, phone)).toBe(401);
    expect(await currentUserStatus(server, laptop)).toBe(200);
    expect(await redis.exists(`${env.redisKeyPrefix}session:${sha256(laptop)}`)).toBe(1);
  });

  it('is seen at once by a second server process on the same database and Redis', async () => {
    const serverB = await env.start();
    const token = await signIn(server.client, user.email, user.password);
    expect(await currentUserStatus(serverB, token)).toBe(200);

    expect((await api.logout({ client: server.client, auth: token })).response.status).toBe(204);

    expect(await currentUserStatus(serverB, token)).toBe(401);
  });

  it('is seen at once by a second server process when sessions live in the database', async () => {
    const dbServerB = await dbEnv.start();
    const dbUser = await createUser(dbServer.client);
    const token = await signIn(dbServer.client, dbUser.email, dbUser.password);
    expect(await currentUserStatus(dbServerB, token)).toBe(200);

    expect((await api.logout({ client: dbServer.client, auth: token })).response.status).toBe(204);

    expect(await currentUserStatus(dbServerB, token)).toBe(401);
    const hashes = (await sessionRows(dbServer, dbUser.id)).map((row) => row.token_hash);
    expect(hashes).not.toContain(sha256(token));
    expect(hashes).toContain(sha256(dbUser.token));
  });

  it('refuses a request without a token with 401 unauthenticated and WWW-Authenticate: Bearer', async () => {
    const result = await api.logout({ client: server.client });

    expectProblem(result, 401, 'unauthenticated');
    expect(result.response.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
  });

  it('refuses a token that is not valid with 401 unauthenticated and leaves the real sessions alone', async () => {
    const sessionsBefore = await redis.smembers(`${env.redisKeyPrefix}user-sessions:${user.id}`);
    const result = await api.logout({ client: server.client, auth: 'sbt_this-token-was-never-issued' });

    expectProblem(result, 401, 'unauthenticated');
    expect((await redis.smembers(`${env.redisKeyPrefix}user-sessions:${user.id}`)).sort()).toEqual(sessionsBefore.sort());
    expect(await currentUserStatus(server, user.token)).toBe(200);
  });
});
