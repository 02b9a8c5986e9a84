/**
 * Sign-in sessions. A token is 32 random bytes shown to the client once; only its
 * SHA-256 is stored, so a leaked store does not leak usable tokens. With Redis the
 * sessions live there (every server process sees a logout at once); without it they
 * live in the `sessions` table, which every process shares just the same.
 * Nothing is cached in process memory, so a revoked token fails on its next use.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Db } from '../db/index.js';

export interface SessionRecord {
  userId: string;
  expiresAt: Date;
}

export interface SessionStore {
  readonly kind: 'redis' | 'database';
  create(userId: string, ttlSeconds: number): Promise<{ token: string; expiresAt: Date }>;
  resolve(token: string): Promise<SessionRecord | null>;
  revoke(token: string): Promise<void>;
  /** Ends every session of a user, but the one whose token is given (if any). */
  revokeAllForUser(userId: string, keepToken?: string): Promise<void>;
}

const TOKEN_PREFIX = 'sbt_';

function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function databaseSessionStore(db: Db): SessionStore {
  return {
    kind: 'database',
    async create(userId, ttlSeconds) {
      const token = newToken();
      const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
      await db.transaction().execute(async (trx) => {
        // Expired sessions are swept per user at sign-in, so the table cannot grow without bound.
        await trx.deleteFrom('sessions').where('user_id', '=', userId).where('expires_at', '<=', new Date()).execute();
        await trx.insertInto('sessions').values({ token_hash: hashToken(token), user_id: userId, expires_at: expiresAt }).execute();
      });
      return { token, expiresAt };
    },
    async resolve(token) {
      const row = await db
        .selectFrom('sessions')
        .select(['user_id', 'expires_at'])
        .where('token_hash', '=', hashToken(token))
        .where('expires_at', '>', new Date())
        .executeTakeFirst();
      return row ? { userId: row.user_id, expiresAt: row.expires_at } : null;
    },
    async revoke(token) {
      await db.deleteFrom('sessions').where('token_hash', '=', hashToken(token)).execute();
    },
    async revokeAllForUser(userId, keepToken) {
      let query = db.deleteFrom('sessions').where('user_id', '=', userId);
      if (keepToken) query = query.where('token_hash', '!=', hashToken(keepToken));
      await query.execute();
    },
  };
}

export function redisSessionStore(redis: Redis): SessionStore {
  const sessionKey = (hash: string) => `session:${hash}`;
  const userKey = (userId: string) => `user-sessions:${userId}`;
  return {
    kind: 'redis',
    async create(userId, ttlSeconds) {
      const token = newToken();
      const hash = hashToken(token);
      const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
      await redis
        .multi()
        .set(sessionKey(hash), JSON.stringify({ user_id: userId, expires_at: expiresAt.toISOString() }), 'EX', ttlSeconds)
        .sadd(userKey(userId), hash)
        .expire(userKey(userId), ttlSeconds, 'GT')
        .exec();
      // EXPIRE ... GT does nothing on a key without a TTL; give a fresh set one.
      await redis.expire(userKey(userId), ttlSeconds, 'NX');
      return { token, expiresAt };
    },
    async resolve(token) {
      const raw = await redis.get(sessionKey(hashToken(token)));
      if (!raw) return null;
      const parsed = JSON.parse(raw) as { user_id: string; expires_at: string };
      const expiresAt = new Date(parsed.expires_at);
      return expiresAt > new Date() ? { userId: parsed.user_id, expiresAt } : null;
    },
    async revoke(token) {
      const hash = hashToken(token);
      const raw = await redis.get(sessionKey(hash));
      const multi = redis.multi().del(sessionKey(hash));
      if (raw) multi.srem(userKey((JSON.parse(raw) as { user_id: string }).user_id), hash);
      await multi.exec();
    },
    async revokeAllForUser(userId, keepToken) {
      const keep = keepToken ? hashToken(keepToken) : undefined;
      const hashes = (await redis.smembers(userKey(userId))).filter((hash) => hash !== keep);
      if (hashes.length === 0) return;
      await redis
        .multi()
        .del(...hashes.map(sessionKey))
        .srem(userKey(userId), ...hashes)
        .exec();
    },
  };
}
