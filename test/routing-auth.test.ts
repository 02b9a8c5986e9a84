/**
 * The auth step of the request pipeline costs one round trip per signed-in request:
 * a Redis read when the session is cached (no query), one query joining sessions
 * and users when it is not or when there is no Redis. Revocation stays immediate: a
 * logout or a deleted account refuses the token on its next use, on any process.
 * Queries are counted with a Kysely plugin on the server's own database handle, and
 * Redis reads by wrapping the client's sendCommand: no MONITOR, nothing mocked.
 */
import type { Redis } from 'ioredis';
import type { KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import type { Db } from '../db/index.js';
import { insertUser } from '../db/users.js';
import { authenticate } from '../server/auth.js';
import { connectRedis } from '../server/redis.js';
import { hashToken, SESSION_CACHE_SECONDS, sessionStore } from '../server/sessions.js';
import { useTestApp } from './support/app.js';
import { createUser, uniqueEmail } from './support/factories.js';
import { expectProblem } from './support/problems.js';
import { redisUrl } from './support/server.js';

const { env, server } = useTestApp();
const quiet = () => {};

/** The server's database with every query it runs counted. */
function counted(db: Db): { db: Db; queries: () => number } {
  let queries = 0;
  const plugin: KyselyPlugin = {
    transformQuery: (args) => {
      queries++;
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  return { db: db.withPlugin(plugin), queries: () => queries };
}

/** A Redis client of the server's key prefix that counts the commands it sends, by name. */
function countedRedis(): { redis: Redis; sent: (name: string) => number } {
  const redis = connectRedis(redisUrl, { keyPrefix: env.redisKeyPrefix, log: quiet });
  const names: string[] = [];
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
    names.push(command.name);
    return (send as (...args: unknown[]) => unknown)(command, ...rest);
  }) as typeof redis.sendCommand;
  return { redis, sent: (name) => names.filter((n) => n === name).length };
}

const clients: Redis[] = [];
afterAll(() => {
  for (const client of clients) client.disconnect();
});

async function newHost(db: Db): Promise<string> {
  return (await insertUser(db, { email: uniqueEmail(), password_hash: 'x', role: 'host', name: 'Round Trip' })).id;
}

describe('authenticate', () => {
  it('costs one Redis read and no query when the session is cached, with the role from the cache entry', async () => {
    const { db, queries } = counted(server.deps.db);
    const { redis, sent } = countedRedis();
    clients.push(redis);
    const sessions = sessionStore({ db, redis, log: quiet });
    const userId = await newHost(server.deps.db);
    const { token } = await sessions.create(userId, 3600);
    const [queriesBefore, getsBefore] = [queries(), sent('get')];

    const auth = await authenticate(`Bearer ${token}`, sessions);

    expect(auth).toEqual({ id: userId, role: 'host', token });
    expect([queries() - queriesBefore, sent('get') - getsBefore]).toEqual([0, 1]);
    // The entry a role could be stale in lives SESSION_CACHE_SECONDS at most.
    expect(await redis.ttl(`session:${hashToken(token)}`)).toBeLessThanOrEqual(SESSION_CACHE_SECONDS);
  });

  it('costs one query (sessions joined with users) when the session is not cached', async () => {
    const { db, queries } = counted(server.deps.db);
    const { redis, sent } = countedRedis();
    clients.push(redis);
    const sessions = sessionStore({ db, redis, log: quiet });
    const userId = await newHost(server.deps.db);
    const { token } = await sessions.create(userId, 3600);
    await redis.del(`session:${hashToken(token)}`);
    const [queriesBefore, getsBefore] = [queries(), sent('get')];

    expect(await authenticate(`Bearer ${token}`, sessions)).toEqual({ id: userId, role: 'host', token });

    expect([queries() - queriesBefore, sent('get') - getsBefore]).toEqual([1, 1]);
  });

  it('costs one query without Redis, and sees a role changed in the database at once', async () => {
    const { db, queries } = counted(server.deps.db);
    const sessions = sessionStore({ db, log: quiet });
    const userId = await newHost(server.deps.db);
    const { token } = await sessions.create(userId, 3600);
    const before = queries();

    expect((await authenticate(`bearer ${token}`, sessions))?.role).toBe('host');
    expect(queries() - before).toBe(1);

    await server.deps.db.updateTable('users').set({ role: 'guest' }).where('id', '=', userId).execute();
    expect((await authenticate(`bearer ${token}`, sessions))?.role).toBe('guest');
  });
});

describe('revocation', () => {
  it('refuses a token signed out on one process at once on another, whose cache held it', async () => {
    const other = await env.start();
    const user = await createUser(server.client);
    // Both processes have read (and cached) the session.
    expect((await api.getCurrentUser({ client: other.client, auth: user.token })).response.status).toBe(200);
    expect((await api.getCurrentUser({ client: server.client, auth: user.token })).response.status).toBe(200);

    expect((await api.logout({ client: server.client, auth: user.token })).response.status).toBe(204);

    expectProblem(await api.getCurrentUser({ client: other.client, auth: user.token }), 401, 'unauthenticated');
  });

  it('refuses the token of a deleted account at once', async () => {
    const user = await createUser(server.client);
    expect((await api.getCurrentUser({ client: server.client, auth: user.token })).response.status).toBe(200);

    expect((await api.deleteUser({ client: server.client, auth: user.token, path: { user_id: user.id } })).response.status).toBe(204);

    expectProblem(await api.getCurrentUser({ client: server.client, auth: user.token }), 401, 'unauthenticated');
    expect(await server.deps.db.selectFrom('sessions').select('token_hash').where('user_id', '=', user.id).execute()).toEqual([]);
  });
});
