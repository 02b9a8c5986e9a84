/**
 * Queries on sign-in sessions, the source of truth for who is signed in (Redis,
 * when configured, only caches them: server/sessions.ts). Sessions are keyed by
 * the SHA-256 of their token; the token itself is never stored. Each query takes
 * the database or a transaction first.
 */
import type { UserRole } from '../generated/client/types.gen.js';
import type { Db, Tx } from './index.js';

export interface SessionRow {
  tokenHash: string;
  userId: string;
  expiresAt: Date;
}

/** A live session with its user's role: all a signed-in request needs to know about its caller. */
export interface LiveSession extends SessionRow {
  role: UserRole;
}

/**
 * Stores a new session, and sweeps the user's expired ones so the table cannot grow without bound.
 * Returns the user's role, so the session cache can be warmed with everything a request needs.
 */
export async function insertSession(db: Db, session: SessionRow): Promise<LiveSession> {
  return db.transaction().execute(async (trx: Tx) => {
    await trx.deleteFrom('sessions').where('user_id', '=', session.userId).where('expires_at', '<=', new Date()).execute();
    await trx.insertInto('sessions').values({ token_hash: session.tokenHash, user_id: session.userId, expires_at: session.expiresAt }).execute();
    const user = await trx.selectFrom('users').select('role').where('id', '=', session.userId).executeTakeFirstOrThrow();
    return { ...session, role: user.role };
  });
}

/**
 * The session of a token hash with its user's role, in one query: unless the session
 * has expired or was revoked, or its account was deleted.
 */
export async function findLiveSession(db: Db | Tx, tokenHash: string): Promise<LiveSession | undefined> {
  const row = await db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['sessions.user_id', 'sessions.expires_at', 'users.role'])
    .where('sessions.token_hash', '=', tokenHash)
    .where('sessions.expires_at', '>', new Date())
    .where('users.deleted_at', 'is', null)
    .executeTakeFirst();
  return row ? { tokenHash, userId: row.user_id, expiresAt: row.expires_at, role: row.role } : undefined;
}

/** Ends one session; returns its user, if it existed. */
export async function deleteSession(db: Db | Tx, tokenHash: string): Promise<string | undefined> {
  const row = await db.deleteFrom('sessions').where('token_hash', '=', tokenHash).returning('user_id').executeTakeFirst();
  return row?.user_id;
}

/** Ends every session of a user but the one with `keepTokenHash` (if given); returns the hashes it ended. */
export async function deleteSessionsOfUser(db: Db | Tx, userId: string, keepTokenHash?: string): Promise<string[]> {
  let query = db.deleteFrom('sessions').where('user_id', '=', userId);
  if (keepTokenHash) query = query.where('token_hash', '!=', keepTokenHash);
  const rows = await query.returning('token_hash').execute();
  return rows.map((row) => row.token_hash);
}
