/**
 * Rate limits while Redis is away: each process counts on its own (the limit still
 * holds, per process), says so once in its log, not once per request, and goes
 * back to the shared count in Redis by itself when Redis answers again.
 *
 * The test runs a Redis of its own on a free port and kills it; the machine's
 * shared Redis is never touched.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../server/config.js';
import type { LogLine } from '../server/log.js';
import { startServer, type RunningServer } from '../server/server.js';
import { startOwnRedis, type OwnRedis } from './support/instances.js';
import { eventually, testEnvironment, type TestEnvironment } from './support/server.js';

let ownRedis: OwnRedis | undefined;
let env: TestEnvironment | undefined;
let server: RunningServer | undefined;
let probe: Redis | undefined;

afterAll(async () => {
  probe?.disconnect();
  await server?.close();
  await env?.close();
  await ownRedis?.destroy();
});

/** The longest a request may take while Redis is unreachable (the limits must not wait for it). */
const BOUND_MS = 1000;

async function get(address: string): Promise<{ status: number; remaining: number }> {
  const started = performance.now();
  const response = await fetch(new URL('/openapi.json', server!.url), { headers: { 'X-Forwarded-For': address } });
  await response.arrayBuffer();
  expect(performance.now() - started).toBeLessThan(BOUND_MS);
  return { status: response.status, remaining: Number(/r=(\d+)/.exec(response.headers.get('ratelimit') ?? '')?.[1]) };
}

describe('rate limits while Redis is unreachable', () => {
  it('fall back to a per-process limit with one warning, and return to Redis when it is back', async () => {
    ownRedis = await startOwnRedis();
    env = await testEnvironment();
    const lines: LogLine[] = [];
    server = await startServer({
      ...loadConfig({ NODE_ENV: 'test' }),
      port: 0,
      databaseUrl: env.databaseUrl,
      dataDir: 'memory://',
      redisUrl: ownRedis.url,
      redisKeyPrefix: 'limits-outage:',
      seedOnFirstStart: false,
      runWorkers: false,
      jobSweepSeconds: 0,
      bookingSweepSeconds: 0,
      mailOutboxDir: env.outboxDir,
      rateLimits: true,
      trustProxy: 1,
      rateLimitRequests: 5,
    }, (line) => lines.push(line));
    probe = new Redis(ownRedis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    const warnings = () => lines.filter((line) => /rate limits are counted per process/.test(String(line.message)));

    // Shared: counted in Redis.
    expect(await get('203.0.113.10')).toEqual({ status: 200, remaining: 4 });
    await probe.connect();
    expect(await probe.get('limits-outage:limit:requests:203.0.113.10')).toBe('1');
    probe.disconnect();

    await ownRedis.stop();
    // Once the connection has noticed the outage, every request is counted in this process: the limit still holds.
    await eventually(async () => expect(lines.some((line) => /Redis is unreachable/.test(String(line.message)))).toBe(true));
    expect(warnings()).toHaveLength(0);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await get('203.0.113.11')).status);
    expect(statuses.filter((status) => status === 200).length).toBeLessThanOrEqual(5);
    expect(statuses.slice(-3)).toEqual([429, 429, 429]);
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({ level: 'warn' });

    await ownRedis.start();
    await eventually(async () => {
      expect(lines.some((line) => /rate limits are shared by every process/.test(String(line.message)))).toBe(true);
    });
    // Redis came back empty: a new address is counted there again.
    expect(await get('203.0.113.12')).toEqual({ status: 200, remaining: 4 });
    probe = new Redis(ownRedis.url, { maxRetriesPerRequest: 1 });
    expect(await probe.get('limits-outage:limit:requests:203.0.113.12')).toBe('1');
    expect(warnings()).toHaveLength(1);
  });
});
