/**
 * Background work: the job definitions and the two runners that execute them.
 *
 * - `beeQueueRunner`: bee-queue on Redis, one queue per job. API processes
 *   enqueue; worker processes (`npm run worker`, and the server itself unless
 *   RUN_WORKERS is off) run the jobs. A failed job is retried with exponential
 *   backoff and, once out of retries, stays in the queue's failed set (counted on
 *   /readyz) and is logged; never silently dropped.
 * - `inProcessRunner`: without Redis (the embedded default) the same job code,
 *   with the same retries and backoff, runs in this process on timers.
 *
 * Every job takes one id (a refund, a payment, a notification) and reads the
 * rest from the database, so a job that runs twice or late finds the current
 * state; each one's effects are guarded, so running twice changes nothing more.
 */
import BeeQueue from 'bee-queue';
import { executeRefund } from './execute-refund.js';
import { followUpPayment } from './follow-up-payment.js';
import type { JobContext, JobDefinition, JobName, JobRequest } from './job.js';
import { sendNotification } from './send-notification.js';


export const jobDefinitions: Record<JobName, JobDefinition> = {
  'execute-refund': executeRefund,
  'follow-up-payment': followUpPayment,
  'send-notification': sendNotification,
};

export interface JobStats {
  runner: 'bee-queue' | 'in-process';
  waiting: number;
  failed: number;
}

export interface JobRunner {
  readonly kind: JobStats['runner'];
  enqueue(jobs: JobRequest[]): Promise<void>;
  stats(): Promise<JobStats>;
  close(): Promise<void>;
}

/** Delay before retry n (1-based): backoffMs, 2x, 4x, ... as bee-queue's exponential strategy. */
export function backoffDelay(backoffMs: number, retry: number): number {
  return backoffMs * 2 ** (retry - 1);
}

/** Runs one attempt of a job and reports it; the runner decides about retries. */
async function attempt(ctx: JobContext, name: JobName, id: string, final: boolean): Promise<void> {
  try {
    await jobDefinitions[name].run(ctx, id, { final });
  } catch (err) {
    ctx.log({ level: final ? 'error' : 'warn', message: final ? 'job failed, no retries left' : 'job failed, will retry', job: name, id, error: String(err) });
    throw err;
  }
}

/** The same jobs, retries and backoff as bee-queue's, on this process's timers. */
export function inProcessRunner(options: { backoffMs: number; context: (enqueue: JobRunner['enqueue']) => JobContext }): JobRunner {
  const running = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();
  let waiting = 0;
  let failed = 0;
  let closed = false;

  const runner: JobRunner = {
    kind: 'in-process',
    async enqueue(jobs) {
      for (const job of jobs) schedule(job, 0, 0);
    },
    async stats() {
      return { runner: 'in-process', waiting, failed };
    },
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.allSettled([...running]);
    },
  };
  const ctx = options.context(runner.enqueue);

  function schedule(job: JobRequest, retry: number, delayMs: number): void {
    if (closed) return;
    waiting++;
    const timer = setTimeout(() => {
      timers.delete(timer);
      waiting--;
      const { retries } = jobDefinitions[job.name];
      const run = attempt(ctx, job.name, job.id, retry >= retries).catch(() => {
        if (retry < retries) schedule(job, retry + 1, backoffDelay(options.backoffMs, retry + 1));
        else failed++;
      });
      running.add(run);
      void run.finally(() => running.delete(run));
    }, delayMs);
    timers.add(timer);
  }

  return runner;
}

interface BeeOptions {
  redisUrl: string;
  keyPrefix: string;
  backoffMs: number;
  /** Also process the jobs here (a worker); otherwise only enqueue. */
  work: boolean;
  concurrency?: number;
  context: (enqueue: JobRunner['enqueue']) => JobContext;
}

/**
 * bee-queue waits for Redis without limit (a command issued while it is down waits
 * for the reconnect), so a request or a health check would hang with it. Enqueueing
 * and stats give up after this long instead: the owed rows are in the database, and
 * the sweep starts their jobs once Redis is back.
 */
const REDIS_WAIT_MS = 2000;

function withinRedisWait<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: Redis did not answer within ${REDIS_WAIT_MS} ms`)), REDIS_WAIT_MS);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** bee-queue on Redis. bee-queue is given connection settings, not an ioredis client: it ignores those (TOOLCHAIN.md). */
export function beeQueueRunner(options: BeeOptions): JobRunner {
  const names = Object.keys(jobDefinitions) as JobName[];
  const queues = new Map<JobName, BeeQueue>(
    names.map((name) => [
      name,
      new BeeQueue(name, {
        redis: { url: options.redisUrl } as BeeQueue.QueueSettings['redis'],
        prefix: `${options.keyPrefix}bq`,
        isWorker: options.work,
        // Retries with backoff are delayed jobs: a worker must activate them.
        activateDelayedJobs: options.work,
        getEvents: false,
        sendEvents: false,
        storeJobs: false,
        removeOnSuccess: true,
        removeOnFailure: false,
      }),
    ]),
  );

  const runner: JobRunner = {
    kind: 'bee-queue',
    async enqueue(jobs) {
      const saves = jobs.map((job) =>
        (queues.get(job.name) as BeeQueue)
          .createJob({ id: job.id })
          .retries(jobDefinitions[job.name].retries)
          .backoff('exponential', options.backoffMs)
          .save(),
      );
      await withinRedisWait(Promise.all(saves), 'enqueue');
    },
    async stats() {
      const counts = await withinRedisWait(Promise.all([...queues.values()].map((queue) => queue.checkHealth())), 'job stats');
      return {
        runner: 'bee-queue',
        waiting: counts.reduce((sum, count) => sum + count.waiting + count.delayed, 0),
        failed: counts.reduce((sum, count) => sum + count.failed, 0),
      };
    },
    async close() {
      await Promise.all([...queues.values()].map((queue) => queue.close(5000)));
    },
  };

  if (options.work) {
    const ctx = options.context(runner.enqueue);
    for (const [name, queue] of queues) {
      queue.process(options.concurrency ?? 4, async (job: BeeQueue.Job<{ id: string }>) => {
        // bee-queue counts retries down; the attempt with none left is the last.
        await attempt(ctx, name, job.data.id, (job.options as { retries?: number }).retries === 0);
      });
    }
  }
  return runner;
}
