/**
 * Users: sign-up, profiles, and account removal. Public profiles hide email and
 * phone from everyone but the user themself and admins. A new password must pass
 * the policy in server/passwords.ts; changing one's own password or email needs the
 * current password, and either change ends the account's other sessions.
 *
 * getUser's public shape is read through the cache (server/cache.ts); callers who may
 * see the contact details bypass it, so they are never stored where the public reads.
 */
import { hasUpcomingStaysOfUser } from '../db/bookings.js';
import { anonymizeUser, findUserById, insertUser, listUsers, updateUser } from '../db/users.js';
import type { AuthUser } from '../server/auth.js';
import { cachedReply, etagOf } from '../server/cache.js';
import { ApiError, invalidFields } from '../server/errors.js';
import { caller, type ResourceHandlers } from '../server/operations.js';
import { decodeCursor, page } from '../server/pagination.js';
import { hashPassword, passwordWeakness, verifyPassword } from '../server/passwords.js';
import { mayListUsers, mayManageAccount, maySeeContactDetails, mustProveCurrentPassword, permit } from './access.js';
import { hostResponsesOf } from './conversations/stats.js';
import { userRowToUser } from './presenters.js';

export const userHandlers: ResourceHandlers<'registerUser' | 'listUsers' | 'getUser' | 'getCurrentUser' | 'updateUser' | 'deleteUser'> = {
  async registerUser({ body }, { deps }) {
    refuseWeakPassword(body.password, body.email);
    const row = await insertUser(deps.db, {
      email: body.email.toLowerCase(),
      password_hash: await hashPassword(body.password, deps.config.passwordHashProfile),
      role: body.role ?? 'guest',
      name: body.name,
      phone: body.phone ?? null,
      bio: body.bio ?? null,
      avatar_url: body.avatar_url ?? null,
    });
    const self: AuthUser = { id: row.id, role: row.role, token: '' };
    return { status: 201, body: userRowToUser(row, self), headers: { Location: `/users/${row.id}` } };
  },

  async listUsers({ query }, ctx) {
    permit(mayListUsers(caller(ctx)));
    const limit = query.limit ?? 20;
    const after = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const rows = await listUsers(ctx.deps.db, {
      role: query.role,
      after: after ? { createdAt: after[0] as string, id: after[1] as string } : undefined,
      limit,
    });
    return {
      status: 200,
      body: page(rows, limit, (row) => userRowToUser(row, ctx.auth), (row) => [row.created_at.toISOString(), row.id]),
    };
  },

  async getUser({ path }, ctx) {
    const { db, cache, config } = ctx.deps;
    const read = async (viewer: AuthUser | null) => {
      const row = await findUserById(db, path.user_id);
      if (!row) throw new ApiError('not_found', 'No such user.');
      return { body: userRowToUser(row, viewer, (await hostResponsesOf(db, [row])).get(row.id)) };
    };
    // The user themself and admins see the contact details: built for them, never cached, and no-store
    // like every other private answer (no shared cache or browser keeps them).
    if (maySeeContactDetails(ctx.auth, { id: path.user_id })) {
      const { body } = await read(ctx.auth);
      return { status: 200, body, headers: { ETag: etagOf(body), 'Cache-Control': 'no-store', Vary: 'Authorization' } };
    }
    const answer = await cache.read('getUser', { user: path.user_id }, path.user_id, () => read(null));
    return cachedReply(answer, ctx.auth, config.cacheMaxAgeSeconds);
  },

  async getCurrentUser(_input, ctx) {
    const auth = caller(ctx);
    const row = await findUserById(ctx.deps.db, auth.id);
    if (!row) throw new ApiError('unauthenticated', 'The account of this token no longer exists.');
    return { status: 200, body: userRowToUser(row, auth) };
  },

  async updateUser({ path, body }, ctx) {
    const auth = caller(ctx);
    const { db, sessions, config, limits } = ctx.deps;
    const target = permit(mayManageAccount(auth, await findUserById(db, path.user_id)));
    const { password, current_password, email, ...profile } = body;
    const newEmail = email === undefined || email.toLowerCase() === target.email?.toLowerCase() ? undefined : email.toLowerCase();
    // What a stolen token alone must not be able to do: take the account over by its password or by its email (and a reset).
    const changes = [...(password !== undefined ? ['password'] : []), ...(newEmail !== undefined ? ['email'] : [])];

    if (current_password !== undefined && password === undefined && email === undefined) {
      throw invalidFields(
        [{ path: 'body.password', message: 'or body.email is required when current_password is given' }],
        'current_password is only used together with password or email.',
      );
    }
    if (changes.length > 0 && mustProveCurrentPassword(auth, target)) {
      if (current_password === undefined) {
        throw invalidFields(
          [{ path: 'body.current_password', message: `is required to change the ${changes.join(' or the ')}` }],
          `Changing your ${changes.join(' or your ')} needs your current password.`,
        );
      }
      // Guessing it here is guessing the sign-in password: counted and limited alike (server/limits.ts).
      if (target.email) await limits.signInAttempt(target.email);
      if (!(await verifyPassword(target.password_hash, current_password, config.passwordHashProfile))) {
        throw new ApiError('current_password_incorrect');
      }
      if (target.email) await limits.signInSucceeded(target.email);
    }
    let passwordHash: string | undefined;
    if (password !== undefined) {
      refuseWeakPassword(password, newEmail ?? target.email ?? '');
      passwordHash = await hashPassword(password, config.passwordHashProfile);
    }

    const row = await updateUser(db, target.id, {
      ...profile,
      ...(newEmail !== undefined ? { email: newEmail } : {}),
      ...(passwordHash !== undefined ? { password_hash: passwordHash } : {}),
    });
    if (!row) throw new ApiError('not_found', 'No such user.');
    // A new password or email ends every other session of the account: a stolen token stops working.
    // The session making the change stays; an admin's change ends all of them.
    if (changes.length > 0) await sessions.revokeAllForUser(target.id, target.id === auth.id ? auth.token : undefined);
    await ctx.deps.cache.bump({ user: target.id, profiles: true });
    return { status: 200, body: userRowToUser(row, auth) };
  },

  async deleteUser({ path }, ctx) {
    const auth = caller(ctx);
    const { db, sessions } = ctx.deps;
    const target = permit(mayManageAccount(auth, await findUserById(db, path.user_id)));
    const removed = await db.transaction().execute(async (trx) => {
      const anonymized = await anonymizeUser(trx, target.id);
      // Checked after the listings are withdrawn (their rows now locked by this transaction),
      // so no stay can be booked on them between the check and the commit.
      if (anonymized && (await hasUpcomingStaysOfUser(trx, target.id))) {
        throw new ApiError('account_has_upcoming_stays', 'This account has stays that have not ended (as a guest or on its listings); cancel them first.');
      }
      return anonymized;
    });
    if (!removed) throw new ApiError('not_found', 'No such user.');
    // Withdrawn listings, an anonymized profile and its name on reviews: everything goes stale once.
    await ctx.deps.cache.bump({ all: true });
    await sessions.revokeAllForUser(target.id);
    return { status: 204 };
  },
};

/** 422 password_too_weak when the policy (server/passwords.ts) refuses the new password. */
function refuseWeakPassword(password: string, email: string): void {
  const weakness = passwordWeakness(password, { email });
  if (weakness) {
    throw new ApiError('password_too_weak', `Choose another password; body.password ${weakness}.`, [{ path: 'body.password', message: weakness }]);
  }
}
