/**
 * Failed jobs are kept for an operator to see, counted on /readyz, and only for a
 * bounded time: the sweep prunes those older than FAILED_JOB_RETENTION_DAYS. Both
 * runners, against real PostgreSQL and Redis.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FAILED_JOB_RETENTION_DAYS } from '../server/jobs/queue.js';
import { createBooking, payStay } from './support/factories.js';
import { eventually, testEnvironment, type TestEnvironment } from './support/server.js';

const environments: TestEnvironment[] = [];
afterAll(async () => {
  await Promise.all(environments.map((env) => env.close()));
});

describe.each([
  { runner: 'bee-queue', redis: true },
  { runner: 'in-process', redis: false },
])('failed jobs ($runner)', ({ redis }) => {
  it('are counted on /readyz until they are older than the retention, then pruned', async () => {
    const env = await testEnvironment({ redis });
    environments.push(env);
    // A file where the outbox folder should be: every send fails, and both emails run out of retries.
    const blocked = path.join(env.outboxDir, 'blocked');
    await writeFile(blocked, 'not a folder');
    const server = await env.start({ mailOutboxDir: blocked, jobBackoffMs: 10, jobSweepSeconds: 0 });
    await payStay(server, await createBooking(server.client));
    const failedOnReadyz = async () => ((await (await fetch(`${server.url}/readyz`)).json()) as { jobs: { failed: number } }).jobs.failed;
    await eventually(async () => expect(await failedOnReadyz()).toBe(2), 30_000);

    // Younger than the retention: kept.
    expect(await server.deps.jobs.pruneFailed(FAILED_JOB_RETENTION_DAYS * 24 * 3600 * 1000)).toBe(0);
    expect(await failedOnReadyz()).toBe(2);
    // Older than it (a retention of 0 ms makes them so): pruned, and no longer counted.
    expect(await server.deps.jobs.pruneFailed(0)).toBe(2);
    expect(await failedOnReadyz()).toBe(0);
    // The notifications themselves stay failed in the database, with their last error.
    const rows = await server.deps.db.selectFrom('notifications').select(['status', 'last_error']).execute();
    expect(rows).toMatchObject([{ status: 'failed' }, { status: 'failed' }]);
  }, 60_000);
});
