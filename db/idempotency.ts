/**
 * Stored first responses of requests sent with an `Idempotency-Key`, scoped to
 * the user and the operation. server/idempotency.ts uses these inside the
 * transaction of the operation itself.
 */
import { sql } from 'kysely';
import type { Db, Tx } from './index.js';

/** How long a key is remembered. */
export const IDEMPOTENCY_KEY_TTL_HOURS = 24;

export interface IdempotencyScope {
  userId: string;
  operation: string;
  key: string;
}

export interface StoredResponse {
  requestHash: string;
  status: number | null;
  headers: Record<string, string> | null;
  body: unknown;
}

/**
 * Claims the key for this request: true when this transaction now owns it (a
 * new key, or one past its TTL). A concurrent request with the same key waits
 * here, on the primary key, until the owner's transaction ends: then it either
 * finds the stored response or, if the owner rolled back, claims the key itself.
 */
export async function claimIdempotencyKey(trx: Tx, scope: IdempotencyScope, requestHash: string): Promise<boolean> {
  const claimed = await trx
    .insertInto('idempotency_keys')
    .values({ user_id: scope.userId, operation: scope.operation, key: scope.key, request_hash: requestHash })
    .onConflict((oc) =>
      oc
        .columns(['user_id', 'operation', 'key'])
        .doUpdateSet({
          request_hash: requestHash,
          response_status: null,
          response_headers: null,
          response_body: null,
          created_at: sql`date_trunc('milliseconds', now())`,
        })
        .where('idempotency_keys.created_at', '<', sql<Date>`now() - make_interval(hours => ${IDEMPOTENCY_KEY_TTL_HOURS})`),
    )
    .returning('key')
    .executeTakeFirst();
  return claimed !== undefined;
}

export async function findStoredResponse(db: Db | Tx, scope: IdempotencyScope): Promise<StoredResponse | undefined> {
  const row = await db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'response_status', 'response_headers', 'response_body'])
    .where('user_id', '=', scope.userId)
    .where('operation', '=', scope.operation)
    .where('key', '=', scope.key)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    requestHash: row.request_hash,
    status: row.response_status,
    headers: row.response_headers as Record<string, string> | null,
    body: row.response_body,
  };
}

export async function storeResponse(
  trx: Tx,
  scope: IdempotencyScope,
  response: { status: number; headers?: Record<string, string>; body?: unknown },
): Promise<void> {
  await trx
    .updateTable('idempotency_keys')
    .set({
      response_status: response.status,
      response_headers: JSON.stringify(response.headers ?? {}),
      response_body: JSON.stringify(response.body ?? null),
    })
    .where('user_id', '=', scope.userId)
    .where('operation', '=', scope.operation)
    .where('key', '=', scope.key)
    .execute();
}

export async function deleteExpiredIdempotencyKeys(db: Db): Promise<number> {
  const result = await db
    .deleteFrom('idempotency_keys')
    .where('created_at', '<', sql<Date>`now() - make_interval(hours => ${IDEMPOTENCY_KEY_TTL_HOURS})`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
