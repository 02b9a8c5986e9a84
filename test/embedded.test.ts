/**
 * The embedded default a newcomer meets with `npm start`: no PostgreSQL, no Redis,
 * a PGlite database in a data folder, seeded with the demo data on its first start
 * and never again; and demo data never written into a database that did not ask.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { loadConfig, type Config } from '../server/config.js';
import { startServer } from '../server/server.js';
import { clientFor } from './support/server.js';
import { createTestDatabase } from './support/postgres.js';

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'staybook-embedded-'));
});
afterAll(() => rm(folder, { recursive: true, force: true }));

/** The configuration `npm start` gets from an empty environment, on a free port. */
function embeddedConfig(dataDir: string, overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), port: 0, dataDir, logRequests: false, ...overrides };
}

async function countRows(server: Awaited<ReturnType<typeof startServer>>, table: 'users' | 'properties') {
  const row = await server.deps.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('the embedded default (npm start)', () => {
  it('seeds the demo data on its first start, with sessions in the database and no Redis', async () => {
    const server = await startServer(embeddedConfig(path.join(folder, 'first')));
    try {
      expect(server.seeded).toBe(true);
      expect(server.deps.sessions.kind).toBe('database');
      const client = clientFor(server.url);
      for (const email of ['host@example.com', 'guest@example.com', 'admin@example.com']) {
        const { data, response } = await api.login({ client, body: { email, password: 'demo-password' } });
        expect(response.status, email).toBe(200);
        expect(data?.user.email).toBe(email);
      }
      const listings = await api.listProperties({ client, query: { limit: 100 } });
      const cities = new Set(listings.data?.data.map((p) => p.city));
      expect(cities.size).toBeGreaterThanOrEqual(5);
      const ready = await fetch(`${server.url}/readyz`).then((r) => r.json());
      expect(ready).toEqual({ status: 'ok', checks: { database: 'ok' }, sessions: 'database' });
    } finally {
      await server.close();
    }
  });

  it('keeps its data across restarts and does not seed twice', async () => {
    const dataDir = path.join(folder, 'restart');
    const first = await startServer(embeddedConfig(dataDir));
    const token = (await api.login({ client: clientFor(first.url), body: { email: 'guest@example.com', password: 'demo-password' } })).data!.access_token;
    const counts = { users: await countRows(first, 'users'), properties: await countRows(first, 'properties') };
    await first.close();

    const second = await startServer(embeddedConfig(dataDir));
    try {
      expect(second.seeded).toBe(false);
      expect({ users: await countRows(second, 'users'), properties: await countRows(second, 'properties') }).toEqual(counts);
      // The session made before the restart is still valid: it lives in the database.
      const me = await api.getCurrentUser({ client: clientFor(second.url), auth: token });
      expect(me.data?.email).toBe('guest@example.com');
    } finally {
      await second.close();
    }
  });

  it('does not seed when SEED_DEMO_DATA is off', async () => {
    const server = await startServer(embeddedConfig(path.join(folder, 'unseeded'), { seedOnFirstStart: loadConfig({ SEED_DEMO_DATA: 'false' }).seedOnFirstStart }));
    try {
      expect(server.seeded).toBe(false);
      expect(await countRows(server, 'users')).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('never seeds a PostgreSQL database, even a new and empty one', async () => {
    const database = await createTestDatabase();
    const server = await startServer(embeddedConfig('memory://', { databaseUrl: database.url }));
    try {
      expect(server.seeded).toBe(false);
      expect(await countRows(server, 'users')).toBe(0);
      expect(await countRows(server, 'properties')).toBe(0);
    } finally {
      await server.close();
      await database.drop();
    }
  });
});
