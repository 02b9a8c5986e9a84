/**
 * Entry point of `npm run worker`: a process that runs only the background jobs
 * (refunds, payment follow-ups, notification emails) from the bee-queue queues,
 * and the sweep that restarts owed work. It needs what the API servers share:
 * PostgreSQL (DATABASE_URL) and Redis (REDIS_URL). API servers then run with
 * RUN_WORKERS=false, or keep working jobs too; bee-queue hands each job to one.
 */
import { openDatabase } from '../db/index.js';
import { migrateToLatest } from '../db/migrate.js';
import { startBackground } from './background.js';
import { loadConfig, loadEnvFile } from './config.js';
import { createRedisEvents } from './events.js';
import { createLogger, logFunction } from './log.js';
import { connectRedis } from './redis.js';

loadEnvFile();
const config = loadConfig();
if (!config.databaseUrl || !config.redisUrl) {
  console.error('npm run worker needs DATABASE_URL and REDIS_URL: the embedded default runs its jobs inside the server.');
  process.exit(2);
}
const log = logFunction(createLogger(config));
const database = await openDatabase({ databaseUrl: config.databaseUrl });
await migrateToLatest(database.db);
// Jobs that change a booking tell its guest and host through the live events (published to Redis, no subscriber).
const redis = connectRedis(config.redisUrl, { keyPrefix: config.redisKeyPrefix, log });
const events = createRedisEvents({
  redis, url: config.redisUrl, keyPrefix: config.redisKeyPrefix, backlog: config.liveBacklog, retentionSeconds: config.liveRetentionSeconds, log,
});
const background = startBackground({ config, db: database.db, work: true, events, log });
log({ level: 'info', message: 'worker started', provider: background.provider.name, mail: background.mailer.kind });

// SIGTERM: take no new jobs, let running ones finish (up to SHUTDOWN_GRACE_SECONDS;
// one still running then is put back by another worker's stall check), close the
// pool, exit 0. Should anything hang, the process still ends soon after.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log({ level: 'info', message: `${signal} received, finishing running jobs` });
    setTimeout(() => {
      log({ level: 'error', message: 'shutdown did not finish in time; exiting' });
      process.exit(1);
    }, (2 * config.shutdownGraceSeconds + 5) * 1000).unref();
    background
      .close()
      .then(() => events.close())
      .then(() => redis.disconnect())
      .then(() => database.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(err);
          process.exit(1);
        },
      );
  });
}
