/**
 * Queries on users. Each takes the database or a transaction first.
 */
import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Db, Tx } from './index.js';
import type { UserRole } from '../generated/client/types.gen.js';
import type { Users } from '../generated/db.js';

export type UserRow = Selectable<Users>;

export async function insertUser(db: Db | Tx, row: Insertable<Users>): Promise<UserRow> {
  return db.insertInto('users').values(row).returningAll().executeTakeFirstOrThrow();
}

/** Several users at once (the demo data). */
export async function insertUsers(db: Db | Tx, rows: Insertable<Users>[]): Promise<UserRow[]> {
  return db.insertInto('users').values(rows).returningAll().execute();
}

/** A live (not deleted) user by id. */
export async function findUserById(db: Db | Tx, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
}

/** Live users by id, in one query (GraphQL's batched links); ids with no live user are simply absent. */
export async function findUsersByIds(db: Db | Tx, ids: readonly string[]): Promise<UserRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('users').selectAll().where('id', 'in', ids).where('deleted_at', 'is', null).execute();
}

/** A live user's id and role: who a session's token speaks for. */
export async function findUserRole(db: Db | Tx, id: string): Promise<Pick<UserRow, 'id' | 'role'> | undefined> {
  return db.selectFrom('users').select(['id', 'role']).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
}

/** A live user by email, compared case-insensitively (the unique index is on lower(email)). */
export async function findUserByEmail(db: Db | Tx, email: string): Promise<UserRow | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

export async function updateUser(db: Db | Tx, id: string, changes: Updateable<Users>): Promise<UserRow | undefined> {
  return db.updateTable('users').set(changes).where('id', '=', id).where('deleted_at', 'is', null).returningAll().executeTakeFirst();
}

/**
 * Removes a user's personal data but keeps the row, so the bookings and payments
 * that reference it stay on record. Their listings are withdrawn with them.
 */
export async function anonymizeUser(trx: Tx, id: string): Promise<boolean> {
  const result = await trx
    .updateTable('users')
    .set({ email: null, password_hash: null, name: 'Deleted user', phone: null, bio: null, avatar_url: null, deleted_at: new Date() })
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  await trx.updateTable('properties').set({ deleted_at: new Date() }).where('host_id', '=', id).where('deleted_at', 'is', null).execute();
  return result.numUpdatedRows === 1n;
}

export async function listUsers(
  db: Db,
  options: { role?: UserRole; after?: { createdAt: string; id: string }; limit: number },
): Promise<UserRow[]> {
  let query = db.selectFrom('users').selectAll().where('deleted_at', 'is', null);
  if (options.role) query = query.where('role', '=', options.role);
  if (options.after) {
    const { createdAt, id } = options.after;
    query = query.where((eb) => eb(eb.refTuple('created_at', 'id'), '<', eb.tuple(new Date(createdAt), id)));
  }
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(options.limit + 1).execute();
}
