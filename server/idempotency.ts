/**
 * `Idempotency-Key` for operations that must happen once however often a client
 * retries (createBooking; createPayment next). The key is claimed, the work done
 * and its response stored in one transaction, so a retry, even one racing the
 * first request from another server process, either replays the stored response
 * or, when the first attempt was refused and rolled back, tries again. The same
 * key with another body is refused with `idempotency_key_reused`.
 */
import { createHash } from 'node:crypto';
import type { Db, Tx } from '../db/index.js';
import { claimIdempotencyKey, findStoredResponse, storeResponse, type IdempotencyScope } from '../db/idempotency.js';
import { ApiError } from './errors.js';

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Sorted keys, so that `{"a":1,"b":2}` and `{"b":2,"a":1}` are the same request. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Runs `work` in a transaction opened here (the edge of the operation). With a
 * key, the reply is remembered and replayed; without one, it is just the
 * transaction. `R` is the operation's reply type: a replay is the reply that
 * `work` itself returned the first time.
 */
export async function inIdempotentTransaction<R extends Reply>(
  db: Db,
  scope: Omit<IdempotencyScope, 'key'> & { key: string | undefined; request: unknown },
  work: (trx: Tx) => Promise<R>,
): Promise<R> {
  const { key, request, ...owner } = scope;
  if (key === undefined) return db.transaction().execute(work);
  const keyScope: IdempotencyScope = { ...owner, key };
  const requestHash = createHash('sha256').update(canonicalJson(request)).digest('hex');
  return db.transaction().execute(async (trx) => {
    if (!(await claimIdempotencyKey(trx, keyScope, requestHash))) {
      const stored = await findStoredResponse(trx, keyScope);
      if (!stored || stored.status === null) {
        // Only possible if the key's row vanished between the two statements (the TTL sweep).
        throw new ApiError('service_unavailable', 'Please retry the request.', undefined, { 'Retry-After': '1' });
      }
      if (stored.requestHash !== requestHash) {
        throw new ApiError('idempotency_key_reused', 'This Idempotency-Key was used with a different request body.');
      }
      return {
        status: stored.status,
        ...(stored.body !== null ? { body: stored.body } : {}),
        headers: { ...stored.headers, 'Idempotent-Replayed': 'true' },
      } as unknown as R;
    }
    const reply = await work(trx);
    await storeResponse(trx, keyScope, reply);
    return reply;
  });
}
