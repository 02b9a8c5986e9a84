/**
 * Rate limits: every budget the server enforces lives here, and nowhere else.
 *
 * - A Koa middleware in front of every route counts each request against the
 *   `requests` budget of its client address (and, with a bearer token, of that
 *   token); a GraphQL request is one request, because the REST calls it makes in
 *   process never pass through Koa.
 * - Stricter budgets guard the operations worth abusing (signing in, registering,
 *   booking, paying, messaging). They wrap those handlers (`limitOperations`), so they hold
 *   whether the operation is called over REST or from a GraphQL query.
 * - Sign-in attempts are counted before the password is checked (rate-limiter-flexible's
 *   `consume` is one atomic INCR in Redis), per address, per email and address,
 *   and per email: a burst of guesses sent at once cannot all be tried, and a guesser
 *   on one address does not lock the owner out of their account elsewhere.
 *
 * Budgets are fixed windows counted in Redis, shared by every process. Without Redis
 * they are counted in this process's memory; while Redis is unreachable they fall back
 * to it (one warning per outage) and return to Redis by themselves when it is back.
 * Answers carry `RateLimit-Policy` and `RateLimit` as in draft-ietf-httpapi-ratelimit-headers-11
 * (`"requests";q=120;w=60` and `"requests";r=87;t=42`), and a refusal `Retry-After`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Middleware } from 'koa';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type IRateLimiterOptions } from 'rate-limiter-flexible';
import type { Config } from './config.js';
import { ApiError } from './errors.js';
import type { LogFn } from './log.js';
import type { Handlers, OperationId, OperationInput, RequestContext } from './operations.js';
import { redisIsDown } from './redis.js';

/** A named budget: `points` per window of `seconds`, named as in the RateLimit headers. */
export interface Policy {
  name: string;
  points: number;
  seconds: number;
  /** Says what was exceeded, for the 429's detail. */
  refusal: string;
}

/** What is left of one policy's budget for one key after counting a request. */
interface Count {
  policy: Policy;
  allowed: boolean;
  remaining: number;
  /** Seconds until the window ends (at least 1). */
  resetSeconds: number;
}

export interface Limits {
  /** Counts each request against the request budgets and remembers its client address for the operation budgets. */
  middleware: Middleware;
  /** Counts one call of a limited operation; throws 429 rate_limited when over budget. */
  operation(operationId: OperationId, ctx: RequestContext): Promise<void>;
  /** Counts one sign-in attempt for `email`, before its password is checked; throws 429 rate_limited when over budget. */
  signInAttempt(email: string): Promise<void>;
  /** The attempt was right: the owner's own earlier typos from this address stop counting. */
  signInSucceeded(email: string): Promise<void>;
}

/** Probes and scrapes, which must keep working while a client is limited. */
const UNCOUNTED = new Set(['/healthz', '/readyz', '/metrics']);
/** The payment provider delivers every event from a few addresses: it gets a budget of its own. */
const WEBHOOK_PATH = '/payments/webhook';

type Budgets = ReturnType<typeof policies>;

function policies(config: Config) {
  const window = config.loginWindowSeconds;
  return {
    requests: { name: 'requests', points: config.rateLimitRequests, seconds: 60, refusal: 'Too many requests from this address' },
    tokenRequests: { name: 'token-requests', points: config.rateLimitRequests, seconds: 60, refusal: 'Too many requests with this token' },
    webhooks: { name: 'webhooks', points: config.rateLimitWebhooks, seconds: 60, refusal: 'Too many webhook deliveries from this address' },
    signIn: { name: 'sign-in', points: config.rateLimitSignIns, seconds: window, refusal: 'Too many sign-in attempts from this address' },
    signInEmailAddress: {
      name: 'sign-in-email-address', points: config.loginMaxFailures, seconds: window,
      refusal: 'Too many sign-in attempts for this email from this address',
    },
    signInEmail: { name: 'sign-in-email', points: config.loginMaxPerEmail, seconds: window, refusal: 'Too many sign-in attempts for this email' },
    registration: { name: 'registration', points: config.rateLimitRegistrations, seconds: 3600, refusal: 'Too many registrations from this address' },
    booking: { name: 'booking', points: config.rateLimitBookings, seconds: 3600, refusal: 'Too many booking changes by this account' },
    payment: { name: 'payment', points: config.rateLimitPayments, seconds: 3600, refusal: 'Too many payment attempts by this account' },
    message: { name: 'message', points: config.rateLimitMessages, seconds: 3600, refusal: 'Too many messages sent by this account' },
  } satisfies Record<string, Policy>;
}

/** The stricter budget of each limited operation, and whose it is (the caller's address, or the signed-in account). */
const operationBudgets: Partial<Record<OperationId, { budget: keyof Budgets; per: 'address' | 'account' }>> = {
  registerUser: { budget: 'registration', per: 'address' },
  createBooking: { budget: 'booking', per: 'account' },
  updateBooking: { budget: 'booking', per: 'account' },
  cancelBooking: { budget: 'booking', per: 'account' },
  acceptBooking: { budget: 'booking', per: 'account' },
  declineBooking: { budget: 'booking', per: 'account' },
  createPayment: { budget: 'payment', per: 'account' },
  // A conversation starts with its first message, so both count against one budget.
  startConversation: { budget: 'message', per: 'account' },
  sendMessage: { budget: 'message', per: 'account' },
};

/** The client address of the request being served; operations run inside it (also those a GraphQL query runs). */
const requestScope = new AsyncLocalStorage<{ address: string }>();

const currentAddress = (): string => requestScope.getStore()?.address ?? 'in-process';

export function createLimits(options: { redis?: Redis | undefined; config: Config; log: LogFn }): Limits {
  const { redis, config, log } = options;
  const budgets = policies(config);
  const counters = new Map<Policy, Counter>();
  // One warning per outage, not one per request; Redis's own 'ready' event ends it.
  let degraded = false;
  const fellBack = () => {
    if (degraded) return;
    degraded = true;
    log({ level: 'warn', message: 'Redis is unreachable: rate limits are counted per process until it is back' });
  };
  redis?.on('ready', () => {
    if (!degraded) return;
    degraded = false;
    log({ level: 'info', message: 'Redis is reachable again: rate limits are shared by every process' });
  });
  const counter = (policy: Policy): Counter => {
    let found = counters.get(policy);
    if (!found) {
      found = makeCounter(policy, redis, fellBack);
      counters.set(policy, found);
    }
    return found;
  };

  /** Counts one attempt against each policy in turn; the first that is exhausted refuses with its own headers. */
  const take = async (checks: [Policy, string][], headers?: (name: string, value: string) => void): Promise<void> => {
    const counts: Count[] = [];
    for (const [policy, key] of checks) {
      const count = await counter(policy).take(key);
      if (!count.allowed) {
        throw new ApiError('rate_limited', `${policy.refusal}; try again in ${count.resetSeconds} s.`, undefined, {
          'Retry-After': String(count.resetSeconds),
          ...rateLimitHeaders([count]),
        });
      }
      counts.push(count);
    }
    if (headers) for (const [name, value] of Object.entries(rateLimitHeaders(counts))) headers(name, value);
  };

  return {
    middleware: async (ctx, next) => {
      const address = addressKey(ctx.ip);
      await requestScope.run({ address }, async () => {
        if (config.rateLimits && !UNCOUNTED.has(ctx.path)) {
          const checks: [Policy, string][] = [[ctx.path === WEBHOOK_PATH ? budgets.webhooks : budgets.requests, address]];
          const token = /^bearer\s+(\S+)/i.exec(ctx.get('Authorization'))?.[1];
          if (token) checks.push([budgets.tokenRequests, digest(token)]);
          await take(checks, (name, value) => ctx.set(name, value));
        }
        await next();
      });
    },

    async operation(operationId, ctx) {
      const limit = operationBudgets[operationId];
      if (!config.rateLimits || !limit) return;
      const key = limit.per === 'account' && ctx.auth ? ctx.auth.id : currentAddress();
      await take([[budgets[limit.budget], key]]);
    },

    async signInAttempt(email) {
      const address = currentAddress();
      const who = digest(email.trim().toLowerCase());
      await take([
        ...(config.rateLimits ? [[budgets.signIn, address] as [Policy, string]] : []),
        [budgets.signInEmailAddress, `${who}:${address}`],
        [budgets.signInEmail, who],
      ]);
    },

    async signInSucceeded(email) {
      const who = digest(email.trim().toLowerCase());
      await Promise.all([
        counter(budgets.signInEmailAddress).clear(`${who}:${currentAddress()}`),
        // A success is not a guess: it gives its point of the per-email budget back.
        counter(budgets.signInEmail).giveBack(who),
      ]);
    },
  };
}

/**
 * The handlers with the stricter budgets in front of the limited operations. Call it
 * once per process (server.ts does): openapi-backend is built once per handlers object.
 */
export function limitOperations(handlers: Handlers): Handlers {
  // Typed loosely inside: each wrapper passes its operation's own input and reply through unchanged.
  type AnyHandler = (input: OperationInput<unknown>, ctx: RequestContext) => Promise<unknown>;
  const limited = { ...handlers } as unknown as Record<OperationId, AnyHandler>;
  for (const operationId of Object.keys(operationBudgets) as OperationId[]) {
    const handler = handlers[operationId] as unknown as AnyHandler;
    limited[operationId] = async (input, ctx) => {
      await ctx.deps.limits.operation(operationId, ctx);
      return handler(input, ctx);
    };
  }
  const login = handlers.login as unknown as AnyHandler;
  limited.login = async (input, ctx) => {
    const { email } = input.body as { email: string };
    await ctx.deps.limits.signInAttempt(email);
    // A wrong password throws (401) and leaves the attempt counted.
    const reply = await login(input, ctx);
    await ctx.deps.limits.signInSucceeded(email);
    return reply;
  };
  return limited as unknown as Handlers;
}

/** `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers-11) for the budgets a request counted against. */
function rateLimitHeaders(counts: Count[]): Record<string, string> {
  if (counts.length === 0) return {};
  return {
    'RateLimit-Policy': counts.map(({ policy }) => `"${policy.name}";q=${policy.points};w=${policy.seconds}`).join(', '),
    RateLimit: counts.map(({ policy, remaining, resetSeconds }) => `"${policy.name}";r=${remaining};t=${resetSeconds}`).join(', '),
  };
}

interface Counter {
  take(key: string): Promise<Count>;
  clear(key: string): Promise<void>;
  giveBack(key: string): Promise<void>;
}

/**
 * Redis skips at once while the connection is known to be lost (rather than wait for
 * the command timeout on every request), and falls back to the insurance limiter.
 * rate-limiter-flexible's own `rejectIfRedisNotReady` would also skip it while
 * connecting at startup, and warn about an outage that is not one.
 */
class SharedLimiter extends RateLimiterRedis {
  constructor(options: IRateLimiterOptions & { storeClient: Redis; insuranceLimiter: RateLimiterMemory }, private readonly redis: Redis) {
    super(options);
  }

  // rate-limiter-flexible's hook, called before every Redis command.
  _isRedisReady(): boolean {
    return !redisIsDown(this.redis);
  }
}

/** The per-process counts used while Redis is unreachable; using them is what raises the warning. */
class Insurance extends RateLimiterMemory {
  constructor(options: IRateLimiterOptions, private readonly used: () => void) {
    super(options);
  }

  override consume(...args: Parameters<RateLimiterMemory['consume']>): Promise<RateLimiterRes> {
    this.used();
    return super.consume(...args);
  }
}

function makeCounter(policy: Policy, redis: Redis | undefined, fellBack: () => void): Counter {
  const options = { points: policy.points, duration: policy.seconds, keyPrefix: `limit:${policy.name}` };
  const limiter = redis
    ? new SharedLimiter({ ...options, storeClient: redis, insuranceLimiter: new Insurance(options, fellBack) }, redis)
    : new RateLimiterMemory(options);
  const count = (res: RateLimiterRes, allowed: boolean): Count => ({
    policy,
    allowed,
    remaining: res.remainingPoints,
    resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
  });
  return {
    async take(key) {
      try {
        return count(await limiter.consume(key), true);
      } catch (refused) {
        if (refused instanceof RateLimiterRes) return count(refused, false);
        // Neither Redis nor the memory fallback answered: never refuse a request for want of a counter.
        return { policy, allowed: true, remaining: policy.points, resetSeconds: policy.seconds };
      }
    },
    async clear(key) {
      await limiter.delete(key).catch(() => undefined);
    },
    async giveBack(key) {
      await limiter.reward(key).catch(() => undefined);
    },
  };
}

function digest(value: string): string {
  // Emails and tokens never appear in Redis keys in the clear.
  return createHash('sha256').update(value).digest('base64url').slice(0, 22);
}

/**
 * The key of a client address. IPv4 is the address itself (an IPv4-mapped IPv6 address
 * is its IPv4); IPv6 is its /64 prefix, because one subscriber gets a whole /64 and could
 * otherwise take a fresh address for every request.
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  const bare = ip.split('%')[0] ?? ip;
  if (!isIPv6(bare)) return ip || 'unknown';
  const groups = (part: string) => (part ? part.split(':').flatMap((group) => (group.includes('.') ? ['0', '0'] : [group])) : []);
  const [head = '', tail] = bare.split('::');
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? front : [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back];
  return `${all.slice(0, 4).map((group) => parseInt(group, 16).toString(16)).join(':')}::/64`;
}

/**
 * Open event streams (GET /events) are a budget of concurrency, not of rate: an account
 * may hold LIVE_MAX_STREAMS at once on one process (`mine` is how many it holds there);
 * one more is 429, to retry once one has closed. The process as a whole holds at most
 * LIVE_MAX_STREAMS_PER_PROCESS (`all`): past that it is full, not the caller at fault,
 * so 503, which a client retries (and a load balancer may send to another process).
 * Counted per process, in memory: a stream lives on one process, and a count in Redis
 * would outlive a process that dies.
 */
export function assertStreamAllowed(
  config: Pick<Config, 'liveMaxStreams' | 'liveMaxStreamsPerProcess' | 'liveHeartbeatSeconds'>,
  open: { mine: number; all: number },
): void {
  if (open.mine >= config.liveMaxStreams) {
    throw new ApiError('rate_limited', `At most ${config.liveMaxStreams} event streams may be open at once; close one first.`, undefined, {
      'Retry-After': String(config.liveHeartbeatSeconds),
    });
  }
  if (open.all >= config.liveMaxStreamsPerProcess) {
    throw new ApiError('service_unavailable', 'This server holds as many event streams as it can; reconnect shortly.', undefined, {
      'Retry-After': String(config.liveHeartbeatSeconds),
    });
  }
}
