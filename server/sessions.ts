/**
 * Sign-in sessions. A token is 32 random bytes shown to the client once; only its
 * SHA-256 is stored, so a leaked store does not leak usable tokens.
 *
 * The `sessions` table is the source of truth, shared by every server process.
 * With Redis, a cache sits in front of it: a signed-in request then costs a Redis
 * read instead of a query. Either way it is one round trip: the entry (or the one
 * query joining sessions and users) carries the user's role too. The API cannot
 * change a role; one changed in the database by an operator takes effect when the
 * entry lapses (SESSION_CACHE_SECONDS at most); a deleted account's sessions are
 * revoked with it, at once. Redis is only ever a cache, so a Redis restart or
 * outage signs nobody out: while it is unreachable, sessions are read from the
 * table (the wait on Redis is bounded, server/redis.ts).
 *
 * A logout must end the token everywhere at once, so the cache is always dropped
 * after the table: an entry that could not be dropped (Redis down) is dropped again
 * when Redis is back, and no entry outlives SESSION_CACHE_SECONDS anyway. Nothing
 * is cached in process memory, so a revoked token fails on its next use.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Db } from '../db/index.js';
import type { UserRole } from '../generated/client/types.gen.js';
import { deleteSession, deleteSessionsOfUser, findLiveSession, insertSession } from '../db/sessions.js';
import { redisIsDown } from './redis.js';

/** A live session and its user's role: everything a signed-in request needs, from one read. */
export interface SessionRecord {
  userId: string;
  role: UserRole;
  expiresAt: Date;
}

export interface SessionStore {
  /** `database`: the table alone; `database+redis`: the table with Redis as its cache. */
  readonly kind: 'database' | 'database+redis';
  create(userId: string, ttlSeconds: number): Promise<{ token: string; expiresAt: Date }>;
  resolve(token: string): Promise<SessionRecord | null>;
  revoke(token: string): Promise<void>;
  /** Ends every session of a user, but the one whose token is given (if any). */
  revokeAllForUser(userId: string, keepToken?: string): Promise<void>;
}

/**
 * How long Redis keeps a cached session at most. It bounds how long the cache can
 * disagree with the table in the rare cases it may (a logout while Redis was down
 * by a process that then died, a logout racing a cache fill).
 */
export const SESSION_CACHE_SECONDS = 60;

const TOKEN_PREFIX = 'sbt_';

function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function sessionStore(options: { db: Db; redis?: Redis | undefined; log: (line: Record<string, unknown>) => void }): SessionStore {
  const { db } = options;
  const cache = options.redis ? sessionCache(options.redis, options.log) : undefined;
  return {
    kind: cache ? 'database+redis' : 'database',
    async create(userId, ttlSeconds) {
      const token = newToken();
      const session = await insertSession(db, { tokenHash: hashToken(token), userId, expiresAt: new Date(Date.now() + ttlSeconds * 1000) });
      // Warm, so that the next request finds it in Redis; a failure only costs that request a query.
      await cache?.put(session);
      return { token, expiresAt: session.expiresAt };
    },
    async resolve(token) {
      const tokenHash = hashToken(token);
      const cached = await cache?.get(tokenHash);
      if (cached) return cached.expiresAt > new Date() ? cached : null;
      // One query gives the session and its user's role (a deleted account has no live session).
      const row = await findLiveSession(db, tokenHash);
      if (!row) return null;
      void cache?.put(row);
      return { userId: row.userId, role: row.role, expiresAt: row.expiresAt };
    },
    async revoke(token) {
      const tokenHash = hashToken(token);
      const userId = await deleteSession(db, tokenHash);
      await cache?.drop(userId, [tokenHash]);
    },
    async revokeAllForUser(userId, keepToken) {
      const keep = keepToken ? hashToken(keepToken) : undefined;
      const ended = await deleteSessionsOfUser(db, userId, keep);
      await cache?.drop(userId, ended, { allBut: keep });
    },
  };
}

interface SessionCache {
  /** The cached session, or undefined when it is not cached or Redis cannot say. */
  get(tokenHash: string): Promise<SessionRecord | undefined>;
  put(session: SessionRecord & { tokenHash: string }): Promise<void>;
  /** Drops these entries; with `allBut`, every entry of the user but that one (the user's index lists them). */
  drop(userId: string | undefined, tokenHashes: string[], options?: { allBut: string | undefined }): Promise<void>;
}

/** Most cache drops remembered for when Redis is back; past it, SESSION_CACHE_SECONDS bounds the rest. */
const MAX_PENDING_DROPS = 10_000;

/**
 * The Redis side: `session:<hash>` holds `{ user_id, role, expires_at }`, and
 * `user-sessions:<user id>` the hashes cached for that user. Every method gives up
 * quietly when Redis is down or slow: the table answers instead.
 */
function sessionCache(redis: Redis, log: (line: Record<string, unknown>) => void): SessionCache {
  const sessionKey = (hash: string) => `session:${hash}`;
  const userKey = (userId: string) => `user-sessions:${userId}`;
  const pendingDrops = new Set<string>();

  const failed = (what: string) => (err: unknown) => {
    log({ level: 'warn', message: `session cache: ${what} failed; PostgreSQL answers instead`, error: String(err) });
  };
  const flushPendingDrops = () => {
    if (pendingDrops.size === 0 || redisIsDown(redis)) return;
    const hashes = [...pendingDrops];
    pendingDrops.clear();
    redis.del(...hashes.map(sessionKey)).catch((err: unknown) => {
      for (const hash of hashes) if (pendingDrops.size < MAX_PENDING_DROPS) pendingDrops.add(hash);
      failed('dropping sessions ended while Redis was down')(err);
    });
  };
  redis.on('ready', flushPendingDrops);

  return {
    async get(tokenHash) {
      if (redisIsDown(redis)) return undefined;
      // Redis answers again (perhaps without having reconnected, after a stall): drop what is owed first.
      flushPendingDrops();
      const raw = await redis.get(sessionKey(tokenHash)).catch(failed('read'));
      if (!raw) return undefined;
      const parsed = JSON.parse(raw) as { user_id: string; role?: UserRole; expires_at: string };
      // An entry written before roles were cached (a rolling deploy) is a miss: the table answers, with the role.
      if (!parsed.role) return undefined;
      return { userId: parsed.user_id, role: parsed.role, expiresAt: new Date(parsed.expires_at) };
    },
    async put({ tokenHash, userId, role, expiresAt }) {
      const seconds = Math.min(SESSION_CACHE_SECONDS, Math.ceil((expiresAt.getTime() - Date.now()) / 1000));
      if (seconds <= 0 || redisIsDown(redis)) return;
      await redis
        .multi()
        // NX: a fill never overwrites; a drop always deletes.
        .set(sessionKey(tokenHash), JSON.stringify({ user_id: userId, role, expires_at: expiresAt.toISOString() }), 'EX', seconds, 'NX')
        .sadd(userKey(userId), tokenHash)
        // The index lives as long as its longest-lived entry: GT extends it, NX gives a new set its first TTL.
        .expire(userKey(userId), seconds, 'GT')
        .expire(userKey(userId), seconds, 'NX')
        .exec()
        .then(() => undefined, failed('write'));
    },
    async drop(userId, tokenHashes, options) {
      const remember = () => {
        for (const hash of tokenHashes) if (pendingDrops.size < MAX_PENDING_DROPS) pendingDrops.add(hash);
      };
      if (redisIsDown(redis)) return remember();
      try {
        const hashes = new Set(tokenHashes);
        if (options && userId) {
          for (const hash of await redis.smembers(userKey(userId))) if (hash !== options.allBut) hashes.add(hash);
        }
        if (hashes.size === 0) return;
        const multi = redis.multi().del(...[...hashes].map(sessionKey));
        if (userId) multi.srem(userKey(userId), ...hashes);
        await multi.exec();
      } catch (err) {
        remember();
        failed('drop')(err);
      }
    },
  };
}
