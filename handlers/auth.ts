/**
 * Signing in and out. Tokens are opaque and stored only as hashes (server/sessions.ts).
 */
import argon2 from 'argon2';
import { findUserByEmail } from '../db/users.js';
import { ApiError } from '../server/errors.js';
import { caller, type ResourceHandlers } from '../server/operations.js';
import { userRowToUser } from './users.js';

// Verified when the email is unknown, so a wrong email costs as long as a wrong password
// and response times do not reveal which emails are registered.
const decoyHash = argon2.hash('decoy-password-never-used', { type: argon2.argon2id });

export const authHandlers: ResourceHandlers<'login' | 'logout'> = {
  async login({ body }, { deps }) {
    const retryAfter = await deps.loginThrottle.retryAfter(body.email);
    if (retryAfter > 0) {
      throw new ApiError('rate_limited', `Too many failed sign-ins for this email; try again in ${retryAfter} s.`, undefined, {
        'Retry-After': String(retryAfter),
      });
    }
    const row = await findUserByEmail(deps.db, body.email);
    const valid = await argon2.verify(row?.password_hash ?? (await decoyHash), body.password);
    if (!row || !valid) {
      await deps.loginThrottle.recordFailure(body.email);
      throw new ApiError('invalid_credentials');
    }
    await deps.loginThrottle.reset(body.email);
    const { token, expiresAt } = await deps.sessions.create(row.id, deps.config.sessionTtlSeconds);
    const self = { id: row.id, role: row.role as 'guest' | 'host' | 'admin', token };
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
