/**
 * Signing in and out. Tokens are opaque and stored only as hashes (server/sessions.ts).
 * Sign-in attempts are counted, and refused over budget, before this handler runs (server/limits.ts).
 */
import { findUserByEmail } from '../db/users.js';
import { ApiError } from '../server/errors.js';
import { caller, type ResourceHandlers } from '../server/operations.js';
import { verifyPassword } from '../server/passwords.js';
import { userRowToUser } from './presenters.js';

export const authHandlers: ResourceHandlers<'login' | 'logout'> = {
  async login({ body }, { deps }) {
    const row = await findUserByEmail(deps.db, body.email);
    // An unknown email is verified against a decoy, so it costs as long as a wrong password.
    const valid = await verifyPassword(row?.password_hash, body.password, deps.config.passwordHashProfile);
    if (!row || !valid) {
      throw new ApiError('invalid_credentials');
    }
    const { token, expiresAt } = await deps.sessions.create(row.id, deps.config.sessionTtlSeconds);
    const self = { id: row.id, role: row.role, token };
    return {
      status: 200,
      body: { access_token: token, token_type: 'Bearer', expires_at: expiresAt.toISOString(), user: userRowToUser(row, self) },
    };
  },

  async logout(_input, ctx) {
    await ctx.deps.sessions.revoke(caller(ctx).token);
    return { status: 204 };
  },
};
