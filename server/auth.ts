/**
 * Who is calling: resolves `Authorization: Bearer <token>` to a signed-in user, and
 * throttles failed sign-ins per email. The openapi-backend security handler for
 * `bearerAuth` calls `authenticate`; handlers then read `ctx.auth`.
 */
import type { Redis } from 'ioredis';
import type { UserRole } from '../generated/client/types.gen.js';
import { ApiError } from './errors.js';
import { redisIsDown } from './redis.js';
import type { SessionStore } from './sessions.js';

export interface AuthUser {
  id: string;
  role: UserRole;
  /** The bearer token of this request, so logout can revoke exactly it. */
  token: string;
}

/** RFC 7235 section 2.1: the scheme is case-insensitive (`bearer`, `BEARER`); the token is RFC 6750's b64token. */
const BEARER = /^Bearer +([A-Za-z0-9_\-.~+/]+=*)$/i;

/** Every 401 names the scheme to use (RFC 9110 section 11.6.1); a bad token says so (RFC 6750 section 3). */
const INVALID_TOKEN = { 'WWW-Authenticate': 'Bearer error="invalid_token"' };

export async function authenticate(
  authorization: string | undefined,
  sessions: SessionStore,
): Promise<AuthUser | null> {
  if (authorization === undefined) return null;
  const match = BEARER.exec(authorization.trim());
  if (!match?.[1]) throw new ApiError('unauthenticated', 'The Authorization header must be "Bearer <token>".', undefined, INVALID_TOKEN);
  const token = match[1];
  // One round trip: the session store answers with the user's role (a cache read, or one query).
  const session = await sessions.resolve(token);
  if (!session) throw new ApiError('unauthenticated', 'The token is invalid, expired or signed out.', undefined, INVALID_TOKEN);
  return { id: session.userId, role: session.role, token };
}

/**
 * Counts failed sign-ins per email in a fixed window, in Redis when configured
 * (shared by every process) or else in this process's memory. While Redis is
 * unreachable (or slow), the count falls back to this process's memory: each
 * process then allows `maxFailures` per window on its own, and a sign-in is never
 * refused for want of Redis.
 */
export interface LoginThrottle {
  /** Seconds until the email may try again, or 0 when it may try now. */
  retryAfter(email: string): Promise<number>;
  recordFailure(email: string): Promise<void>;
  reset(email: string): Promise<void>;
}

const throttleKey = (email: string) => `login-failures:${email.toLowerCase()}`;

export function loginThrottle(options: { redis?: Redis | undefined; maxFailures: number; windowSeconds: number }): LoginThrottle {
  const { redis } = options;
  const inMemory = memoryThrottle(options);
  if (!redis) return inMemory;
  const shared = redisThrottle(redis, options);
  const eitherOf = <A extends unknown[], R>(method: (throttle: LoginThrottle) => (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      redisIsDown(redis) ? method(inMemory)(...args) : method(shared)(...args).catch(() => method(inMemory)(...args));
  return {
    retryAfter: eitherOf((throttle) => throttle.retryAfter),
    recordFailure: eitherOf((throttle) => throttle.recordFailure),
    reset: eitherOf((throttle) => throttle.reset),
  };
}

function redisThrottle(redis: Redis, { maxFailures, windowSeconds }: { maxFailures: number; windowSeconds: number }): LoginThrottle {
  return {
    async retryAfter(email) {
      const [count, ttl] = await Promise.all([redis.get(throttleKey(email)), redis.ttl(throttleKey(email))]);
      return Number(count ?? 0) >= maxFailures ? Math.max(ttl, 1) : 0;
    },
    async recordFailure(email) {
      await redis.multi().incr(throttleKey(email)).expire(throttleKey(email), windowSeconds, 'NX').exec();
    },
    async reset(email) {
      await redis.del(throttleKey(email));
    },
  };
}

function memoryThrottle({ maxFailures, windowSeconds }: { maxFailures: number; windowSeconds: number }): LoginThrottle {
  const failures = new Map<string, { count: number; resetAt: number }>();
  const current = (email: string) => {
    const entry = failures.get(throttleKey(email));
    if (entry && entry.resetAt <= Date.now()) {
      failures.delete(throttleKey(email));
      return undefined;
    }
    return entry;
  };
  return {
    async retryAfter(email) {
      const entry = current(email);
      return entry && entry.count >= maxFailures ? Math.ceil((entry.resetAt - Date.now()) / 1000) : 0;
    },
    async recordFailure(email) {
      const entry = current(email) ?? { count: 0, resetAt: Date.now() + windowSeconds * 1000 };
      entry.count += 1;
      failures.set(throttleKey(email), entry);
    },
    async reset(email) {
      failures.delete(throttleKey(email));
    },
  };
}
