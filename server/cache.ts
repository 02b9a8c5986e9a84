/**
 * The read cache: public answers of getProperty, listProperties, getPropertyAvailability,
 * listReviews and getUser kept in Redis, with their ETag, so that a hit costs one Redis
 * round trip and no PostgreSQL at all.
 *
 * Freshness comes from versions, not from expiry. Every entry's key ends with the
 * versions of what its answer depends on (a listing, a user, "the search index", ...),
 * read in the same round trip as the entry itself; a write bumps those versions after
 * its transaction has committed and before it answers, so the next read on any process
 * builds a new entry. The TTL is only a backstop (a bump lost while Redis was away).
 *
 * Only answers that are the same for every caller are cached (handlers decide: getUser
 * bypasses it for callers who may see the contact details). One rebuild per entry at a
 * time: concurrent misses in a process share one build, and across processes a short
 * Redis lock (SET NX PX) lets one build while the others wait briefly for its result,
 * then read PostgreSQL themselves. Redis down or slow is never an error: reads go to
 * PostgreSQL, logged once per outage.
 *
 * Hand-written rather than a library: the versioned read is one Lua call of a few lines,
 * and the libraries with stampede protection for ioredis (bentocache, cache-manager)
 * bring their own invalidation model (tags, a bus, an in-memory tier that would make
 * "seen at once by every process" untrue) where this design needs exactly versions.
 */
import { createHash, hash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { AuthUser } from './auth.js';
import { redisIsDown } from './redis.js';

/** What an answer depends on; a write bumps the same names. `all` is in every key. */
export interface CacheScope {
  /** Everything at once (an account deletion withdraws listings and renames reviews' authors). */
  all?: true;
  /** One listing: getProperty, its availability, its reviews. */
  property?: string;
  /** One user: getUser, the reviews they wrote. */
  user?: string;
  /** Every listProperties page (listing content, ratings). */
  search?: true;
  /** listProperties pages searching free dates: bookings and blocked nights move them. */
  stays?: true;
  /** listReviews without a filter: any review write. */
  reviews?: true;
  /** Users' public names, which every review shows. */
  profiles?: true;
}

export interface CachedAnswer<T> {
  body: T;
  etag: string;
}

export interface CacheCounts {
  hits: number;
  misses: number;
  rebuilds: number;
}

export interface ReadCache {
  readonly enabled: boolean;
  /**
   * The answer under `operation` + `key`, valid while every version of `scope` is
   * unchanged; `build` reads PostgreSQL on a miss and may shorten the entry's life
   * (`ttlMs`, e.g. until a hold lapses).
   */
  read<T>(operation: string, scope: CacheScope, key: unknown, build: () => Promise<Built<T>>): Promise<CachedAnswer<T>>;
  /** Makes every entry depending on `scope` stale, on every process. Call after commit, before answering. */
  bump(scope: CacheScope): Promise<void>;
  /** Per operation, since start (for /metrics). */
  counts(): Map<string, CacheCounts>;
}

export interface Built<T> {
  body: T;
  /** How long this answer stays right by itself (capped by the cache's TTL). */
  ttlMs?: number;
}

/** The ETag of a JSON body; the one format, also used by api.ts for answers that are not cached. */
export function etagOf(body: unknown): string {
  const json = JSON.stringify(body);
  // The response sends these same bytes (jsonOf): a body with an ETag is serialised once, not twice.
  if (typeof body === 'object' && body !== null) serialised.set(body, json);
  // crypto.hash, one call without a Hash object: the ETag was a sixth of the pipeline's own CPU time (scripts/bench/profile.ts).
  return `"${hash('sha256', json, 'base64url').slice(0, 27)}"`;
}

/** Bodies whose JSON etagOf made; an answer is not changed once its ETag is computed (the ETag would be wrong too). */
const serialised = new WeakMap<object, string>();

/** The JSON etagOf serialised this body to, if it did: what app.ts sends instead of serialising it again. */
export function jsonOf(body: unknown): string | undefined {
  return typeof body === 'object' && body !== null ? serialised.get(body) : undefined;
}

/**
 * Cache-Control and Vary of a cacheable read: anonymous answers may be kept by
 * browsers and shared caches for `maxAgeSeconds`; an answer to a signed-in caller is
 * theirs alone and revalidated every time (cheap: the ETag comes from the cache).
 */
export function cacheHeaders(auth: AuthUser | null, maxAgeSeconds: number): Record<string, string> {
  return {
    'Cache-Control': auth ? 'private, no-cache' : `public, max-age=${maxAgeSeconds}`,
    Vary: 'Authorization',
  };
}

/** The 200 reply of a cached answer, ETag and caching headers included. */
export function cachedReply<T>(answer: CachedAnswer<T>, auth: AuthUser | null, maxAgeSeconds: number) {
  return { status: 200 as const, body: answer.body, headers: { ETag: answer.etag, ...cacheHeaders(auth, maxAgeSeconds) } };
}

export interface ReadCacheOptions {
  /** Without Redis (or with the cache switched off) every read is built. */
  redis: Redis | undefined;
  ttlSeconds: number;
  /** Part of every key: a deployment whose answers have another shape (another spec) never reads these. */
  namespace: string;
  log: (line: Record<string, unknown>) => void;
  /** How long one process may hold the rebuild lock of an entry. */
  lockMs?: number;
  /** How long others wait for that rebuild before reading PostgreSQL themselves. */
  waitMs?: number;
}

const VERSION_PREFIX = 'cache:v:';
const ENTRY_PREFIX = 'cache:e:';
const LOCK_PREFIX = 'cache:l:';

/** KEYS: version keys; ARGV[1]: the entry key without its versions. Returns the versions and the entry (or nil). */
const READ_SCRIPT = `
local versions = redis.call('MGET', unpack(KEYS))
for i = 1, #versions do versions[i] = versions[i] or '0' end
local suffix = table.concat(versions, '.')
return { suffix, redis.call('GET', ARGV[1] .. suffix) }`;

/** Deletes the lock only while it is still ours (it may have lapsed and been taken). */
const UNLOCK_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

type CacheRedis = Redis & {
  cacheRead(...args: (string | number)[]): Promise<[string, string | null]>;
  cacheUnlock(key: string, token: string): Promise<number>;
};

export function createReadCache(options: ReadCacheOptions): ReadCache {
  const counts = new Map<string, CacheCounts>();
  const count = (operation: string, field: keyof CacheCounts) => {
    const entry = counts.get(operation) ?? { hits: 0, misses: 0, rebuilds: 0 };
    entry[field] += 1;
    counts.set(operation, entry);
  };
  if (!options.redis || options.ttlSeconds <= 0) {
    return {
      enabled: false,
      async read(operation, _scope, _key, build) {
        const { body } = await build();
        return { body, etag: etagOf(body) };
      },
      async bump() {},
      counts: () => counts,
    };
  }

  const redis = options.redis as CacheRedis;
  redis.defineCommand('cacheRead', { lua: READ_SCRIPT });
  redis.defineCommand('cacheUnlock', { numberOfKeys: 1, lua: UNLOCK_SCRIPT });
  // The read script builds the entry's key itself, so it needs the prefix ioredis puts before KEYS.
  const keyPrefix = redis.options.keyPrefix ?? '';
  const ttlMs = options.ttlSeconds * 1000;
  // A version outlives every entry built under it, so one that expired can start again from 0.
  const versionTtlSeconds = Math.max(7 * 24 * 3600, options.ttlSeconds * 2);
  const lockMs = options.lockMs ?? 2000;
  const waitMs = options.waitMs ?? 500;
  const inFlight = new Map<string, Promise<CachedAnswer<unknown>>>();

  // One warning per outage, and one line when the cache works again.
  let reachable = true;
  // A bump that could not be made: once Redis answers again, everything is made stale once.
  let bumpLost = false;
  const failed = (err: unknown, what: string) => {
    if (reachable) options.log({ level: 'warn', message: `read cache unavailable (${what}); answering from PostgreSQL until Redis is back`, error: String(err) });
    reachable = false;
  };
  const succeeded = async () => {
    if (!reachable) options.log({ level: 'info', message: 'read cache available again' });
    reachable = true;
    if (bumpLost) {
      bumpLost = false;
      await incrementVersions([versionKey('all', '')]).catch(() => {
        bumpLost = true;
      });
    }
  };

  function versionKey(name: string, id: string): string {
    return `${VERSION_PREFIX}${name}${id ? `:${id}` : ''}`;
  }

  function versionKeys(scope: CacheScope): string[] {
    const keys = [versionKey('all', '')];
    if (scope.property) keys.push(versionKey('property', scope.property));
    if (scope.user) keys.push(versionKey('user', scope.user));
    for (const name of ['search', 'stays', 'reviews', 'profiles'] as const) if (scope[name]) keys.push(versionKey(name, ''));
    return keys;
  }

  async function incrementVersions(keys: string[]): Promise<void> {
    const multi = redis.multi();
    for (const key of keys) multi.incr(key).expire(key, versionTtlSeconds);
    const results = await multi.exec();
    const error = results?.find(([err]) => err)?.[0];
    if (error) throw error;
  }

  function encode<T>(answer: CachedAnswer<T>): string {
    return `${answer.etag}\n${JSON.stringify(answer.body)}`;
  }

  function decode<T>(stored: string): CachedAnswer<T> {
    const newline = stored.indexOf('\n');
    return { etag: stored.slice(0, newline), body: JSON.parse(stored.slice(newline + 1)) as T };
  }

  async function buildAndStore<T>(operation: string, entryKey: string, build: () => Promise<Built<T>>): Promise<CachedAnswer<T>> {
    count(operation, 'rebuilds');
    const built = await build();
    const answer = { body: built.body, etag: etagOf(built.body) };
    const life = Math.min(ttlMs, built.ttlMs ?? ttlMs);
    if (life > 0) await redis.set(entryKey, encode(answer), 'PX', life).catch((err) => failed(err, 'store'));
    return answer;
  }

  /** The one rebuild of an entry across processes: the lock's holder builds, the others wait for its result. */
  async function rebuild<T>(operation: string, entryKey: string, build: () => Promise<Built<T>>): Promise<CachedAnswer<T>> {
    const lockKey = LOCK_PREFIX + entryKey.slice(ENTRY_PREFIX.length);
    const token = randomUUID();
    const locked = await redis.set(lockKey, token, 'PX', lockMs, 'NX').catch((err) => {
      failed(err, 'lock');
      return 'unavailable' as const;
    });
    if (locked === 'unavailable') return buildAndStore(operation, entryKey, build);
    if (locked === 'OK') {
      try {
        return await buildAndStore(operation, entryKey, build);
      } finally {
        await redis.cacheUnlock(lockKey, token).catch(() => undefined);
      }
    }
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      const [stored, holder] = await redis.mget(entryKey, lockKey).catch(() => [null, null]);
      if (stored) return decode<T>(stored);
      // The holder finished without storing (its read failed, e.g. 404): no point waiting.
      if (!holder) break;
    }
    // The holder is slow, gone or failed: PostgreSQL answers this one.
    return buildAndStore(operation, entryKey, build);
  }

  return {
    enabled: true,
    async read<T>(operation: string, scope: CacheScope, key: unknown, build: () => Promise<Built<T>>): Promise<CachedAnswer<T>> {
      const direct = async () => {
        count(operation, 'misses');
        count(operation, 'rebuilds');
        const { body } = await build();
        return { body, etag: etagOf(body) };
      };
      // Known to be down: PostgreSQL at once, without waiting for a command to time out.
      if (redisIsDown(redis)) {
        failed('connection lost', 'read');
        return direct();
      }
      const base = `${ENTRY_PREFIX}${options.namespace}:${operation}:${createHash('sha1').update(JSON.stringify(key)).digest('base64url')}@`;
      const keys = versionKeys(scope);
      let found: [string, string | null];
      try {
        found = await redis.cacheRead(keys.length, ...keys, keyPrefix + base);
        await succeeded();
      } catch (err) {
        failed(err, 'read');
        return direct();
      }
      const [versions, stored] = found;
      if (stored !== null) {
        count(operation, 'hits');
        return decode<T>(stored);
      }
      count(operation, 'misses');
      const entryKey = base + versions;
      let flight = inFlight.get(entryKey) as Promise<CachedAnswer<T>> | undefined;
      if (!flight) {
        flight = rebuild(operation, entryKey, build).finally(() => inFlight.delete(entryKey));
        inFlight.set(entryKey, flight);
      }
      return flight;
    },

    async bump(scope) {
      if (redisIsDown(redis)) {
        bumpLost = true;
        failed('connection lost', 'bump');
        return;
      }
      try {
        await incrementVersions(versionKeys(scope).filter((key, index) => index > 0 || scope.all));
        await succeeded();
      } catch (err) {
        // The write has committed and is answered; its entries go stale by TTL, or at once when Redis is back.
        bumpLost = true;
        failed(err, 'bump');
      }
    },
    counts: () => counts,
  };
}
