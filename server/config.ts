/**
 * Configuration, read once from the environment. Every variable is listed in the
 * README's configuration table; nothing else in the code reads process.env.
 */
export interface Config {
  nodeEnv: 'development' | 'test' | 'production';
  port: number;
  host: string;
  /** PostgreSQL connection string; without it the embedded PGlite database is used. */
  databaseUrl: string | undefined;
  /** Where the embedded database keeps its files (`memory://` keeps nothing). */
  dataDir: string;
  /** Redis connection string; without it sessions live in the database. */
  redisUrl: string | undefined;
  /** Put before every Redis key, so that deployments (or test runs) can share one Redis. */
  redisKeyPrefix: string;
  /** Seed the demo data when the embedded database is created. */
  seedOnFirstStart: boolean;
  sessionTtlSeconds: number;
  /** Largest accepted JSON body, in bytes. */
  bodyLimitBytes: number;
  /** Check every response against the spec (on in development and test). */
  validateResponses: boolean;
  /** Failed sign-ins allowed per email within the window before 429. */
  loginMaxFailures: number;
  loginWindowSeconds: number;
  logRequests: boolean;
  /** Browser origins allowed to call the API (CORS); empty allows none, `*` allows any. */
  corsOrigins: string[];
  /** How long a pending booking holds its dates waiting for payment. */
  bookingHoldSeconds: number;
  /** The service fee, in basis points of subtotal + cleaning fee (1000 = 10%). */
  serviceFeeBasisPoints: number;
  /** How often this process writes down lapsed holds and finished stays; 0 turns the sweep off. */
  bookingSweepSeconds: number;
  /** Days after check-out during which a stay can be reviewed and its review edited (0: the check-out day only). */
  reviewWindowDays: number;
  /** Answer GraphQL introspection queries (on unless production). */
  graphqlIntrospection: boolean;
  /** Serve the GraphiQL page at GET /graphql (on unless production). */
  graphqlGraphiql: boolean;
  /** Deepest selection a GraphQL query may nest. */
  graphqlMaxDepth: number;
  /** Highest cost a GraphQL query may have (objects count 2, scalars 1, deeper levels more). */
  graphqlMaxCost: number;
  /** Most aliases one GraphQL query may use (each aliased field can be one more REST call). */
  graphqlMaxAliases: number;
  /** Who moves the money: `stripe`, or `local`, the offline stand-in (default without a Stripe key). */
  paymentProvider: 'stripe' | 'local';
  stripeSecretKey: string | undefined;
  /** The webhook endpoint's signing secret (`whsec_...`); the local provider has a public default. */
  stripeWebhookSecret: string | undefined;
  /** Where Stripe's API is; only tests change it, to a local server that answers like Stripe. */
  stripeApiBase: URL | undefined;
  /** Production refuses the local provider unless this is set: it takes no money. */
  allowLocalPaymentsInProduction: boolean;
  /** SMTP connection string for notification emails; without it they are written to mailOutboxDir. */
  smtpUrl: string | undefined;
  mailFrom: string;
  mailOutboxDir: string;
  /** Run the background jobs in this process too (`npm run worker` runs only them). */
  runWorkers: boolean;
  /** First retry delay of a failed job; each next one doubles. */
  jobBackoffMs: number;
  /** How often owed work without a job (a lost job, a refund due for another try) is started again; 0 turns it off. */
  jobSweepSeconds: number;
  /** On SIGTERM, how long requests in flight, then running jobs, may take to finish before the process closes what is left. */
  shutdownGraceSeconds: number;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const nodeEnv = parseNodeEnv(env.NODE_ENV);
  return {
    nodeEnv,
    port: integer(env, 'PORT', 3000),
    host: env.HOST ?? '127.0.0.1',
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.DATA_DIR || '.data/pglite',
    redisUrl: env.REDIS_URL || undefined,
    redisKeyPrefix: env.REDIS_KEY_PREFIX ?? 'staybook:',
    seedOnFirstStart: bool(env, 'SEED_DEMO_DATA', true),
    sessionTtlSeconds: integer(env, 'SESSION_TTL_SECONDS', 7 * 24 * 3600),
    bodyLimitBytes: integer(env, 'BODY_LIMIT_BYTES', 100 * 1024),
    validateResponses: bool(env, 'VALIDATE_RESPONSES', nodeEnv !== 'production'),
    loginMaxFailures: integer(env, 'LOGIN_MAX_FAILURES', 10),
    loginWindowSeconds: integer(env, 'LOGIN_WINDOW_SECONDS', 15 * 60),
    logRequests: bool(env, 'LOG_REQUESTS', nodeEnv !== 'test'),
    corsOrigins: (env.CORS_ORIGINS ?? '').split(',').map((origin) => origin.trim()).filter(Boolean),
    bookingHoldSeconds: integer(env, 'BOOKING_HOLD_SECONDS', 15 * 60, { min: 1 }),
    serviceFeeBasisPoints: integer(env, 'SERVICE_FEE_BASIS_POINTS', 1000, { max: 10_000 }),
    bookingSweepSeconds: integer(env, 'BOOKING_SWEEP_SECONDS', 60),
    reviewWindowDays: integer(env, 'REVIEW_WINDOW_DAYS', 14, { max: 3650 }),
    graphqlIntrospection: bool(env, 'GRAPHQL_INTROSPECTION', nodeEnv !== 'production'),
    graphqlGraphiql: bool(env, 'GRAPHQL_GRAPHIQL', nodeEnv !== 'production'),
    graphqlMaxDepth: integer(env, 'GRAPHQL_MAX_DEPTH', 8),
    graphqlMaxCost: integer(env, 'GRAPHQL_MAX_COST', 5000),
    graphqlMaxAliases: integer(env, 'GRAPHQL_MAX_ALIASES', 15),
    paymentProvider: paymentProvider(env),
    stripeSecretKey: env.STRIPE_SECRET_KEY || undefined,
    stripeWebhookSecret: env.STRIPE_WEBHOOK_SECRET || undefined,
    stripeApiBase: env.STRIPE_API_BASE ? new URL(env.STRIPE_API_BASE) : undefined,
    allowLocalPaymentsInProduction: bool(env, 'ALLOW_LOCAL_PAYMENTS_IN_PRODUCTION', false),
    smtpUrl: env.SMTP_URL || undefined,
    mailFrom: env.MAIL_FROM || 'Staybook <no-reply@staybook.example>',
    mailOutboxDir: env.MAIL_OUTBOX_DIR || '.data/outbox',
    runWorkers: bool(env, 'RUN_WORKERS', true),
    jobBackoffMs: integer(env, 'JOB_BACKOFF_MS', 2000, { min: 1 }),
    jobSweepSeconds: integer(env, 'JOB_SWEEP_SECONDS', 60),
    shutdownGraceSeconds: integer(env, 'SHUTDOWN_GRACE_SECONDS', 10),
  };
}

function paymentProvider(env: NodeJS.ProcessEnv): Config['paymentProvider'] {
  const chosen = env.PAYMENT_PROVIDER || (env.STRIPE_SECRET_KEY ? 'stripe' : 'local');
  if (chosen !== 'stripe' && chosen !== 'local') throw new Error(`PAYMENT_PROVIDER must be stripe or local, got "${chosen}"`);
  return chosen;
}

function parseNodeEnv(value: string | undefined): Config['nodeEnv'] {
  if (value === 'production' || value === 'test') return value;
  return 'development';
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, bounds: { min?: number; max?: number } = {}): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = bounds;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new Error(`${name} must be true or false, got "${raw}"`);
}
