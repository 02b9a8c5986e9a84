/**
 * A worker killed with `kill -9` while it sends emails: its jobs are picked up by
 * the next worker within seconds (bee-queue's stall check), and every job is done
 * once in effect: every notification reaches the mail server exactly once, every
 * refund is created at the provider exactly once.
 *
 * Real processes on the wire: `node --import tsx server/worker.ts` as a child, the
 * Stripe SDK against the test's Stripe server, and nodemailer's SMTP transport
 * against an SMTP server in this file (smtp-server, from nodemailer's authors). The
 * outbox folder cannot show a second delivery (it rewrites the same file), a mail
 * server can: it counts each message it accepts, by Message-ID. It also holds its
 * answers to DATA when told, so that the kill lands while sends are in flight, and
 * never between a message accepted and the worker writing it down (the one moment
 * at which a crash can still send an email twice; see send-notification.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { SMTPServer } from 'smtp-server';
import { afterAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { createBooking, createProperty, fromToday, payStay } from './support/factories.js';
import { startFakeStripe, type FakeStripe } from './support/fake-stripe.js';
import type { JobName } from '../server/jobs/job.js';
import { eventually, redisUrl, testEnvironment, type TestEnvironment } from './support/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An SMTP server that counts the messages it accepts, and holds its answers while `hold` is on. */
async function startMailServer() {
  const delivered = new Map<string, number>();
  const closedSessions = new Set<string>();
  let held = 0;
  let hold = false;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onClose(session) {
      closedSessions.add(session.id);
    },
    onData(stream, session, callback) {
      let text = '';
      stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
      stream.on('end', async () => {
        held++;
        while (hold && !closedSessions.has(session.id)) await sleep(20);
        held--;
        // A client gone before the answer has not sent the message: a mail server discards it.
        if (closedSessions.has(session.id)) return callback(new Error('connection closed'));
        // A long header is folded onto the next line.
        const messageId = /^Message-ID:\s*(<[^>]+>)/im.exec(text)?.[1] ?? 'none';
        delivered.set(messageId, (delivered.get(messageId) ?? 0) + 1);
        callback();
      });
    },
  });
  // The killed worker's connections are reset: expected here, and not an error of the test.
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`,
    delivered,
    total: () => [...delivered.values()].reduce((sum, n) => sum + n, 0),
    held: () => held,
    setHold: (on: boolean) => void (hold = on),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Jobs in bee-queue's active lists: taken by a worker and not finished (a dead worker's stay there until the stall check). */
async function activeJobs(prefix: string): Promise<number> {
  const redis = new Redis(redisUrl);
  try {
    const queues: JobName[] = ['execute-refund', 'follow-up-payment', 'send-notification'];
    const lengths = await Promise.all(queues.map((queue) => redis.llen(`${prefix}bq:${queue}:active`)));
    return lengths.reduce((sum, n) => sum + n, 0);
  } finally {
    redis.disconnect();
  }
}

let env: TestEnvironment | undefined;
let fake: FakeStripe | undefined;
let mail: Awaited<ReturnType<typeof startMailServer>> | undefined;
const workers = new Set<ChildProcess>();
afterAll(async () => {
  for (const worker of workers) worker.kill('SIGKILL');
  await env?.close();
  await fake?.close();
  await mail?.close();
});

describe('a worker killed with kill -9 while jobs are active', () => {
  it('leaves nothing undone and nothing done twice: the next worker picks its jobs up within seconds', async () => {
    fake = await startFakeStripe();
    mail = await startMailServer();
    env = await testEnvironment();
    const stripe = { paymentProvider: 'stripe' as const, stripeSecretKey: 'sk_test_staybook', stripeWebhookSecret: 'whsec_test_staybook', stripeApiBase: new URL(fake.url) };
    // The API only enqueues; the workers below do the jobs.
    const server = await env.start({ ...stripe, runWorkers: false, jobSweepSeconds: 0, smtpUrl: mail.url });
    const workerEnv = {
      ...process.env,
      NODE_ENV: 'test',
      DATABASE_URL: env.databaseUrl!,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: env.redisKeyPrefix,
      SMTP_URL: mail.url,
      PAYMENT_PROVIDER: 'stripe',
      STRIPE_SECRET_KEY: stripe.stripeSecretKey,
      STRIPE_WEBHOOK_SECRET: stripe.stripeWebhookSecret,
      STRIPE_API_BASE: fake.url,
      JOB_BACKOFF_MS: '200',
    };
    const startWorker = async () => {
      const worker = spawn(process.execPath, ['--import', 'tsx', 'server/worker.ts'], { env: workerEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      workers.add(worker);
      worker.once('exit', () => workers.delete(worker));
      let output = '';
      worker.stdout?.on('data', (chunk) => (output += chunk));
      worker.stderr?.on('data', (chunk) => (output += chunk));
      await eventually(async () => expect(output).toContain('worker started'), 240_000);
      return worker;
    };

    // Eight paid stays, four of them cancelled: 8 receipts, 8 confirmations, 4 refunds,
    // 4 cancellation emails and, once the refunds are done, 4 refund emails. All owed, none done.
    const property = await createProperty(server.client, undefined, { cancellation_policy: 'flexible' });
    const bookings = [];
    for (let i = 0; i < 8; i++) {
      const booking = await createBooking(server.client, { property, stay: { check_in: fromToday(40 + 2 * i), check_out: fromToday(41 + 2 * i) } });
      await payStay(server, booking);
      bookings.push(booking);
    }
    for (const booking of bookings.slice(0, 4)) {
      const { response } = await api.cancelBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id } });
      expect(response.status).toBe(200);
    }
    const db = server.deps.db;
    const notificationStatuses = () => db.selectFrom('notifications').select(['id', 'kind', 'status']).execute();
    expect(await notificationStatuses()).toHaveLength(20);

    // The first worker sends a few emails; then the mail server holds its answers, and once
    // every email it accepted is written down as sent and at least one send is in flight,
    // the worker is killed.
    const first = await startWorker();
    await eventually(async () => expect(mail!.total()).toBeGreaterThanOrEqual(3), 60_000);
    mail.setHold(true);
    await eventually(async () => {
      expect(mail!.held()).toBeGreaterThan(0);
      const sent = (await notificationStatuses()).filter((row) => row.status === 'sent').length;
      expect(sent).toBe(mail!.total());
    }, 60_000);
    const inFlightAtKill = mail.held();
    const sentBeforeKill = mail.total();
    const killed = new Promise((resolve) => first.once('exit', resolve));
    first.kill('SIGKILL');
    await killed;
    const activeAtKill = await activeJobs(env.redisKeyPrefix);
    console.log('at kill -9:', { emails_sent: sentBeforeKill, emails_in_flight: inFlightAtKill, active_jobs: activeAtKill, jobs: await server.deps.jobs.stats() });
    expect(activeAtKill).toBeGreaterThan(0);
    mail.setHold(false);

    const second = await startWorker();
    const restarted = Date.now();
    await eventually(async () => {
      const rows = await notificationStatuses();
      expect(rows).toHaveLength(24);
      expect(rows.filter((row) => row.status !== 'sent')).toEqual([]);
    }, 90_000);
    const secondsToDone = (Date.now() - restarted) / 1000;
    const after = await server.deps.jobs.stats();
    console.log('after the next worker started:', { seconds_to_every_email_sent: secondsToDone, emails_delivered: mail.total(), jobs: after });

    // Every notification reached the mail server once: one delivery per Message-ID.
    const rows = await notificationStatuses();
    expect(mail.delivered.size, JSON.stringify([...mail.delivered])).toBe(rows.length);
    expect([...mail.delivered.values()].every((n) => n === 1), JSON.stringify([...mail.delivered])).toBe(true);
    for (const row of rows) expect(mail.delivered.get(`<${row.kind}-${row.id}@staybook>`)).toBe(1);
    // Every refund succeeded, and was created at the provider once (a retry of one would
    // replay the first answer under the same idempotency key, not create another).
    const refunds = await db.selectFrom('refunds').select(['id', 'status']).execute();
    expect(refunds.map((refund) => refund.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    const createdFor = [...fake.refunds.values()].map((refund) => (refund.metadata as { refund_id: string }).refund_id).sort();
    expect(createdFor).toEqual(refunds.map((refund) => refund.id).sort());
    // Nothing stays stuck in the queues' active lists.
    await eventually(async () => expect(await activeJobs(env!.redisKeyPrefix)).toBe(0), 30_000);

    const exited = new Promise((resolve) => second.once('exit', resolve));
    second.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 600_000);
});
