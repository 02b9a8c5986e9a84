/**
 * The Koa application: request ids, the one error-to-problem mapper, access logs and
 * request metrics, the infrastructure routes (spec, docs, health, metrics, GraphQL),
 * JSON body parsing with its limits, and then every API request handed to
 * openapi-backend (api.ts).
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import { stringify } from 'yaml';
import type { Redis } from 'ioredis';
import type { Document } from 'openapi-backend';
import { pingDatabase, type PoolUsage } from '../db/index.js';
import { createApi, type Api } from './api.js';
import { jsonOf } from './cache.js';
import type { Config } from './config.js';
import { docsAsset, docsInit, docsPage } from './docs.js';
import { ApiError, invalidFields, toApiError, toProblem } from './errors.js';
import { GRAPHQL_PATH, graphqlMiddleware, loadGraphQLSchema } from './graphql.js';
import { docsCsp, noStoreForPrivateAnswers, securityHeaders, withGraphiqlCsp } from './headers.js';
import { createLogger, logFunction, type LogFn, type Logger } from './log.js';
import { createMetrics } from './metrics.js';
import { traceRoute } from './telemetry.js';
import type { Deps, Handlers } from './operations.js';

export interface AppOptions {
  spec: Document;
  handlers: Handlers;
  deps: Deps;
  redis?: Redis;
  /** The process's logger; without it, one is made that writes to `log`, or to stdout. */
  logger?: Logger;
  log?: LogFn;
  /** The PostgreSQL pool, whose usage /metrics shows. */
  pool?: PoolUsage | undefined;
}

export interface App {
  koa: Koa;
  api: Api;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export async function createApp(options: AppOptions): Promise<App> {
  const { spec, deps, redis } = options;
  const logger = options.logger ?? createLogger(deps.config, options.log);
  const metrics = createMetrics({ pool: options.pool, jobs: deps.jobs, cache: deps.cache, events: deps.events });
  // openapi-backend dereferences the document it is given; keep ours pristine for /openapi.json.
  const api = await createApi(structuredClone(spec), options.handlers, deps);
  // Behind TRUST_PROXY reverse proxies, the client address is the one the outermost of them appended to
  // X-Forwarded-For (what a client sends itself stays to the left, unread); with 0, the socket's address.
  const koa = new Koa({ proxy: deps.config.trustProxy > 0, maxIpsCount: deps.config.trustProxy });
  // Koa reports here what fails after a response has begun (a client gone mid-body); into the one log, not stderr.
  // A client closing an event stream (GET /events) is how such a response ends, not a failure.
  koa.on('error', (err: Error & { code?: string }, ctx?: Koa.Context) => {
    if (err.code === 'ERR_STREAM_PREMATURE_CLOSE' && ctx?.response.is('text/event-stream')) return;
    logger.warn({ error: String(err) }, 'response failed');
  });

  koa.use(async (ctx, next) => {
    const sent = ctx.get('X-Request-Id');
    ctx.state.requestId = REQUEST_ID.test(sent) ? sent : randomUUID();
    ctx.set('X-Request-Id', ctx.state.requestId);
    // A child logger only for a request that writes a line (an error, or access logs on): not one per request.
    const requestLog = () => logger.child({ request_id: ctx.state.requestId });
    const started = performance.now();
    try {
      await next();
    } catch (err) {
      const { error, unexpected } = toApiError(err);
      if (unexpected) requestLog().error({ error: String((err as Error)?.stack ?? err) }, 'unexpected error');
      ctx.status = error.status;
      for (const [name, value] of Object.entries(error.headers ?? {})) ctx.set(name, value);
      ctx.type = 'application/problem+json';
      ctx.body = toProblem(error, ctx.state.requestId);
    }
    const seconds = (performance.now() - started) / 1000;
    // The operationId when openapi-backend routed it, else the infrastructure route; never the raw path (unbounded labels).
    const routerPath = (ctx as { routerPath?: string }).routerPath;
    const operation: string = ctx.state.operationId ?? routerPath ?? 'unmatched';
    if (routerPath) traceRoute(routerPath);
    metrics.observeRequest({ operation, method: ctx.method, status: ctx.status }, seconds);
    if (deps.config.logRequests) {
      requestLog().info(
        { method: ctx.method, path: ctx.path, operation, status: ctx.status, duration_ms: Math.round(seconds * 10_000) / 10 },
        'request',
      );
    }
  });

  // Security headers on every answer (problems included), and no-store on private ones.
  koa.use(securityHeaders());
  koa.use(noStoreForPrivateAnswers());

  // CORS for browser front-ends on other origins, when the deployment allows them.
  const { corsOrigins } = deps.config;
  koa.use(async (ctx, next) => {
    const origin = ctx.get('Origin');
    if (!origin || !(corsOrigins.includes('*') || corsOrigins.includes(origin))) return next();
    ctx.set('Access-Control-Allow-Origin', corsOrigins.includes('*') ? '*' : origin);
    ctx.vary('Origin');
    ctx.set('Access-Control-Expose-Headers', 'ETag, Idempotent-Replayed, Location, RateLimit, RateLimit-Policy, Retry-After, X-Request-Id');
    if (ctx.method !== 'OPTIONS' || !ctx.get('Access-Control-Request-Method')) return next();
    ctx.set('Access-Control-Allow-Methods', 'GET, HEAD, POST, PATCH, DELETE');
    // Last-Event-ID: a fetch-based EventSource resuming the live events stream sends it.
    ctx.set('Access-Control-Allow-Headers', 'Authorization, Content-Type, Idempotency-Key, If-None-Match, Last-Event-ID, X-Request-Id');
    ctx.set('Access-Control-Max-Age', '600');
    ctx.status = 204;
  });

  // Every request counts against the rate limits before any route (GraphQL's in-process REST calls never pass here).
  koa.use(deps.limits.middleware);
  // A path whose %-escapes do not decode (`/properties/%`, a cut UTF-8 sequence) names no resource a client
  // could mean: refuse it here, once, before any router decodes it (openapi-backend throws URIError on it).
  koa.use(async (ctx, next) => {
    try {
      decodeURIComponent(ctx.path);
    } catch {
      throw invalidFields([{ path: 'path', message: 'contains a malformed percent-escape' }], 'The path is not valid percent-encoded UTF-8.');
    }
    await next();
  });

  const infra = new Router();
  const specJson = JSON.stringify(spec);
  const specYaml = stringify(spec);
  infra.get('/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = specJson;
  });
  infra.get('/openapi.yaml', (ctx) => {
    ctx.type = 'application/yaml';
    ctx.body = specYaml;
  });
  const docsPolicy = docsCsp();
  infra.get('/docs', docsPolicy, (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = docsPage;
  });
  infra.get('/docs/init.js', docsPolicy, (ctx) => {
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.body = docsInit;
  });
  infra.get('/docs/:asset', docsPolicy, async (ctx) => {
    const asset = await docsAsset(ctx.params.asset ?? '');
    if (!asset) throw new ApiError('not_found', 'No such documentation file.');
    ctx.type = asset.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = asset.body;
  });
  infra.get('/metrics', async (ctx) => {
    checkMetricsAccess(ctx.get('Authorization'), deps.config);
    const { contentType, body } = await metrics.render();
    ctx.type = contentType;
    ctx.body = body;
  });
  infra.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  // Ready means "can serve": PostgreSQL must answer. Redis down is reported but keeps the
  // process ready (sessions and throttling fall back; every process shares the same Redis,
  // so taking them all out of rotation would turn a degraded service into none).
  // Every probe runs at once and is cut off after READY_PROBE_MS, so this answers within a second.
  infra.get('/readyz', async (ctx) => {
    const [database, redisState, jobs] = await Promise.all([
      probe(() => pingDatabase(deps.db)),
      redis ? probe(() => redis.ping()) : undefined,
      withinProbeTime(deps.jobs.stats()).catch(() => 'unreachable' as const),
    ]);
    const checks = { database, ...(redisState ? { redis: redisState } : {}) };
    const down = Object.entries(checks).filter(([, state]) => state !== 'ok').map(([name]) => name);
    ctx.status = database === 'ok' ? 200 : 503;
    if (database !== 'ok') ctx.set('Retry-After', '2');
    ctx.body = {
      status: down.length === 0 ? 'ok' : database === 'ok' ? 'degraded' : 'unavailable',
      checks,
      ...(down.length > 0 ? { unavailable: down } : {}),
      sessions: deps.sessions.kind,
      payments: { provider: deps.payments.name },
      // Jobs out of retries stay counted here until an operator looks at them.
      jobs,
    };
  });
  // GraphQL reads its own body (with the same size limit), so it is routed before the JSON body parser.
  const graphql = graphqlMiddleware(await loadGraphQLSchema(spec), spec, { dispatch: api.dispatch, deps, log: logFunction(logger) });
  infra.get(GRAPHQL_PATH, withGraphiqlCsp(graphql));
  infra.post(GRAPHQL_PATH, graphql);
  koa.use(infra.routes());

  // Every request body of the API is JSON; anything else is refused before parsing.
  koa.use(async (ctx, next) => {
    ctx.state.hasBody = Boolean(ctx.request.length || ctx.get('Transfer-Encoding'));
    if (ctx.state.hasBody && !ctx.request.is('application/json', '+json')) {
      throw new ApiError('unsupported_media_type', 'Send the body as application/json.');
    }
    // Bodies are small JSON documents, and the webhook's signature covers the bytes as sent: compressed
    // request bodies buy nothing and would add decompression bombs, so only `identity` is taken. Also
    // on an empty body, which the body parser would otherwise still try to inflate.
    const encoding = ctx.get('Content-Encoding').trim().toLowerCase();
    if (encoding !== '' && encoding !== 'identity') {
      throw new ApiError('unsupported_media_type', `Send the body uncompressed (without Content-Encoding); "${ctx.get('Content-Encoding').slice(0, 40)}" is not accepted.`);
    }
    await next();
  });
  koa.use(bodyParser({ enableTypes: ['json'], jsonLimit: deps.config.bodyLimitBytes, encoding: 'utf-8' }));

  koa.use(async (ctx) => {
    const result = await api.dispatch(
      {
        // The spec declares no HEAD operations: HEAD is GET without the body (Koa drops it, keeping the headers).
        method: ctx.method === 'HEAD' ? 'GET' : ctx.method,
        path: ctx.path,
        query: ctx.query as Record<string, string | string[]>,
        headers: ctx.headers as Record<string, string | string[]>,
        body: ctx.state.hasBody ? ctx.request.body : undefined,
        rawBody: ctx.state.hasBody ? (ctx.request as { rawBody?: string }).rawBody : undefined,
      },
      ctx.state.requestId,
      ({ operationId, path }) => {
        ctx.state.operationId = operationId;
        traceRoute(path);
      },
    );
    ctx.status = result.status;
    // Vary is added to, not replaced: CORS has put Origin in it already.
    for (const [name, value] of Object.entries(result.headers ?? {})) {
      if (name === 'Vary') ctx.vary(value);
      else ctx.set(name, value);
    }
    if (result.body !== undefined) {
      // Already serialised for its ETag: send those bytes (Koa would stringify the object again).
      const json = jsonOf(result.body);
      if (json === undefined) ctx.body = result.body;
      else {
        if (!ctx.response.get('Content-Type')) ctx.type = 'application/json';
        ctx.body = json;
      }
    }
  });

  return { koa, api };
}

const READY_PROBE_MS = 300;

function withinProbeTime<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), READY_PROBE_MS);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Who may read /metrics. With METRICS_TOKEN set, whoever sends it as a bearer token
 * (Prometheus sends it with `authorization: { credentials: ... }`): the API port is
 * public, and traffic counts and latencies are not everybody's business. Without it,
 * anyone outside production (a developer's machine, the tests), and in production
 * nobody: metrics stay off until an operator chooses a token.
 */
function checkMetricsAccess(authorization: string, config: Pick<Config, 'metricsToken' | 'nodeEnv'>): void {
  if (!config.metricsToken) {
    if (config.nodeEnv !== 'production') return;
    throw new ApiError('not_found', 'Metrics are off in production until METRICS_TOKEN is set.');
  }
  const sent = /^Bearer (.+)$/i.exec(authorization)?.[1] ?? '';
  // Compare digests, so the comparison takes the same time whatever was sent.
  const digest = (value: string) => createHash('sha256').update(value).digest();
  if (!timingSafeEqual(digest(sent), digest(config.metricsToken))) {
    throw new ApiError('unauthenticated', 'Send the metrics token: "Authorization: Bearer <METRICS_TOKEN>".', undefined, {
      'WWW-Authenticate': 'Bearer',
    });
  }
}

async function probe(check: () => Promise<unknown>): Promise<'ok' | 'unreachable'> {
  try {
    await withinProbeTime(check());
    return 'ok';
  } catch {
    return 'unreachable';
  }
}
