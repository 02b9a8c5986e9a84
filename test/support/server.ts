/**
 * Real servers for tests: each test file gets its own throwaway PostgreSQL database
 * (or, with TEST_DATABASE=pglite, an in-memory PGlite) and real Redis, and talks to
 * the server over HTTP through the generated client.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient, createConfig } from '../../generated/client/client/index.js';
import type { Client } from '../../generated/client/client/index.js';
import { loadConfig, type Config } from '../../server/config.js';
import { startServer, type RunningServer } from '../../server/server.js';
import { createTestDatabase } from './postgres.js';

export const embedded = process.env.TEST_DATABASE === 'pglite';
export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestServer extends RunningServer {
  client: Client;
}

export interface TestEnvironment {
  /** Starts another server process-alike on the same database and Redis. */
  start(overrides?: Partial<Config>): Promise<TestServer>;
  databaseUrl: string | undefined;
  /** Every Redis key of this environment's servers starts with it, so test files never see each other's keys. */
  redisKeyPrefix: string;
  /** Where this environment's servers write notification emails (the outbox transport). */
  outboxDir: string;
  close(): Promise<void>;
}

export function clientFor(url: string): Client {
  return createClient(createConfig({ baseUrl: url }));
}

/**
 * One database for a test file. On PGlite there is a single in-process database, so
 * every server of the file shares one PGlite through the same open handle.
 */
export async function testEnvironment(options: { redis?: boolean } = {}): Promise<TestEnvironment> {
  const database = embedded ? undefined : await createTestDatabase();
  const servers: RunningServer[] = [];
  const base = loadConfig({ NODE_ENV: 'test' });
  const redisKeyPrefix = `staybook-test-${randomBytes(6).toString('hex')}:`;
  const outboxDir = mkdtempSync(path.join(tmpdir(), 'staybook-outbox-'));
  return {
    databaseUrl: database?.url,
    redisKeyPrefix,
    outboxDir,
    async start(overrides = {}) {
      const config: Config = {
        ...base,
        port: 0,
        databaseUrl: database?.url,
        dataDir: 'memory://',
        redisUrl: options.redis === false || embedded ? undefined : redisUrl,
        redisKeyPrefix,
        seedOnFirstStart: false,
        logRequests: false,
        // The read cache is off unless a test turns it on (test/cache-*.test.ts): other tests write rows directly.
        cache: false,
        mailOutboxDir: outboxDir,
        // Retries of failed jobs after 50 ms, 100 ms, ... so that tests see them through.
        jobBackoffMs: 50,
        // Every test signs in, registers and books from one address: the limit tests turn the budgets on.
        rateLimits: false,
        // Many tests hold dozens of stays with one guest; the hold limits have tests of their own (holds-*.test.ts), which set them.
        maxPendingHolds: 1_000_000,
        maxHoldsPerStay: 1_000_000,
        ...overrides,
      };
      // Unexpected errors (500s, responses off the contract) are printed; access logs are not.
      const server = await startServer(config, (line) => {
        if (line.level === 'error') console.error(line);
      });
      servers.push(server);
      return { ...server, client: clientFor(server.url) };
    },
    async close() {
      await Promise.all(servers.map((server) => server.close()));
      await database?.drop();
      rmSync(outboxDir, { recursive: true, force: true });
    },
  };
}

/** Waits until the clock has passed `time` (ms since the epoch): for holds and sessions that lapse at their own expires_at. */
export async function sleepUntil(time: number): Promise<void> {
  // Timestamps are stored to the millisecond: a few more make sure the moment is behind us.
  const wait = time - Date.now() + 5;
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

/**
 * Retries `check` until it passes, for outcomes of background jobs, which arrive
 * after the response. When `timeoutMs` runs out it throws the check's own last
 * failure (its assertion and diff), saying how long it kept trying; a check that
 * never passed is a real failure to read, not a timeout.
 */
export async function eventually(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  for (let tries = 1; ; tries++) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() - started > timeoutMs) {
        if (err instanceof Error) err.message += `\n(eventually: still failing after ${tries} tries in ${Date.now() - started} ms)`;
        throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
