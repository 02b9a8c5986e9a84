/**
 * Background work: the job definitions and the two runners that execute them.
 *
 * - `beeQueueRunner`: bee-queue on Redis, one queue per job. API processes
 *   enqueue; worker processes (`npm run worker`, and the server itself unless
 *   RUN_WORKERS is off) run the jobs. A failed job is retried with exponential
 *   backoff and, once out of retries, stays in the queue's failed set for
 *   FAILED_JOB_RETENTION_DAYS (counted on /readyz) and is logged; never silently
 *   dropped. Workers check for stalled jobs every few seconds, so the jobs of a
 *   worker that died run again soon; a lost Redis is logged and waited for.
 * - `inProcessRunner`: without Redis (the embedded default) the same job code,
 *   with the same retries and backoff, runs in this process on timers.
 *
 * Every job takes one id (a refund, a payment, a notification) and reads the
 * rest from the database, so a job that runs twice or late finds the current
 * state; each one's effects are guarded, so running twice changes nothing more
 * (a refund holds its row lock across the provider call and sends an idempotency
 * key, a notification is claimed before it is sent).
 *
 * bee-queue needs help to survive a Redis restart, and that help leans on its
 * internals: it loads its Lua scripts once and calls them by hash (after a restart
 * every call fails with NOSCRIPT until they are reloaded through its `lib/lua`),
 * emits `ready` only once (reconnects are watched on its client), retries its
 * connection without a cap, keeps no failure time nor retention for failed jobs, and
 * does not re-arm its delayed-job timer after a failed activation. The maintained
 * way out is pg-boss (jobs as rows, enqueued in the transaction that makes them
 * owed, which would retire the sweep and the Redis-lost marker) or BullMQ (reloads
 * its scripts, stall checks and age-based retention built in).
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
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
  /** Out of retries, kept for an operator to see until they are FAILED_JOB_RETENTION_DAYS old. */
  failed: number;
}

export interface JobRunner {
  readonly kind: JobStats['runner'];
  enqueue(jobs: JobRequest[]): Promise<void>;
  stats(): Promise<JobStats>;
  /** Forgets failed jobs older than `maxAgeMs`; returns how many. */
  pruneFailed(maxAgeMs: number): Promise<number>;
  /** Stops taking jobs, gives enqueues in flight and running jobs up to `timeoutMs` to finish, then lets go of Redis. */
  close(timeoutMs?: number): Promise<void>;
}

type Log = (line: Record<string, unknown>) => void;

/** How long failed jobs are kept for an operator to look at (and counted on /readyz). */
export const FAILED_JOB_RETENTION_DAYS = 7;

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

/** Waits for `work` at most `ms`; true when it settled in time. Never rejects. */
async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = work.then(() => true as const, () => true as const);
  return Promise.race([settled, late]).finally(() => clearTimeout(timer));
}

/** The same jobs, retries and backoff as bee-queue's, on this process's timers. */
export function inProcessRunner(options: { backoffMs: number; context: (enqueue: JobRunner['enqueue']) => JobContext }): JobRunner {
  const running = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();
  let waiting = 0;
  /** When each job ran out of retries, oldest first. */
  const failedAt: number[] = [];
  let closed = false;

  const runner: JobRunner = {
    kind: 'in-process',
    async enqueue(jobs) {
      for (const job of jobs) schedule(job, 0, job.notBefore ? Math.max(0, job.notBefore.getTime() - Date.now()) : 0);
    },
    async stats() {
      return { runner: 'in-process', waiting, failed: failedAt.length };
    },
    async pruneFailed(maxAgeMs) {
      const cutoff = Date.now() - maxAgeMs;
      let removed = 0;
      while (failedAt.length > 0 && failedAt[0]! < cutoff) {
        failedAt.shift();
        removed++;
      }
      return removed;
    },
    async close(timeoutMs = 5000) {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      // Jobs not started are owed rows in the database: the next start's sweep finds them.
      await settledWithin(Promise.allSettled([...running]), timeoutMs);
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
        else failedAt.push(Date.now());
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
  log: Log;
  /**
   * Called when the queues connect, at start or after a lost connection, to a
   * Redis that holds nothing of ours: a new one, or one that restarted empty and
   * lost the jobs it held. The work they stood for is rows in the database. Only
   * one of the processes that pass it is called for each such Redis.
   */
  onRedisEmpty?: () => void;
}

/**
 * bee-queue waits for Redis without limit (a command issued while it is down waits
 * for the reconnect), so a request or a health check would hang with it. Enqueueing
 * and stats give up waiting after this long; the command itself stays queued in the
 * client and is sent when Redis is back. Should this process stop first, or that
 * Redis have restarted empty, the owed rows are in the database: onRedisEmpty and
 * the sweep start their jobs.
 */
const REDIS_WAIT_MS = 2000;

/**
 * A worker that has not said "still working on it" for this long has lost its
 * jobs (killed, or its host gone): the stall check puts them back in the queue.
 * Workers say it every half of this; the check runs every STALL_CHECK_MS, so a
 * lost job runs again within about STALL_INTERVAL_MS + STALL_CHECK_MS.
 */
const STALL_INTERVAL_MS = 5000;
const STALL_CHECK_MS = 2500;

function withinRedisWait<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: Redis did not answer within ${REDIS_WAIT_MS} ms`)), REDIS_WAIT_MS);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Connection settings for bee-queue's own client (node_redis 3). Without a
 * retry_strategy, node_redis emits an `error` for every failed reconnect and
 * waits 200 ms x 1.7^n between attempts, without bound (after a 15 s outage it
 * may wait 8 s more, after a minute half a minute). With one, it retries every
 * 250 ms, 500 ms, ... at most 2 s apart, forever, and reports nothing but the
 * reconnect; commands issued meanwhile wait in its offline queue.
 */
function redisSettings(url: string): BeeQueue.QueueSettings['redis'] {
  return {
    url,
    retry_strategy: ({ attempt: tries }: { attempt: number }) => Math.min(tries * 250, 2000),
    enable_offline_queue: true,
  } as BeeQueue.QueueSettings['redis'];
}

/**
 * bee-queue runs its Lua scripts by hash (EVALSHA) and loads them once, when it
 * connects; a Redis that restarted has forgotten them, and every enqueue, stall
 * check and delayed-job activation then fails with NOSCRIPT for good. Its own
 * loader (not part of its typed API) loads them again on each reconnect.
 */
const beeQueueScripts = createRequire(import.meta.url)('bee-queue/lib/lua/index.js') as { buildCache(client: QueueClient): Promise<unknown> };

/**
 * bee-queue's command client (node_redis), which it does not type: its `end` and
 * `ready` events tell of a lost and a regained Redis.
 */
type QueueClient = {
  on(event: 'end' | 'ready', listener: () => void): void;
  set(key: string, value: string, mode: 'NX', callback: (err: Error | null, reply: string | null) => void): void;
};

/** bee-queue on Redis. bee-queue is given connection settings, not an ioredis client: it ignores those (TOOLCHAIN.md). */
export function beeQueueRunner(options: BeeOptions): JobRunner {
  const { log } = options;
  const names = Object.keys(jobDefinitions) as JobName[];
  const queues = new Map<JobName, BeeQueue>(
    names.map((name) => [
      name,
      new BeeQueue(name, {
        redis: redisSettings(options.redisUrl),
        prefix: `${options.keyPrefix}bq`,
        isWorker: options.work,
        // Retries with backoff are delayed jobs: a worker must activate them.
        activateDelayedJobs: options.work,
        getEvents: false,
        sendEvents: false,
        storeJobs: false,
        removeOnSuccess: true,
        removeOnFailure: false,
        stallInterval: STALL_INTERVAL_MS,
      }),
    ]),
  );

  // A queue without an `error` listener ends the process on the first lost
  // connection (an aborted BRPOPLPUSH, a failed stall check): Redis going away is
  // a normal event, logged, and the queues carry on once it is back.
  let redisLost = false;
  let closing = false;
  for (const [name, queue] of queues) {
    queue.on('error', (err: Error) => {
      if (!closing) log({ level: 'warn', message: 'job queue: Redis error', queue: name, error: String(err) });
    });
    queue.on('stalled', (jobId: string) => log({ level: 'warn', message: 'stalled job put back in the queue', queue: name, job_id: jobId }));
  }
  const clientOf = (queue: BeeQueue) => (queue as unknown as { client: QueueClient }).client;
  // A key of ours that exists as long as this Redis keeps its data: whoever sets it
  // finds a Redis without our queues' jobs, and has the owed work enqueued again.
  const marker = `${options.keyPrefix}bq:holds-jobs-since`;
  const checkRedisKeptJobs = (client: QueueClient) => {
    if (!options.onRedisEmpty || closing) return;
    client.set(marker, new Date().toISOString(), 'NX', (err, reply) => {
      if (err) log({ level: 'warn', message: 'job queue: could not check whether Redis kept its jobs', error: String(err) });
      else if (reply === 'OK' && !closing) {
        log({ level: 'info', message: 'job queue: Redis holds no jobs of ours (new, or restarted empty); starting the owed work again' });
        options.onRedisEmpty?.();
      }
    });
  };
  void Promise.all([...queues.values()].map((queue) => queue.ready())).then(
    () => {
      for (const queue of queues.values()) {
        const client = clientOf(queue);
        client.on('end', () => {
          if (redisLost || closing) return;
          redisLost = true;
          log({ level: 'warn', message: 'job queue: lost the connection to Redis; reconnecting' });
        });
        client.on('ready', () => {
          if (!redisLost || closing) return;
          redisLost = false;
          log({ level: 'info', message: 'job queue: Redis is back' });
          beeQueueScripts.buildCache(client).then(
            () => checkRedisKeptJobs(client),
            (err: unknown) => log({ level: 'error', message: 'job queue: could not load its scripts into Redis again', error: String(err) }),
          );
        });
      }
      checkRedisKeptJobs(clientOf(queues.values().next().value as BeeQueue));
    },
    (err: unknown) => log({ level: 'error', message: 'job queue could not start', error: String(err) }),
  );

  const inFlight = new Set<Promise<unknown>>();
  const runner: JobRunner = {
    kind: 'bee-queue',
    async enqueue(jobs) {
      if (jobs.length === 0) return;
      const saves = Promise.all(
        jobs.map((job) => {
          const created = (queues.get(job.name) as BeeQueue)
            .createJob({ id: job.id })
            // Ids of our own, not Redis's counter: a Redis that restarted empty counts from 1
            // again, and a command of a job from before (a retry in flight when the
            // connection dropped, resent on reconnect) must not land on a new job of the same id.
            .setId(randomUUID())
            .retries(jobDefinitions[job.name].retries)
            .backoff('exponential', options.backoffMs);
          return (job.notBefore ? created.delayUntil(job.notBefore) : created).save();
        }),
      );
      inFlight.add(saves);
      void saves.then(
        () => inFlight.delete(saves),
        () => inFlight.delete(saves),
      );
      await withinRedisWait(saves, 'enqueue');
    },
    async stats() {
      const counts = await withinRedisWait(Promise.all([...queues.values()].map((queue) => queue.checkHealth())), 'job stats');
      return {
        runner: 'bee-queue',
        waiting: counts.reduce((sum, count) => sum + count.waiting + count.delayed, 0),
        failed: counts.reduce((sum, count) => sum + count.failed, 0),
      };
    },
    async pruneFailed(maxAgeMs) {
      // bee-queue keeps failed jobs forever (removeOnFailure is all or nothing); the
      // time a job was created stands for when it failed, its retries taking minutes.
      const cutoff = Date.now() - maxAgeMs;
      let removed = 0;
      for (const queue of queues.values()) {
        const failed = await withinRedisWait(queue.getJobs('failed', { size: 1000 }), 'failed jobs');
        for (const job of failed) {
          if ((job.options as { timestamp: number }).timestamp >= cutoff) continue;
          await withinRedisWait(queue.removeJob(job.id), 'remove failed job');
          removed++;
        }
      }
      return removed;
    },
    async close(timeoutMs = 5000) {
      // Enqueues still waiting for Redis get until the deadline; were Redis gone for
      // longer, their rows are owed in the database and the next sweep starts them.
      await settledWithin(Promise.allSettled([...inFlight]), timeoutMs);
      closing = true;
      // Each queue stops taking jobs and waits for its running ones; a job still
      // running at the deadline is left in the active list, where the stall check of
      // another worker finds it.
      const closed = Promise.all(
        [...queues.values()].map((queue) =>
          queue.close(timeoutMs).catch((err: unknown) => log({ level: 'warn', message: 'job queue closed at the deadline: jobs still running, or Redis unreachable', queue: queue.name, error: String(err) })),
        ),
      );
      // Quitting waits for a connection; without Redis there is nothing to wait for.
      await settledWithin(closed, timeoutMs + REDIS_WAIT_MS);
    },
  };

  if (options.work) {
    const ctx = options.context(runner.enqueue);
    for (const [name, queue] of queues) {
      queue.process(options.concurrency ?? 4, async (job: BeeQueue.Job<{ id: string }>) => {
        // bee-queue counts retries down; the attempt with none left is the last.
        await attempt(ctx, name, job.data.id, (job.options as { retries?: number }).retries === 0);
      });
      // Jobs of a worker that died (kill -9, a lost host) go back to the queue within seconds, not never.
      queue.checkStalledJobs(STALL_CHECK_MS).catch((err: unknown) => log({ level: 'warn', message: 'stall check failed', queue: name, error: String(err) }));
    }
  }
  return runner;
}
