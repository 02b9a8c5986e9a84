/**
 * Configuration: every setting is an environment variable, declared once below
 * with its type, bounds, default and meaning. loadConfig() checks them all at
 * startup and names every bad one; the README's settings table and .env.example
 * are generated from this schema (`npm run generate`, scripts/generate-settings.ts),
 * so neither can drift from it. Nothing else in the code reads process.env (the
 * OpenTelemetry SDK reads its own OTEL_* variables).
 */
import { z } from 'zod';
import { LOCAL_WEBHOOK_SECRET } from './payments/local.js';

/** What the settings table and .env.example say about one setting. */
export interface SettingMeta {
  /** The environment variable. */
  env: string;
  description: string;
  /** The default as it would be written in the environment; undefined when the default is "unset" or depends on others. */
  fallback?: string | undefined;
  /** The default in words, when it depends on other settings. */
  defaultText?: string | undefined;
  /** A value to show in .env.example when the default is unset. */
  example?: string | undefined;
}

type Meta = Omit<SettingMeta, 'env' | 'description' | 'fallback'>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

// The schema is keyed by Config's field names; each field's meta names the variable it reads.
const fields = {
  port: integer('PORT', 'HTTP port', 3000, { max: 65_535 }),
  host: text('HOST', 'interface to listen on (`0.0.0.0` in a container)', '127.0.0.1'),
  nodeEnv: oneOf('NODE_ENV', ['development', 'test', 'production'], 'development',
    '`production` turns response validation, GraphiQL and introspection off by default; `test` turns access logs off'),
  databaseUrl: optionalText('DATABASE_URL', 'PostgreSQL connection string; unset uses the embedded PGlite', {
    example: 'postgres://postgres@127.0.0.1:5432/staybook',
  }),
  dataDir: text('DATA_DIR', 'where the embedded database lives; `memory://` keeps nothing', '.data/pglite'),
  seedOnFirstStart: dependentFlag('SEED_DEMO_DATA',
    'seed the demo data (accounts with the public password `demo-password`) when the embedded database is first created (never on `DATABASE_URL`)',
    'on in development only'),
  redisUrl: optionalText('REDIS_URL', 'Redis for the session cache, rate limits and the job queue; unset runs jobs in process and counts limits per process (sessions always live in the database)', {
    example: 'redis://127.0.0.1:6379',
  }),
  redisKeyPrefix: text('REDIS_KEY_PREFIX', 'put before every Redis key, so deployments (and test runs) can share one Redis', 'staybook:'),
  cache: flag('CACHE',
    'keep public read answers (getProperty, listProperties, getPropertyAvailability, listReviews, getUser) in Redis; only with `REDIS_URL`', true),
  cacheTtlSeconds: integer('CACHE_TTL_SECONDS',
    'longest a cached answer is kept; writes make answers stale at once through versions, this is only the backstop; `0` turns the cache off', 60),
  cacheMaxAgeSeconds: integer('CACHE_MAX_AGE_SECONDS',
    '`max-age` of `Cache-Control: public` on cacheable answers to anonymous callers (browsers, CDNs); signed-in callers get `private, no-cache`', 30),
  sessionTtlSeconds: integer('SESSION_TTL_SECONDS', 'how long a sign-in token lives (7 days)', 7 * 24 * 3600),
  bodyLimitBytes: integer('BODY_LIMIT_BYTES', 'largest JSON body accepted (413 above it)', 100 * 1024),
  validateResponses: dependentFlag('VALIDATE_RESPONSES', 'check every response against the spec; a mismatch is a 500 and a log line', 'on unless production'),
  loginMaxFailures: integer('LOGIN_MAX_FAILURES',
    'sign-in attempts for one email from one address within the window before 429 (counted before the password is checked; a successful sign-in clears them)', 10, { min: 1 }),
  loginMaxPerEmail: integer('LOGIN_MAX_PER_EMAIL',
    'sign-in attempts for one email from all addresses within the window before 429: looser, so one guesser cannot lock the owner out', 100, { min: 1 }),
  loginWindowSeconds: integer('LOGIN_WINDOW_SECONDS', 'the window of the sign-in limits', 15 * 60, { min: 1 }),
  rateLimits: dependentFlag('RATE_LIMITS',
    'enforce the request, sign-in-per-address, registration, booking, payment and message budgets below (the per-email sign-in limits above always apply)', 'on unless test'),
  trustProxy: integer('TRUST_PROXY',
    'how many reverse proxies in front of the server append to `X-Forwarded-For` (`1` behind docker/nginx.conf); `0` uses the socket\'s address and ignores the header, which any client could forge', 0, { max: 10 }),
  rateLimitRequests: integer('RATE_LIMIT_REQUESTS', 'requests per minute from one client address, and per sign-in token', 120, { min: 1 }),
  rateLimitWebhooks: integer('RATE_LIMIT_WEBHOOKS', 'payment webhook deliveries per minute from one address (instead of the request budget)', 600, { min: 1 }),
  rateLimitSignIns: integer('RATE_LIMIT_SIGN_INS', 'sign-in attempts from one address (any emails) within LOGIN_WINDOW_SECONDS', 30, { min: 1 }),
  rateLimitRegistrations: integer('RATE_LIMIT_REGISTRATIONS', 'registrations per hour from one address (so `409 email_taken` cannot be used to test many emails)', 10, { min: 1 }),
  rateLimitBookings: integer('RATE_LIMIT_BOOKINGS', 'booking writes (create, change, cancel; a host\'s accept and decline) per hour by one account', 60, { min: 1 }),
  rateLimitPayments: integer('RATE_LIMIT_PAYMENTS', 'payment attempts per hour by one account', 30, { min: 1 }),
  rateLimitMessages: integer('RATE_LIMIT_MESSAGES',
    'messages sent (first messages that start a conversation included) per hour by one account, so one account cannot spam hosts', 120, { min: 1 }),
  logLevel: oneOf('LOG_LEVEL', LOG_LEVELS, 'info', 'least severe log line written (JSON, one per line, on stdout)'),
  logRequests: dependentFlag('LOG_REQUESTS', 'one access-log line per request (method, path, operation, status, duration)', 'on unless test'),
  metricsToken: optionalText('METRICS_TOKEN', 'bearer token that `GET /metrics` requires; unset leaves it open, except in production where it is then off', {
    example: 'a-long-random-string',
  }),
  otelExporterOtlpEndpoint: optionalUrl('OTEL_EXPORTER_OTLP_ENDPOINT',
    'OpenTelemetry collector (OTLP/HTTP) that traces are sent to; unset loads no tracing at all. The SDK reads the other standard `OTEL_*` variables too', {
      example: 'http://127.0.0.1:4318',
    }),
  otelServiceName: text('OTEL_SERVICE_NAME', 'the service name traces carry', 'staybook'),
  corsOrigins: list('CORS_ORIGINS', 'comma-separated browser origins allowed to call the API (`*` for any); empty sends no CORS headers', {
    example: 'https://app.example.com',
  }),
  bookingHoldSeconds: integer('BOOKING_HOLD_SECONDS', 'how long a pending booking holds its dates waiting for payment (15 minutes)', 15 * 60, { min: 1 }),
  requestExpiryHours: integer('REQUEST_EXPIRY_HOURS',
    'how long a host has to accept or decline a booking request on a listing that is not instant-bookable; unanswered, it expires and frees the dates', 24, { min: 1, max: 720 }),
  serviceFeeBasisPoints: integer('SERVICE_FEE_BASIS_POINTS', 'the service fee, in hundredths of a percent of subtotal + cleaning fee (1000 = 10%)', 1000, {
    max: 10_000,
  }),
  reviewWindowDays: integer('REVIEW_WINDOW_DAYS',
    'days after check-out during which a stay can be reviewed and its review edited (`0`: the check-out day only)', 14, { max: 3650 }),
  maxWishlists: integer('MAX_WISHLISTS',
    'wishlists one account may keep; one more is `409 too_many_wishlists`', 50, { min: 1, max: 10_000 }),
  maxWishlistItems: integer('MAX_WISHLIST_ITEMS',
    'listings one wishlist may hold (getWishlist answers them all at once); one more is `409 wishlist_full`', 100, { min: 1, max: 1000 }),
  bookingSweepSeconds: integer('BOOKING_SWEEP_SECONDS',
    'how often a process writes down lapsed holds and finished stays and forgets day-old idempotency keys; `0` turns it off (nothing depends on it)', 60),
  graphqlIntrospection: dependentFlag('GRAPHQL_INTROSPECTION', 'answer GraphQL introspection queries (`__schema`, `__type`)', 'on unless production'),
  graphqlGraphiql: dependentFlag('GRAPHQL_GRAPHIQL', 'serve the GraphiQL page at `GET /graphql`', 'on unless production'),
  graphqlMaxDepth: integer('GRAPHQL_MAX_DEPTH', 'deepest selection a GraphQL query may nest', 8),
  graphqlMaxCost: integer('GRAPHQL_MAX_COST', 'highest cost a GraphQL query may have: each field 1, each REST call (root field or link) 10 more, a page `limit` times its children (docs/graphql.md)', 5000),
  graphqlMaxAliases: integer('GRAPHQL_MAX_ALIASES', 'most aliases in one GraphQL query (each aliased field can be one more REST call)', 15),
  paymentProvider: dependentOneOf('PAYMENT_PROVIDER', ['stripe', 'local'],
    'who moves the money: `stripe`, or `local` (offline, Stripe\'s test payment methods)', '`stripe` with a key, else `local`'),
  stripeSecretKey: optionalText('STRIPE_SECRET_KEY', 'Stripe API key (`sk_live_...` / `sk_test_...`)', { example: 'sk_test_...' }),
  stripeWebhookSecret: optionalText('STRIPE_WEBHOOK_SECRET',
    'the webhook endpoint\'s signing secret; with `local` in development and test, unset means the public `whsec_local_development_only` (production requires its own)', { example: 'whsec_...' }),
  webhookToleranceSeconds: integer('WEBHOOK_TOLERANCE_SECONDS',
    'how far a signed provider event\'s timestamp may be from now, in the past or the future, before it is refused (as Stripe\'s default)', 300, { min: 1, max: 3600 }),
  stripeApiBase: optionalUrl('STRIPE_API_BASE', 'where Stripe\'s API is; only tests change it, to a local server that answers like Stripe', {
    example: 'http://127.0.0.1:12111',
  }),
  allowLocalPaymentsInProduction: flag('ALLOW_LOCAL_PAYMENTS_IN_PRODUCTION', 'let a production deployment (a demo) run on the local provider', false),
  smtpUrl: optionalText('SMTP_URL', 'SMTP server for notification emails; unset writes them to the outbox folder', {
    example: 'smtp://user:password@smtp.example.com:587',
  }),
  mailFrom: text('MAIL_FROM', 'sender of notification emails', 'Staybook <no-reply@staybook.example>'),
  mailOutboxDir: text('MAIL_OUTBOX_DIR', 'where emails go without SMTP, one `.eml` file each', '.data/outbox'),
  runWorkers: flag('RUN_WORKERS', 'run background jobs in this server process too (with Redis); without Redis they always run in process', true),
  jobBackoffMs: integer('JOB_BACKOFF_MS', 'first retry delay of a failed job; each further one doubles (5 retries)', 2000, { min: 1 }),
  jobSweepSeconds: integer('JOB_SWEEP_SECONDS',
    'how often owed work without a job (a lost job, a refund due for another try) is started again; `0` turns it off', 60),
  shutdownGraceSeconds: integer('SHUTDOWN_GRACE_SECONDS',
    'on SIGTERM, how long requests in flight, then running jobs, may take to finish before the process closes what is left', 10),
  maxPendingHolds: integer('MAX_PENDING_HOLDS',
    'unpaid holds (pending bookings) one guest may have at once; one more is `409 too_many_holds`', 5, { min: 1, max: 1_000_000 }),
  bookingHorizonMonths: integer('BOOKING_HORIZON_MONTHS',
    'how far ahead a stay may end, in calendar months from today (UTC); later is `422 beyond_booking_horizon`', 18, { min: 1, max: 1200 }),
  maxHoldsPerStay: integer('MAX_HOLDS_PER_STAY',
    'unpaid holds one guest may make of overlapping dates of one listing within HOLD_RENEWAL_WINDOW_SECONDS (the first hold and its re-holds after cancelling or lapsing); one more is `409 hold_renewal_limit`',
    3, { min: 1, max: 1000 }),
  holdRenewalWindowSeconds: integer('HOLD_RENEWAL_WINDOW_SECONDS', 'the window MAX_HOLDS_PER_STAY counts in (24 hours)', 24 * 3600, { min: 1 }),
  messageEmailDelaySeconds: integer('MESSAGE_EMAIL_DELAY_SECONDS',
    'how long a "new messages" email waits after the first unread message of a conversation, batching what follows into it (one email per conversation and recipient per window; 10 minutes)',
    600, { max: 7 * 24 * 3600 }),
  liveHeartbeatSeconds: integer('LIVE_HEARTBEAT_SECONDS',
    'how often an open event stream (`GET /events`) gets a comment line, so proxies keep it open, and its session is checked again (a signed-out token ends the stream)', 25, { min: 1, max: 3600 }),
  liveMaxStreams: integer('LIVE_MAX_STREAMS', 'open event streams one account may have on one server process; one more is `429 rate_limited`', 5, { min: 1, max: 1000 }),
  liveMaxStreamsPerProcess: integer('LIVE_MAX_STREAMS_PER_PROCESS',
    'open event streams of all accounts together on one server process (each holds a socket and a file descriptor); one more is `503 service_unavailable` with Retry-After, for the client to reconnect, perhaps to another process',
    5000, { min: 1, max: 1_000_000 }),
  liveBacklog: integer('LIVE_BACKLOG', 'recent live events kept per user, for a stream that reconnects with `Last-Event-ID` (about this many, in Redis or, without it, in memory)', 1000, { min: 1, max: 100_000 }),
  liveRetentionSeconds: integer('LIVE_RETENTION_SECONDS', 'how long live events are kept for reconnecting streams (1 hour)', 3600, { min: 1 }),
  passwordHashProfile: dependentOneOf('PASSWORD_HASH_PROFILE', ['standard', 'fast'],
    'the cost of new password hashes: `standard` (argon2id, 64 MiB, 3 passes), or `fast` (1 MiB, 1 pass) for test suites only, refused in production',
    '`fast` under test, else `standard`'),
};

/** The settings, checked and with every default filled in, including those that depend on others. */
export const configSchema = z.object(fields).check((ctx) => {
  // Real passwords are never hashed cheaply: the fast profile exists for test suites.
  if (ctx.value.nodeEnv === 'production' && ctx.value.passwordHashProfile === 'fast') {
    ctx.issues.push({ code: 'custom', path: ['passwordHashProfile'], message: 'is for tests; production hashes with standard', input: ctx.value.passwordHashProfile });
  }
  // The local provider's default webhook secret is public: a production demo on it signs with its own, or anyone can confirm a booking.
  const provider = ctx.value.paymentProvider ?? (ctx.value.stripeSecretKey ? 'stripe' : 'local');
  if (ctx.value.nodeEnv === 'production' && provider === 'local' && ctx.value.allowLocalPaymentsInProduction
    && (!ctx.value.stripeWebhookSecret || ctx.value.stripeWebhookSecret === LOCAL_WEBHOOK_SECRET)) {
    ctx.issues.push({
      code: 'custom',
      path: ['stripeWebhookSecret'],
      message: 'must be a secret of this deployment when production runs the local provider (the default one is public)',
      input: ctx.value.stripeWebhookSecret,
    });
  }
}).transform((settings) => ({
  ...settings,
  // Demo accounts sign in with a published password: only a developer's machine gets them unasked.
  seedOnFirstStart: settings.seedOnFirstStart ?? settings.nodeEnv === 'development',
  validateResponses: settings.validateResponses ?? settings.nodeEnv !== 'production',
  logRequests: settings.logRequests ?? settings.nodeEnv !== 'test',
  // Test servers make many accounts and requests from one address; the limit tests turn them on.
  rateLimits: settings.rateLimits ?? settings.nodeEnv !== 'test',
  graphqlIntrospection: settings.graphqlIntrospection ?? settings.nodeEnv !== 'production',
  graphqlGraphiql: settings.graphqlGraphiql ?? settings.nodeEnv !== 'production',
  paymentProvider: settings.paymentProvider ?? (settings.stripeSecretKey ? 'stripe' : 'local'),
  stripeApiBase: settings.stripeApiBase === undefined ? undefined : new URL(settings.stripeApiBase),
  passwordHashProfile: settings.passwordHashProfile ?? (settings.nodeEnv === 'test' ? 'fast' : 'standard'),
}));

export type Config = z.output<typeof configSchema>;

/** Every setting's variable and documentation, in the schema's order (for the generated table and .env.example). */
export function settingsMeta(): SettingMeta[] {
  return Object.values(fields).map(metaOf);
}

function metaOf(schema: z.ZodType): SettingMeta {
  return schema.meta() as unknown as SettingMeta;
}

/**
 * Reads the settings from `env`. An empty value counts as unset. Every bad value is
 * named in one error, e.g. `PORT must be an integer from 0 to 65535, got "http"`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw = Object.fromEntries(
    Object.entries(fields).map(([key, schema]) => {
      const value = env[metaOf(schema).env];
      return [key, value === '' ? undefined : value];
    }),
  );
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = new Map<string, string>();
  for (const issue of result.error.issues) {
    const key = String(issue.path[0]);
    const name = metaOf(fields[key as keyof typeof fields]).env;
    if (!problems.has(name)) problems.set(name, `${name} ${issue.message}, got "${raw[key]}"`);
  }
  throw new Error([...problems.values()].join('\n'));
}

/**
 * Loads `.env` from the working directory into process.env, if there is one. A
 * variable already in the environment wins over the file (Node's own parser and
 * rule, as with `node --env-file`). Call it first thing, before anything reads the
 * environment; a missing file is not an error.
 */
export function loadEnvFile(path = '.env'): boolean {
  try {
    process.loadEnvFile(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

// Builders: each returns the zod schema of one setting, with its documentation attached as meta.

function describe(env: string, description: string, fallback: unknown, meta: Meta = {}) {
  return { env, description, fallback: fallback === undefined ? undefined : String(fallback), ...meta };
}

function integer(env: string, description: string, fallback: number, bounds: { min?: number; max?: number } = {}) {
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = bounds;
  const error = `must be an integer from ${min} to ${max}`;
  return z.coerce
    .number({ error })
    .int({ error })
    .min(min, { error })
    .max(max, { error })
    .default(fallback)
    .meta(describe(env, description, fallback));
}

function flag(env: string, description: string, fallback: boolean) {
  return boolean().default(fallback).meta(describe(env, description, fallback));
}

/** A boolean whose default depends on other settings: left undefined here, decided by configSchema's transform. */
function dependentFlag(env: string, description: string, defaultText: string) {
  return boolean().optional().meta(describe(env, description, undefined, { defaultText }));
}

function boolean() {
  return z.stringbool({ truthy: ['1', 'true', 'yes', 'on'], falsy: ['0', 'false', 'no', 'off'], error: 'must be true or false' });
}

function oneOf<const T extends readonly [string, ...string[]]>(env: string, values: T, fallback: T[number], description: string) {
  return choice(values).default(fallback as never).meta(describe(env, description, fallback));
}

/** One of a list, whose default depends on other settings (decided by configSchema's transform). */
function dependentOneOf<const T extends readonly [string, ...string[]]>(env: string, values: T, description: string, defaultText: string) {
  return choice(values).optional().meta(describe(env, description, undefined, { defaultText }));
}

function choice<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `must be ${values.slice(0, -1).join(', ')}${values.length > 1 ? ' or ' : ''}${values.at(-1)}` });
}

function text(env: string, description: string, fallback: string) {
  return z.string().default(fallback).meta(describe(env, description, fallback));
}

function optionalText(env: string, description: string, meta: Meta = {}) {
  return z.string().optional().meta(describe(env, description, undefined, meta));
}

function optionalUrl(env: string, description: string, meta: Meta = {}) {
  return z.url({ error: 'must be a URL such as http://host:port' }).optional().meta(describe(env, description, undefined, meta));
}

function list(env: string, description: string, meta: Meta = {}) {
  return z
    .string()
    .default('')
    .transform((value) => value.split(',').map((item) => item.trim()).filter(Boolean))
    .meta(describe(env, description, undefined, { defaultText: 'empty', ...meta }));
}
