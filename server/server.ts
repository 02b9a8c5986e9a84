/**
 * Builds and starts one server process from a Config: the database (PostgreSQL or
 * the embedded PGlite), migrations, first-start demo data, the log, sessions (in the
 * database, cached in Redis when there is one), the Koa app, and a graceful shutdown. Used by main.ts and by the
 * tests, which start real servers on ephemeral ports.
 */
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createHttpTerminator } from 'http-terminator';
import { parse } from 'yaml';
import type { Document } from 'openapi-backend';
import { sweepBookingStatuses } from '../db/bookings.js';
import { deleteExpiredIdempotencyKeys } from '../db/idempotency.js';
import { openDatabase, type Db } from '../db/index.js';
import { migrateToLatest } from '../db/migrate.js';
import { seedDemoData } from './demo-data.js';
import { announceBooking } from '../handlers/events.js';
import { handlers } from '../handlers/index.js';
import { createApp } from './app.js';
import { every, startBackground } from './background.js';
import type { Config } from './config.js';
import { clientErrorResponse } from './errors.js';
import { createLimits, limitOperations } from './limits.js';
import { createLogger, logFunction, type LogFn, type Logger } from './log.js';
import type { Deps } from './operations.js';
import { connectRedis } from './redis.js';
import { sessionStore } from './sessions.js';
import { createReadCache } from './cache.js';
import { createLocalEvents, createRedisEvents, type LiveEvents } from './events.js';
import { createHash } from 'node:crypto';

export const specPath = new URL('../spec/openapi.yaml', import.meta.url);

/** Built once per process: openapi-backend compiles its validators once per handlers object (api.ts). */
const limitedHandlers = limitOperations(handlers);

export async function loadSpec(): Promise<Document> {
  return parse(await readFile(specPath, 'utf8')) as Document;
}

export interface RunningServer {
  url: string;
  deps: Deps;
  /** The process's logger (JSON lines on stdout, or the caller's sink). */
  logger: Logger;
  seeded: boolean;
  /**
   * Stops gracefully, in this order: no new connections; requests in flight
   * finish (up to shutdownGraceSeconds; their responses say `Connection: close`,
   * and idle keep-alive connections are closed); the jobs they owed are handed to
   * the queue; running jobs finish; then Redis and the database pool are closed.
   * Safe to call more than once.
   */
  close(): Promise<void>;
}

/** `log`, when given, receives every log line instead of stdout (the tests print only the errors). */
export async function startServer(config: Config, log?: LogFn): Promise<RunningServer> {
  const logger = createLogger(config, log);
  const writeLog = logFunction(logger);
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log: writeLog });
  const redis = config.redisUrl ? connectRedis(config.redisUrl, { keyPrefix: config.redisKeyPrefix, log: writeLog }) : undefined;
  let background: ReturnType<typeof startBackground> | undefined;
  let events: LiveEvents | undefined;
  try {
    await migrateToLatest(database.db);
    // Demo data only where nobody's data can be: a new embedded database, and only when asked.
    const seeded = database.kind === 'pglite' && database.isNew && config.seedOnFirstStart
      ? (await seedDemoData(database.db, { bookings: config, passwordHashProfile: config.passwordHashProfile })).created
      : false;
    // Live events travel through Redis between processes when there is one; else within this process.
    events = redis && config.redisUrl
      ? createRedisEvents({ redis, url: config.redisUrl, keyPrefix: config.redisKeyPrefix, backlog: config.liveBacklog, retentionSeconds: config.liveRetentionSeconds, log: writeLog })
      : createLocalEvents({ backlog: config.liveBacklog, retentionSeconds: config.liveRetentionSeconds, log: writeLog });
    background = startBackground({ config, db: database.db, work: config.runWorkers, events, log: writeLog });
    const spec = await loadSpec();
    const cache = createReadCache({
      redis: config.cache ? redis : undefined,
      ttlSeconds: config.cacheTtlSeconds,
      // Answers of another spec (another release) have another shape: never read them.
      namespace: createHash('sha256').update(JSON.stringify(spec)).digest('base64url').slice(0, 12),
      log: writeLog,
    });
    const deps: Deps = {
      config,
      db: database.db,
      sessions: sessionStore({ db: database.db, redis, log: writeLog }),
      limits: createLimits({ redis, config, log: writeLog }),
      payments: background.provider,
      jobs: background.jobs,
      cache,
      events,
      log: writeLog,
    };
    const { koa, api } = await createApp({ spec, handlers: limitedHandlers, deps, redis, logger, pool: database.pool });
    // Writes down lapsed holds and finished stays, and forgets idempotency keys past their day.
    // Nothing depends on it running (reads compute the status, bookings expire lapsed holds
    // themselves); several processes may run it at once, as each statement is idempotent.
    const stopSweeping = every(config.bookingSweepSeconds, async () => {
      const swept = await sweepBookingStatuses(database.db);
      if (swept.expired > 0) await cache.bump({ stays: true });
      // Requests that expired unanswered tell their guests (the job sweep would find these rows too).
      if (swept.notifications.length > 0) await deps.jobs.enqueue(swept.notifications.map((id) => ({ name: 'send-notification' as const, id })));
      // ... and their guests' and hosts' live streams.
      for (const bookingId of swept.expiredRequests) await announceBooking(deps, bookingId);
      await deleteExpiredIdempotencyKeys(database.db);
    }, writeLog);
    const httpServer = koa.listen(config.port, config.host);
    // What Node's HTTP parser refuses (oversized headers, a malformed request) is answered with a problem document too.
    httpServer.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
      socket.end(clientErrorResponse(err));
    });
    await new Promise<void>((resolve, reject) => {
      httpServer.once('listening', resolve);
      httpServer.once('error', reject);
    });
    // http-terminator closes keep-alive connections after their current response
    // (`Connection: close`) and idle ones at once, and destroys what is left at the deadline.
    // Serving already; the validators not compiled yet are compiled between requests.
    void api.warmValidators().catch((err: unknown) => writeLog({ level: 'warn', message: 'could not precompile the request validators', error: String(err) }));
    const terminator = createHttpTerminator({ server: httpServer, gracefulTerminationTimeout: config.shutdownGraceSeconds * 1000 });
    const { port } = httpServer.address() as AddressInfo;
    let closing: Promise<void> | undefined;
    return {
      url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
      deps,
      logger,
      seeded,
      close() {
        closing ??= (async () => {
          // Open event streams never finish by themselves: end them first, so that in-flight requests are all that is waited for.
          deps.events.endAll();
          await terminator.terminate();
          await stopSweeping();
          // Requests are done: what they owed is being enqueued; running jobs finish.
          await background?.close();
          await deps.events.close();
          redis?.disconnect();
          await database.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    await background?.close();
    await events?.close();
    redis?.disconnect();
    await database.close();
    throw err;
  }
}
