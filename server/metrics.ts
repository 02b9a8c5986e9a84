/**
 * Prometheus metrics for `GET /metrics` (prom-client): the latency of every request
 * by operation, method and status (its `_count` is the request rate), the PostgreSQL
 * pool's connections, the job queues' depth and failures, the open live-event streams,
 * and Node's default process metrics. Each app has its own registry, so several servers in one process (the
 * tests) count separately.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CacheCounts, ReadCache } from './cache.js';
import type { PoolUsage } from '../db/index.js';
import type { JobRunner } from './jobs/queue.js';
import type { LiveEvents } from './events.js';

/** A scrape never waits longer than this for the queue's counts (Redis may be slow or gone). */
const JOB_STATS_TIMEOUT_MS = 500;

export interface Metrics {
  /** Records one finished request; `operation` is its operationId, the route of a non-API path, or `unmatched`. */
  observeRequest(labels: { operation: string; method: string; status: number }, seconds: number): void;
  /** The exposition text, and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

export function createMetrics(options: {
  pool: PoolUsage | undefined;
  jobs: Pick<JobRunner, 'stats'>;
  cache?: Pick<ReadCache, 'counts'> | undefined;
  events?: Pick<LiveEvents, 'following'> | undefined;
}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const requests = new Histogram({
    name: 'staybook_http_request_duration_seconds',
    help: 'Time from a request arriving to its response being ready, by operation, method and status.',
    labelNames: ['operation', 'method', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  const { pool } = options;
  if (pool) {
    // Read at scrape time: the pool keeps these counts itself.
    gauge(registry, 'staybook_db_pool_connections', 'Connections the PostgreSQL pool holds open (busy and idle).', () => pool.totalCount);
    gauge(registry, 'staybook_db_pool_idle_connections', 'Open PostgreSQL connections that are idle.', () => pool.idleCount);
    gauge(registry, 'staybook_db_pool_waiting_clients', 'Queries waiting for a PostgreSQL connection (the pool is exhausted while above 0).', () => pool.waitingCount);
  }

  const { cache } = options;
  if (cache) {
    // Read at scrape time: the cache keeps these counts itself, per operation.
    const cacheCounter = (field: keyof CacheCounts, name: string, help: string) =>
      new Counter({
        name,
        help,
        labelNames: ['operation'] as const,
        registers: [registry],
        collect() {
          this.reset();
          for (const [operation, counts] of cache.counts()) this.inc({ operation }, counts[field]);
        },
      });
    cacheCounter('hits', 'staybook_cache_hits_total', 'Cached reads answered from Redis, by operation.');
    cacheCounter('misses', 'staybook_cache_misses_total', 'Cached reads not found in Redis (or Redis unavailable), by operation.');
    cacheCounter('rebuilds', 'staybook_cache_rebuilds_total', 'Answers built from PostgreSQL for the cache, by operation (one per entry at a time).');
  }

  const { events } = options;
  if (events) {
    gauge(registry, 'staybook_live_streams', 'Event streams (GET /events) this process holds open; new ones are refused at LIVE_MAX_STREAMS_PER_PROCESS.', () => events.following());
  }

  const jobs = new Gauge({
    name: 'staybook_jobs',
    help: 'Background jobs by state: waiting (queued or delayed for a retry) and failed (out of retries, kept for an operator).',
    labelNames: ['runner', 'state'] as const,
    registers: [registry],
  });
  const jobStatsUp = new Gauge({
    name: 'staybook_jobs_stats_up',
    help: '1 when the last scrape could read the job counts, 0 when the queue (Redis) did not answer in time.',
    registers: [registry],
  });

  async function refreshJobStats(): Promise<void> {
    try {
      const stats = await withTimeout(options.jobs.stats(), JOB_STATS_TIMEOUT_MS);
      jobs.reset();
      jobs.set({ runner: stats.runner, state: 'waiting' }, stats.waiting);
      jobs.set({ runner: stats.runner, state: 'failed' }, stats.failed);
      jobStatsUp.set(1);
    } catch {
      // Stale counts would look like a healthy queue: drop them and say why.
      jobs.reset();
      jobStatsUp.set(0);
    }
  }

  return {
    observeRequest({ operation, method, status }, seconds) {
      requests.observe({ operation, method, status: String(status) }, seconds);
    },
    async render() {
      await refreshJobStats();
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

function gauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
