/**
 * The process's Redis connection (the session cache, rate limits,
 * /readyz). Redis may go away at any time and come back: the connection
 * reconnects by itself, an outage is logged once and its end once, and no
 * command waits long, so the callers fall back (sessions to PostgreSQL, the
 * rate limits to this process's memory) instead of making a request wait.
 * (bee-queue keeps its own connections: server/jobs/queue.ts.)
 */
import { Redis } from 'ioredis';

/** The longest a command may wait, queued or sent; a healthy Redis answers in about a millisecond. */
export const REDIS_COMMAND_TIMEOUT_MS = 500;

export function connectRedis(url: string, options: { keyPrefix: string; log: (line: Record<string, unknown>) => void }): Redis {
  const { log } = options;
  const redis = new Redis(url, {
    keyPrefix: options.keyPrefix,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    // A command queued while the connection is down fails after the first reconnect attempt fails.
    maxRetriesPerRequest: 1,
    // Keep trying for ever, at least once a second, so that recovery is seen within a second.
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
  });
  let reachable = true;
  const lost = (reason: string) => {
    if (reachable) log({ level: 'error', message: 'Redis is unreachable; sessions are read from PostgreSQL and rate limits counted per process until it is back', error: reason });
    reachable = false;
  };
  // Without an `error` listener ioredis prints every failed reconnect attempt; with it, one line per outage.
  redis.on('error', (err: Error) => lost(String(err)));
  redis.on('reconnecting', () => lost('connection closed'));
  redis.on('ready', () => {
    if (!reachable) log({ level: 'info', message: 'Redis is reachable again' });
    reachable = true;
  });
  return redis;
}

/**
 * True while the connection is known to be lost: callers skip Redis at once
 * rather than wait for the command timeout. (While connecting at startup,
 * commands are queued and sent once connected.)
 */
export function redisIsDown(redis: Redis): boolean {
  return redis.status === 'reconnecting' || redis.status === 'close' || redis.status === 'end';
}
