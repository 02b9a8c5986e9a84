/**
 * Redis going away under the job queues: no process ends, and when Redis comes
 * back (restarted empty, having lost the jobs it held) everything owed is enqueued
 * and done within seconds, not when the retry's backoff or the periodic sweep's
 * lease of minutes runs out.
 *
 * The test runs a Redis of its own on a free port and kills it; the machine's
 * shared Redis is never touched.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createBooking, createProperty, fromToday, payStay } from './support/factories.js';
import { startOwnRedis, type OwnRedis } from './support/instances.js';
import { eventually, testEnvironment, type TestEnvironment } from './support/server.js';

let redis: OwnRedis | undefined;
let env: TestEnvironment | undefined;

afterAll(async () => {
  await env?.close();
  await redis?.destroy();
});

describe('the job queues while Redis is away', () => {
  it('keep the process up, and start every owed job within seconds of Redis coming back empty', async () => {
    redis = await startOwnRedis();
    env = await testEnvironment();
    const redisUrl = redis.url;
    // Sends fail while a file stands where the outbox folder should be; the retry waits a minute in Redis.
    const blocked = path.join(env.outboxDir, 'blocked');
    writeFileSync(blocked, 'not a folder');
    const api = await env.start({ redisUrl, runWorkers: false, jobSweepSeconds: 0, mailOutboxDir: blocked });
    const worker = await env.start({ redisUrl, runWorkers: true, jobSweepSeconds: 0, mailOutboxDir: blocked, jobBackoffMs: 60_000 });
    const notificationsOf = (bookingId: string) =>
      worker.deps.db.selectFrom('notifications').select(['status', 'attempts']).where('booking_id', '=', bookingId).execute();

    const property = await createProperty(api.client);
    const before = await createBooking(api.client, { property, stay: { check_in: fromToday(50), check_out: fromToday(52) } });
    await payStay(api, before);
    // Both emails failed once; their retries wait in Redis.
    await eventually(async () => {
      expect(await notificationsOf(before.id)).toMatchObject([
        { status: 'pending', attempts: 1 },
        { status: 'pending', attempts: 1 },
      ]);
    }, 30_000);

    await redis.stop();
    rmSync(blocked);
    // Both processes stay up and answer public reads (signed-in requests during an outage
    // are test/outage*.test.ts's subject).
    await new Promise((resolve) => setTimeout(resolve, 3000));
    for (const server of [api, worker]) {
      expect((await fetch(`${server.url}/properties/${property.id}`)).status).toBe(200);
    }

    await redis.start();
    const back = Date.now();
    await eventually(async () => {
      expect((await notificationsOf(before.id)).map((row) => row.status)).toEqual(['sent', 'sent']);
    }, 30_000);
    const recoveryMs = Date.now() - back;
    console.log('Redis outage:', { every_owed_email_sent_ms_after_redis_returned: recoveryMs });
    // The lost retries would have waited a minute (their backoff) or ten (the sweep's lease).
    expect(recoveryMs).toBeLessThan(20_000);
    expect((await api.deps.jobs.stats()).runner).toBe('bee-queue');
  }, 180_000);
});
