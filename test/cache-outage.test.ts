/**
 * The read cache when Redis goes away: reads keep answering 200 from PostgreSQL,
 * writes still answer and are seen, the outage is logged once (not once per
 * request), and once Redis is back the cache fills and hits again. Redis here is
 * the test's own (killed and restarted at will), never the machine's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { loadConfig } from '../server/config.js';
import { startServer, type RunningServer } from '../server/server.js';
import { createProperty, expectData } from './support/factories.js';
import { startOwnRedis, type OwnRedis } from './support/instances.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { clientFor, eventually } from './support/server.js';

let database: TestDatabase;
let redis: OwnRedis;
let server: RunningServer;
let outboxDir: string;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  redis = await startOwnRedis();
  outboxDir = mkdtempSync(path.join(tmpdir(), 'staybook-outbox-'));
  server = await startServer(
    {
      ...loadConfig({ NODE_ENV: 'test' }),
      port: 0,
      databaseUrl: database.url,
      redisUrl: redis.url,
      redisKeyPrefix: 'cache-outage:',
      seedOnFirstStart: false,
      logRequests: false,
      mailOutboxDir: outboxDir,
      cache: true,
    },
    (line) => lines.push(line),
  );
});

afterAll(async () => {
  await server?.close();
  await redis?.destroy();
  await database?.drop();
  if (outboxDir) rmSync(outboxDir, { recursive: true, force: true });
});

async function hits(): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('staybook_cache_hits_total{operation="getProperty"}'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

async function read(propertyId: string) {
  const response = await fetch(`${server.url}/properties/${propertyId}`);
  return { status: response.status, body: (await response.json()) as { name: string } };
}

const warnings = () => lines.filter((line) => String(line.message).startsWith('read cache unavailable'));

describe('reads with Redis stopped', () => {
  it('answer 200 from PostgreSQL, see writes, log the outage once, and cache again once Redis is back', async () => {
    const client = clientFor(server.url);
    const property = await createProperty(client);
    await read(property.id);
    const warm = await hits();
    expect((await read(property.id)).status).toBe(200);
    expect(await hits()).toBe(warm + 1);

    await redis.stop();
    for (let i = 0; i < 5; i++) {
      const answer = await read(property.id);
      expect(answer.status).toBe(200);
      expect(answer.body.name).toBe(property.name);
    }
    // A write while the cache cannot be told still answers, and the next read shows it.
    expectData('updateProperty', await api.updateProperty({ client, auth: property.host.token, path: { property_id: property.id }, body: { name: 'Changed during the outage' } }));
    for (let i = 0; i < 3; i++) expect((await read(property.id)).body.name).toBe('Changed during the outage');
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({ level: 'warn' });

    await redis.start();
    // Hits again once the connection is back (ioredis retries at least once a second).
    await eventually(async () => {
      const before = await hits();
      expect((await read(property.id)).body.name).toBe('Changed during the outage');
      expect((await read(property.id)).body.name).toBe('Changed during the outage');
      expect(await hits()).toBeGreaterThan(before);
    }, 10_000);
    expect(lines.some((line) => line.message === 'read cache available again')).toBe(true);
    expect(warnings()).toHaveLength(1);
  });
});
