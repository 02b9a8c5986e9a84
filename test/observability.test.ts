/**
 * What an operator sees: JSON log lines with time, level and request id; /metrics
 * in Prometheus format with each request's operation and status, the pool and the
 * queue; and OpenTelemetry traces sent to a collector only when one is configured.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../server/config.js';
import { createLogger, logFunction, type LogLine } from '../server/log.js';
import { createMetrics } from '../server/metrics.js';
import { startServer, type RunningServer } from '../server/server.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { eventually, redisUrl } from './support/server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let database: TestDatabase;
const outboxDir = mkdtempSync(path.join(tmpdir(), 'staybook-outbox-'));
const redisKeyPrefix = `staybook-test-${randomBytes(6).toString('hex')}:`;
const servers: RunningServer[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await database?.drop();
  rmSync(outboxDir, { recursive: true, force: true });
});

/** A server on the test database and Redis whose log lines land in `lines`. */
async function start(overrides: Partial<Config> = {}, lines: LogLine[] = []): Promise<RunningServer> {
  const config: Config = {
    ...loadConfig({ NODE_ENV: 'test' }),
    port: 0,
    databaseUrl: database.url,
    redisUrl,
    redisKeyPrefix,
    mailOutboxDir: outboxDir,
    ...overrides,
  };
  const server = await startServer(config, (line) => lines.push(line));
  servers.push(server);
  return server;
}

/** The value of one series in Prometheus text format, or undefined when it is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('logs', () => {
  const lines: LogLine[] = [];
  let server: RunningServer;
  beforeAll(async () => {
    server = await start({ logRequests: true }, lines);
  });

  it('writes one access line per request with time, level, request id, operation, status and duration', async () => {
    const response = await fetch(`${server.url}/properties?city=Lisbon`, { headers: { 'X-Request-Id': 'obs-list-1' } });
    expect(response.status).toBe(200);
    const line = lines.find((candidate) => candidate.request_id === 'obs-list-1');
    expect(line).toMatchObject({
      level: 'info',
      message: 'request',
      method: 'GET',
      path: '/properties',
      operation: 'listProperties',
      status: 200,
    });
    expect(line?.time).toMatch(ISO_TIME);
    expect(line?.duration_ms).toEqual(expect.any(Number));
  });

  it('names the operation of a refused request too, and gives each request its own id', async () => {
    const response = await fetch(`${server.url}/properties?max_price=cheap`);
    expect(response.status).toBe(400);
    const requestId = response.headers.get('X-Request-Id');
    const line = lines.find((candidate) => candidate.request_id === requestId);
    expect(line).toMatchObject({ operation: 'listProperties', status: 400, path: '/properties' });
    expect(lines.filter((candidate) => candidate.message === 'request').map((candidate) => candidate.request_id)).toEqual(['obs-list-1', requestId]);
  });

  it('keeps Deps.log\'s call shape: level, message and fields, with the time added', () => {
    server.deps.log({ level: 'warn', message: 'could not start jobs; the sweep will', request_id: 'obs-deps-1', jobs: [{ name: 'send-notification' }] });
    const line = lines.find((candidate) => candidate.request_id === 'obs-deps-1');
    expect(line).toMatchObject({ level: 'warn', message: 'could not start jobs; the sweep will', jobs: [{ name: 'send-notification' }] });
    expect(line?.time).toMatch(ISO_TIME);
  });

  it('writes nothing below LOG_LEVEL', () => {
    const seen: LogLine[] = [];
    const log = logFunction(createLogger({ logLevel: 'warn' }, (line) => seen.push(line)));
    log({ level: 'info', message: 'routine' });
    log({ level: 'error', message: 'broken' });
    log({ message: 'no level is info' });
    expect(seen.map((line) => [line.level, line.message])).toEqual([['error', 'broken']]);
  });

  it('stays quiet under test: no access lines unless LOG_REQUESTS asks', async () => {
    const quietLines: LogLine[] = [];
    const quiet = await start({}, quietLines);
    expect((await fetch(`${quiet.url}/properties`)).status).toBe(200);
    expect(quietLines).toEqual([]);
  });
});

describe('GET /metrics', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await start();
  });

  it('shows each request by operation and status, the pool, the queue and the process', async () => {
    for (const query of ['city=Porto', 'city=Lisbon', 'max_price=-1']) await fetch(`${server.url}/properties?${query}`);
    await fetch(`${server.url}/no-such-thing`);
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(sample(text, 'staybook_http_request_duration_seconds_count{operation="listProperties",method="GET",status="200"}')).toBe(2);
    expect(sample(text, 'staybook_http_request_duration_seconds_count{operation="listProperties",method="GET",status="400"}')).toBe(1);
    expect(sample(text, 'staybook_http_request_duration_seconds_count{operation="unmatched",method="GET",status="404"}')).toBe(1);
    expect(sample(text, 'staybook_http_request_duration_seconds_bucket{le="+Inf",operation="listProperties",method="GET",status="200"}')).toBe(2);
    expect(sample(text, 'staybook_db_pool_connections')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'staybook_db_pool_idle_connections')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'staybook_db_pool_waiting_clients')).toBe(0);
    expect(sample(text, 'staybook_jobs{runner="bee-queue",state="waiting"}')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'staybook_jobs{runner="bee-queue",state="failed"}')).toBe(0);
    expect(sample(text, 'staybook_jobs_stats_up')).toBe(1);
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(text).toContain('# TYPE staybook_http_request_duration_seconds histogram');
  });

  it('counts its own scrapes under its route, not under the raw path', async () => {
    await fetch(`${server.url}/metrics`);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(sample(text, 'staybook_http_request_duration_seconds_count{operation="/metrics",method="GET",status="200"}')).toBeGreaterThanOrEqual(2);
  });

  it('answers within a second, without job counts, when the queue does not answer', async () => {
    const metrics = createMetrics({ pool: undefined, jobs: { stats: () => new Promise(() => {}) } });
    const started = performance.now();
    const { body } = await metrics.render();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(sample(body, 'staybook_jobs_stats_up')).toBe(0);
    expect(body).not.toMatch(/^staybook_jobs\{/m);
  });

  it('with METRICS_TOKEN, answers only a request that sends it', async () => {
    const guarded = await start({ metricsToken: 'scrape-secret-1' });
    const anonymous = await fetch(`${guarded.url}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('WWW-Authenticate')).toBe('Bearer');
    expect(await anonymous.json()).toMatchObject({ code: 'unauthenticated' });
    const wrong = await fetch(`${guarded.url}/metrics`, { headers: { Authorization: 'Bearer scrape-secret-2' } });
    expect(wrong.status).toBe(401);
    const right = await fetch(`${guarded.url}/metrics`, { headers: { Authorization: 'Bearer scrape-secret-1' } });
    expect(right.status).toBe(200);
    expect(await right.text()).toContain('staybook_http_request_duration_seconds');
  });

  it('is off in production until a METRICS_TOKEN is set', async () => {
    const production = await start({ ...loadConfig({ NODE_ENV: 'production', ALLOW_LOCAL_PAYMENTS_IN_PRODUCTION: 'true', STRIPE_WEBHOOK_SECRET: 'whsec_test_demo' }), port: 0, databaseUrl: database.url, redisUrl, redisKeyPrefix, mailOutboxDir: outboxDir });
    const response = await fetch(`${production.url}/metrics`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: 'not_found' });
  });
});

describe('traces', () => {
  /** A stand-in OpenTelemetry collector: records every OTLP/HTTP export it receives. */
  let collector: Server;
  const exports: { url: string; contentType: string; body: OtlpExport }[] = [];
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const contentType = req.headers['content-type'] ?? '';
        const body = contentType === 'application/json' ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport) : { resourceSpans: [] };
        exports.push({ url: req.url ?? '', contentType, body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    collector.listen(0, '127.0.0.1');
    await once(collector, 'listening');
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    collector.close();
  });

  it('sends spans of HTTP, Koa, pg and ioredis to OTEL_EXPORTER_OTLP_ENDPOINT, in one trace per request', async () => {
    const { port } = collector.address() as AddressInfo;
    child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_BSP_SCHEDULE_DELAY: '100',
        DATABASE_URL: database.url,
        REDIS_URL: redisUrl,
        REDIS_KEY_PREFIX: redisKeyPrefix,
        MAIL_OUTBOX_DIR: outboxDir,
        PORT: '0',
        LOG_REQUESTS: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await eventually(async () => {
      expect(child?.exitCode, stderr).toBeNull();
      expect(stdout).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    }, 120_000);
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1] as string;

    expect((await fetch(`${url}/properties?city=Lisbon`)).status).toBe(200);
    const login = await fetch(`${url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'nobody@example.test', password: 'not the password' }),
    });
    expect(login.status).toBe(401);

    await eventually(async () => {
      const spans = exports.flatMap((batch) => spansOf(batch.body));
      // Server spans are named by the spec's route template, which only the router knows.
      const list = spans.find((span) => span.scope === '@opentelemetry/instrumentation-http' && span.kind === SERVER && span.name === 'GET /properties');
      expect(list, 'an HTTP server span named GET /properties').toBeDefined();
      expect(spans.some((span) => span.kind === SERVER && span.name === 'POST /auth/login')).toBe(true);
      // The request's own queries are in its trace: context flows from http through koa to pg. Sign-in's
      // (the read above may come from the read cache, whose misses' pg spans are not always in the trace).
      const login = spans.find((span) => span.kind === SERVER && span.name === 'POST /auth/login');
      const scopesInTrace = new Set(spans.filter((span) => span.traceId === login?.traceId).map((span) => span.scope));
      expect([...scopesInTrace]).toEqual(expect.arrayContaining(['@opentelemetry/instrumentation-koa', '@opentelemetry/instrumentation-pg']));
      expect(spans.some((span) => span.scope === '@opentelemetry/instrumentation-ioredis')).toBe(true);
    }, 30_000);
    // Traces and nothing else (no OTLP metrics or logs), as JSON.
    expect(new Set(exports.map((batch) => `${batch.url} ${batch.contentType}`))).toEqual(new Set(['/v1/traces application/json']));
    expect(exports[0]?.body.resourceSpans[0]?.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'staybook' } });

    // One stream: everything the process printed is JSON lines with a time and a level.
    const printed = stdout.trim().split('\n').map((line) => JSON.parse(line) as LogLine);
    expect(printed.every((line) => ISO_TIME.test(String(line.time)) && typeof line.level === 'string')).toBe(true);
    expect(printed.find((line) => line.path === '/properties')).toMatchObject({ operation: 'listProperties', status: 200 });

    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
  }, 180_000);

  it('without OTEL_EXPORTER_OTLP_ENDPOINT loads no OpenTelemetry SDK, exporter or instrumentation', async () => {
    // The server's whole module graph, loaded the way main.ts loads it; then which OpenTelemetry modules came with it.
    // (prom-client brings @opentelemetry/api, the no-op facade, for exemplars; nothing of the SDK.)
    const script = `
      import { createRequire } from 'node:module';
      const { loadConfig } = await import(${JSON.stringify(path.join(root, 'server/config.ts'))});
      const { startTelemetry } = await import(${JSON.stringify(path.join(root, 'server/telemetry.ts'))});
      const telemetry = await startTelemetry(loadConfig());
      await import(${JSON.stringify(path.join(root, 'server/server.ts'))});
      const files = Object.keys(createRequire(import.meta.url).cache).filter((file) => file.includes('@opentelemetry/'));
      console.log(JSON.stringify({ started: Boolean(telemetry), packages: [...new Set(files.map((file) => file.split('@opentelemetry/')[1].split('/')[0]))] }));
      await telemetry?.shutdown();`;
    const run = async (env: Record<string, string>) => {
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', ...env },
      });
      return JSON.parse(stdout) as { started: boolean; packages: string[] };
    };
    const [without, withEndpoint] = await Promise.all([run({}), run({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' })]);
    expect(without).toEqual({ started: false, packages: ['api'] });
    // The same probe sees the SDK when it is configured, so the empty answer above is not blindness.
    expect(withEndpoint.started).toBe(true);
    expect(withEndpoint.packages).toEqual(expect.arrayContaining(['sdk-node', 'exporter-trace-otlp-http', 'instrumentation-http', 'instrumentation-pg']));
  }, 120_000);
});

const SERVER = 2; // OTLP's SPAN_KIND_SERVER

interface OtlpExport {
  resourceSpans: {
    resource: { attributes: unknown[] };
    scopeSpans: { scope: { name: string }; spans: { traceId: string; name: string; kind: number }[] }[];
  }[];
}

function spansOf(body: OtlpExport): { scope: string; traceId: string; name: string; kind: number }[] {
  return body.resourceSpans.flatMap((resource) =>
    resource.scopeSpans.flatMap((scope) => scope.spans.map((span) => ({ scope: scope.scope.name, traceId: span.traceId, name: span.name, kind: span.kind }))),
  );
}
