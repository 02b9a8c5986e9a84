/**
 * What payments and background work need, built from the config in one place for
 * both kinds of process: the API server (server.ts) and the worker (worker.ts).
 * The payment provider, the mail transport, the job runner (bee-queue with Redis,
 * in process without), the sweep that restarts owed work and prunes old failed
 * jobs, and their close, which lets running jobs finish first.
 */
import type { Db } from '../db/index.js';
import { announceBooking } from '../handlers/events.js';
import type { Config } from './config.js';
import { createMailer, type Mailer } from './mail.js';
import type { LiveEvents } from './events.js';
import type { JobContext } from './jobs/job.js';
import { beeQueueRunner, FAILED_JOB_RETENTION_DAYS, inProcessRunner, type JobRunner } from './jobs/queue.js';
import { enqueueOwedWork } from './jobs/sweep.js';
import { LOCAL_WEBHOOK_SECRET, localProvider } from './payments/local.js';
import type { PaymentProvider } from './payments/provider.js';
import { stripeProvider } from './payments/stripe.js';

export interface Background {
  provider: PaymentProvider;
  mailer: Mailer;
  jobs: JobRunner;
  close(): Promise<void>;
}

type Log = (line: Record<string, unknown>) => void;

export function createPaymentProvider(config: Config): PaymentProvider {
  if (config.paymentProvider === 'local') {
    if (config.nodeEnv === 'production' && !config.allowLocalPaymentsInProduction) {
      throw new Error('PAYMENT_PROVIDER is local in production: it takes no money. Set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET, or ALLOW_LOCAL_PAYMENTS_IN_PRODUCTION=true for a demo.');
    }
    // config.ts refuses production without a secret of its own, so the public one serves development and tests only.
    return localProvider({ webhookSecret: config.stripeWebhookSecret ?? LOCAL_WEBHOOK_SECRET, toleranceSeconds: config.webhookToleranceSeconds });
  }
  if (!config.stripeSecretKey || !config.stripeWebhookSecret) {
    throw new Error('PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET.');
  }
  return stripeProvider({
    secretKey: config.stripeSecretKey,
    webhookSecret: config.stripeWebhookSecret,
    apiBase: config.stripeApiBase,
    toleranceSeconds: config.webhookToleranceSeconds,
  });
}

/**
 * `work`: run the jobs here. Without Redis there is nowhere else they could run,
 * so the in-process runner always works them.
 */
export function startBackground(options: { config: Config; db: Db; work: boolean; events: LiveEvents; log: Log }): Background {
  const { config, db, log } = options;
  const provider = createPaymentProvider(config);
  const mailer = createMailer({ smtpUrl: config.smtpUrl, outboxDir: config.mailOutboxDir, from: config.mailFrom });
  const bookingChanged = (bookingId: string) => announceBooking({ db, events: options.events, log }, bookingId);
  const context = (enqueue: JobRunner['enqueue']): JobContext => ({ db, config, provider, mailer, enqueue, bookingChanged, log });
  const works = options.work || !config.redisUrl;
  // When the queues find a Redis that lost its jobs (it restarted empty), a worker
  // starts the jobs of everything owed at once, instead of leaving them to the
  // periodic sweep's lease of minutes.
  let sweeping: Promise<unknown> = Promise.resolve();
  const sweepNow = () => {
    sweeping = sweeping.then(() => enqueueOwedWork(db, jobs, { includeQueued: true })).then(
      (started) => started.length > 0 && log({ level: 'info', message: 'started the jobs of owed work', jobs: started.length }),
      (err: unknown) => log({ level: 'warn', message: 'could not start the jobs of owed work; the sweep will', error: String(err) }),
    );
  };
  const jobs: JobRunner = config.redisUrl
    ? beeQueueRunner({
        redisUrl: config.redisUrl,
        keyPrefix: config.redisKeyPrefix,
        backoffMs: config.jobBackoffMs,
        work: options.work,
        context,
        log,
        ...(works ? { onRedisEmpty: sweepNow } : {}),
      })
    : inProcessRunner({ backoffMs: config.jobBackoffMs, context });
  const stopSweeping = works
    ? every(config.jobSweepSeconds, async () => {
        await enqueueOwedWork(db, jobs);
        await jobs.pruneFailed(FAILED_JOB_RETENTION_DAYS * 24 * 3600 * 1000);
      }, log)
    : async () => {};
  return {
    provider,
    mailer,
    jobs,
    async close() {
      await stopSweeping();
      await sweeping;
      await jobs.close(config.shutdownGraceSeconds * 1000);
      mailer.close();
    },
  };
}

/**
 * Runs `task` every `seconds` (0: never), chained so that a slow run is never
 * overlapped by the next; the returned stop waits for the last run.
 */
export function every(seconds: number, task: () => Promise<unknown>, log: Log): () => Promise<void> {
  if (seconds <= 0) return async () => {};
  let last: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    last = last.then(task).catch((err) => log({ level: 'error', message: 'periodic task failed', error: String(err) }));
  }, seconds * 1000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await last;
  };
}
