/**
 * Who is calling: resolves `Authorization: Bearer <token>` to a signed-in user. The
 * openapi-backend security handler for `bearerAuth` calls `authenticate`; handlers
 * then read `ctx.auth`. (Sign-in throttling lives with every other limit, in limits.ts.)
 */
import type { Redis } from 'ioredis';
import type { UserRole } from '../generated/client/types.gen.js';
import { ApiError } from './errors.js';
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
