/**
 * Batch reads for GraphQL's links: the same answer as a GET operation for many ids
 * at once, in one query. A page of 100 properties asking for their hosts then reads
 * the hosts with one `getUser` batch instead of 100 REST calls (server/graphql/resolve.ts
 * uses these through a per-request DataLoader; links to operations without a batch read
 * are dispatched one by one, deduplicated).
 *
 * Each entry must give, for every id, exactly what its operation's handler answers:
 * the same query filter (db/), the same presenter and access decision (presenters.ts,
 * access.ts), and the same problem where the operation would refuse. Keep them in
 * step with handlers/users.ts getUser and handlers/properties.ts getProperty.
 */
import { findPropertiesByIds } from '../db/properties.js';
import { findUsersByIds } from '../db/users.js';
import type { OperationId } from '../generated/operations.gen.js';
import { ApiError } from '../server/errors.js';
import type { RequestContext } from '../server/operations.js';
import { hostResponsesOf } from './conversations/stats.js';
import { propertyRowToProperty, userRowToUser } from './presenters.js';

/** One answer per id, in the order of `ids`: the operation's 200 body, or the ApiError it would throw. */
export type BatchRead = (ids: readonly string[], ctx: RequestContext) => Promise<Array<unknown | ApiError>>;

/** Rows in the order of the ids asked for; `missing` for ids without a row. */
function inOrder<R extends { id: string }, T>(ids: readonly string[], rows: R[], present: (row: R) => T, missing: () => ApiError): Array<T | ApiError> {
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => {
    const row = byId.get(id);
    return row ? present(row) : missing();
  });
}

export const batchReads: Partial<Record<OperationId, BatchRead>> = {
  // getUser: anyone may read a live user's public profile; the user themself and admins also see contact details.
  async getUser(ids, ctx) {
    const rows = await findUsersByIds(ctx.deps.db, ids);
    const responses = await hostResponsesOf(ctx.deps.db, rows);
    return inOrder(ids, rows, (row) => userRowToUser(row, ctx.auth, responses.get(row.id)), () => new ApiError('not_found', 'No such user.'));
  },

  // getProperty: a listed (not withdrawn) property is public.
  async getProperty(ids, ctx) {
    const rows = await findPropertiesByIds(ctx.deps.db, ids);
    return inOrder(ids, rows, (row) => propertyRowToProperty(row), () => new ApiError('not_found', 'No such property.'));
  },
};
