/**
 * Background jobs: the worker process (`npm run worker`, bee-queue on Redis) and
 * the in-process runner (no Redis) run the same job code to the same effect; a
 * failing job is retried with backoff and then succeeds; a job out of retries is
 * visible, not dropped. Real PostgreSQL, real Redis, a real child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Db } from '../db/index.js';
import { createPaymentProvider } from '../server/background.js';
import { loadConfig } from '../server/config.js';
import { createBooking, payStay } from './support/factories.js';
import { eventually, redisUrl, testEnvironment, type TestEnvironment } from './support/server.js';

const environments: TestEnvironment[] = [];
async function environment(options: { redis?: boolean } = {}): Promise<TestEnvironment> {
  const env = await testEnvironment(options);
  environments.push(env);
  return env;
}
afterAll(async () => {
  await Promise.all(environments.map((env) => env.close()));
});

/** Subject lines of the emails in an outbox, by kind, with the booking-specific parts blanked. */
async function outboxSubjects(dir: string): Promise<string[]> {
  const files = (await readdir(dir)).filter((name) => name.endsWith('.eml')).sort();
  return Promise.all(
    files.map(async (name) => {
      const message = await readFile(path.join(dir, name), 'utf8');
      return `${name.split('-')[0]}: ${/^Subject: (.*)$/m.exec(message)?.[1] ?? ''}`;
    }),
  );
}

const notificationsOf = (db: Db, bookingId: string) =>
  db.selectFrom('notifications').select(['kind', 'status', 'attempts', 'last_error']).where('booking_id', '=', bookingId).orderBy('kind').execute();

describe('the worker process and the in-process runner', () => {
  let worker: ChildProcess | undefined;
  afterAll(() => {
    worker?.kill('SIGKILL');
  });

  it('run the same jobs: a paid booking gets the same emails either way', async () => {
    // With Redis, the API server only enqueues; a separate `npm run worker` process sends.
    const queued = await environment();
    const api = await queued.start({ runWorkers: false, jobSweepSeconds: 0 });
    const viaWorker = await createBooking(api.client);
    await payStay(api, viaWorker);
    // Nobody works the queue yet: the emails are owed, not sent.
    expect((await notificationsOf(api.deps.db, viaWorker.id)).map((n) => n.status)).toEqual(['pending', 'pending']);

    worker = spawn(process.execPath, ['--import', 'tsx', 'server/worker.ts'], {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        DATABASE_URL: queued.databaseUrl,
        REDIS_URL: redisUrl,
        REDIS_KEY_PREFIX: queued.redisKeyPrefix,
        MAIL_OUTBOX_DIR: queued.outboxDir,
        JOB_BACKOFF_MS: '50',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    worker.stdout?.on('data', (chunk) => (output += chunk));
    worker.stderr?.on('data', (chunk) => (output += chunk));
    await eventually(async () => {
      expect(await notificationsOf(api.deps.db, viaWorker.id)).toMatchObject([
        { kind: 'booking_confirmed', status: 'sent' },
        { kind: 'payment_receipt', status: 'sent' },
      ]);
    }, 30_000);
    expect(output).toContain('worker started');
    const exited = new Promise<number | null>((resolve) => worker!.once('exit', (code) => resolve(code)));
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);

    // Without Redis, the server runs the same jobs itself.
    const embedded = await environment({ redis: false });
    const alone = await embedded.start();
    expect(alone.deps.jobs.kind).toBe('in-process');
    const inProcess = await createBooking(alone.client);
    await payStay(alone, inProcess);
    await eventually(async () => {
      expect((await notificationsOf(alone.deps.db, inProcess.id)).map((n) => n.status)).toEqual(['sent', 'sent']);
    });

    expect(await outboxSubjects(embedded.outboxDir)).toEqual(await outboxSubjects(queued.outboxDir));
    expect(await outboxSubjects(queued.outboxDir)).toEqual([
      'booking_confirmed: Your stay at Sunny loft by the river is confirmed',
      expect.stringMatching(/^payment_receipt: Receipt: \d+\.\d\d EUR for Sunny loft by the river$/),
    ]);
  });
});

describe.each([
  { runner: 'bee-queue', redis: true },
  { runner: 'in-process', redis: false },
])('a failing job ($runner)', ({ redis }) => {
  it('is retried with backoff and then succeeds', async () => {
    const env = await environment({ redis });
    // A file where the outbox folder should be: every send fails until it is gone.
    const blocked = path.join(env.outboxDir, 'blocked');
    await writeFile(blocked, 'not a folder');
    const server = await env.start({ mailOutboxDir: blocked, jobBackoffMs: 200 });
    const booking = await createBooking(server.client);
    await payStay(server, booking);

    await eventually(async () => {
      const rows = await notificationsOf(server.deps.db, booking.id);
      expect(rows).toHaveLength(2);
      expect(rows.every((row) => row.attempts >= 1 && row.status === 'pending' && row.last_error)).toBe(true);
    });
    await rm(blocked);
    await eventually(async () => {
      const rows = await notificationsOf(server.deps.db, booking.id);
      expect(rows).toMatchObject([
        { kind: 'booking_confirmed', status: 'sent', last_error: null },
        { kind: 'payment_receipt', status: 'sent', last_error: null },
      ]);
      expect(rows.every((row) => row.attempts >= 2)).toBe(true);
    });
    expect((await readdir(blocked)).length).toBe(2);
  });

  it('is kept as failed once out of retries, and counted on /readyz', async () => {
    const env = await environment({ redis });
    const blocked = path.join(env.outboxDir, 'blocked');
    await writeFile(blocked, 'not a folder');
    const server = await env.start({ mailOutboxDir: blocked, jobBackoffMs: 10 });
    const booking = await createBooking(server.client);
    await payStay(server, booking);
    await eventually(async () => {
      const rows = await notificationsOf(server.deps.db, booking.id);
      // The first try and 5 retries, each written down.
      expect(rows).toMatchObject([
        { status: 'failed', attempts: 6 },
        { status: 'failed', attempts: 6 },
      ]);
      expect(rows[0]!.last_error).toMatch(/EEXIST|ENOTDIR/);
    });
    const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { jobs: { failed: number; runner: string } };
    expect(ready.jobs).toMatchObject({ runner: redis ? 'bee-queue' : 'in-process', failed: 2 });
  });
});

describe('payment provider configuration', () => {
  it('refuses the local provider in production unless told to, and stripe without its secrets', () => {
    expect(() => createPaymentProvider(loadConfig({ NODE_ENV: 'production' }))).toThrow(/local in production/);
    expect(createPaymentProvider(loadConfig({ NODE_ENV: 'production', ALLOW_LOCAL_PAYMENTS_IN_PRODUCTION: 'true', STRIPE_WEBHOOK_SECRET: 'whsec_test_demo' })).name).toBe('local');
    expect(() => createPaymentProvider(loadConfig({ PAYMENT_PROVIDER: 'stripe' }))).toThrow(/STRIPE_SECRET_KEY/);
    expect(createPaymentProvider(loadConfig({ STRIPE_SECRET_KEY: 'sk_test_x', STRIPE_WEBHOOK_SECRET: 'whsec_x' })).name).toBe('stripe');
    expect(() => loadConfig({ PAYMENT_PROVIDER: 'paypal' })).toThrow(/stripe or local/);
  });
});
