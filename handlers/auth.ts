/**
 * Signing in and out. Tokens are opaque and stored only as hashes (server/sessions.ts).
 */
import { findUserByEmail } from '../db/users.js';
import { ApiError } from '../server/errors.js';
import { caller, type ResourceHandlers } from '../server/operations.js';
import { verifyPassword } from '../server/passwords.js';
import { userRowToUser } from './presenters.js';

export const authHandlers: ResourceHandlers<'login' | 'logout'> = {
  async login({ body }, { deps }) {
    const retryAfter = await deps.loginThrottle.retryAfter(body.email);
    if (retryAfter > 0) {
      throw new ApiError('rate_limited', `Too many failed sign-ins for this email; try again in ${retryAfter} s.`, undefined, {
        'Retry-After': String(retryAfter),
      });
    }
    const row = await findUserByEmail(deps.db, body.email);
    // An unknown email is verified against a decoy, so it costs as long as a wrong password.
    const valid = await verifyPassword(row?.password_hash, body.password, deps.config.passwordHashProfile);
    if (!row || !valid) {
      await deps.loginThrottle.recordFailure(body.email);
      throw new ApiError('invalid_credentials');
    }
    await deps.loginThrottle.reset(body.email);
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
