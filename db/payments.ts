/**
 * Queries on payments, their refunds and the provider events already applied.
 * Each takes the database or a transaction first.
 *
 * Every status change is one guarded UPDATE (`where status in (...)`), so a
 * change that arrives late or twice (a redelivered or out-of-order event, a
 * retried job) finds nothing to change instead of moving a status backwards.
 */
import { sql, type Insertable, type Selectable } from 'kysely';
import type { Db, Tx } from './index.js';
import type { PaymentStatus } from '../generated/client/types.gen.js';
import type { Payments, Refunds } from '../generated/db.js';

export type PaymentRow = Selectable<Payments>;
export type RefundRow = Selectable<Refunds>;

/** Statuses of a payment that holds its booking: in flight, or money taken. */
/** Why a reported success did not confirm its booking: the values payments_settlement_issue_check allows. */
export type SettlementIssue = 'amount_mismatch' | 'currency_mismatch' | 'succeeded_after_failure';

const LIVE: PaymentStatus[] = ['pending', 'succeeded', 'refunded', 'partially_refunded'];
const now = sql<Date>`date_trunc('milliseconds', now())`;

export async function insertPayment(trx: Tx, values: Insertable<Payments>): Promise<PaymentRow> {
  return trx.insertInto('payments').values(values).returningAll().executeTakeFirstOrThrow();
}

/**
 * A payment recorded from the provider's word rather than by createPayment (see
 * server/payments/settle.ts). Nothing happens when its id exists: inserting by
 * that id also waits for a createPayment still in flight with it.
 */
export async function insertPaymentIfAbsent(trx: Tx, values: Insertable<Payments>): Promise<void> {
  await trx.insertInto('payments').values(values).onConflict((oc) => oc.column('id').doNothing()).execute();
}

export async function findPaymentById(db: Db | Tx, id: string): Promise<PaymentRow | undefined> {
  return db.selectFrom('payments').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function lockPayment(trx: Tx, id: string): Promise<PaymentRow | undefined> {
  return trx.selectFrom('payments').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export async function lockPaymentByReference(trx: Tx, reference: string): Promise<PaymentRow | undefined> {
  return trx.selectFrom('payments').selectAll().where('provider_reference', '=', reference).forUpdate().executeTakeFirst();
}

/** The payment that holds a booking (in flight or paid), other than `exceptId`. */
export async function findLivePayment(db: Db | Tx, bookingId: string, exceptId?: string): Promise<PaymentRow | undefined> {
  let query = db.selectFrom('payments').selectAll().where('booking_id', '=', bookingId).where('status', 'in', LIVE);
  if (exceptId) query = query.where('id', '!=', exceptId);
  return query.executeTakeFirst();
}

/** pending (or failed, should the provider report a success after all) -> succeeded. */
/**
 * pending -> succeeded: the provider took the money. `issue`: why it does not
 * confirm the booking (a mismatch; settle.ts refunds it), recorded with it.
 */
export async function markPaymentSucceeded(trx: Tx, id: string, reference: string, issue: SettlementIssue | null = null): Promise<PaymentRow | undefined> {
  return trx
    .updateTable('payments')
    .set({ status: 'succeeded', provider_reference: reference, succeeded_at: now, failure_code: null, failure_message: null, settlement_issue: issue })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .returningAll()
    .executeTakeFirst();
}

/** Records on a payment why a success reported for it confirmed nothing, its status unchanged. */
export async function recordSettlementIssue(trx: Tx, id: string, issue: SettlementIssue): Promise<void> {
  await trx.updateTable('payments').set({ settlement_issue: issue }).where('id', '=', id).execute();
}

/** pending -> failed; a payment that already succeeded is never failed by a late report. */
export async function markPaymentFailed(
  trx: Tx,
  id: string,
  failure: { reference: string | null; failureCode: string; failureMessage: string },
): Promise<PaymentRow | undefined> {
  return trx
    .updateTable('payments')
    .set((eb) => ({
      status: 'failed',
      provider_reference: eb.fn.coalesce(eb.val(failure.reference), 'provider_reference'),
      failure_code: failure.failureCode.slice(0, 64),
      failure_message: failure.failureMessage.slice(0, 500),
      failed_at: now,
    }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .returningAll()
    .executeTakeFirst();
}

/** A pending payment learns the provider's id of its charge. */
export async function setPaymentReference(trx: Tx, id: string, reference: string): Promise<void> {
  await trx.updateTable('payments').set({ provider_reference: reference }).where('id', '=', id).where('provider_reference', 'is', null).execute();
}

export interface PaymentListOptions {
  payerId?: string | undefined;
  bookingId?: string | undefined;
  after?: { createdAt: string; id: string } | undefined;
  limit: number;
}

export async function listPayments(db: Db, options: PaymentListOptions): Promise<PaymentRow[]> {
  let query = db.selectFrom('payments').selectAll();
  if (options.payerId) query = query.where('payer_id', '=', options.payerId);
  if (options.bookingId) query = query.where('booking_id', '=', options.bookingId);
  if (options.after) {
    const { createdAt, id } = options.after;
    query = query.where((eb) => eb(eb.refTuple('created_at', 'id'), '<', eb.tuple(new Date(createdAt), id)));
  }
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(options.limit + 1).execute();
}

/** Payments whose outcome is still unknown after `olderThanSeconds`: the follow-up asks the provider again. */
export async function findStalePendingPayments(db: Db, olderThanSeconds: number, limit = 100): Promise<PaymentRow[]> {
  return db
    .selectFrom('payments')
    .selectAll()
    .where('status', '=', 'pending')
    .where('updated_at', '<', sql<Date>`now() - make_interval(secs => ${olderThanSeconds})`)
    .orderBy('updated_at')
    .limit(limit)
    .execute();
}

/** Touching a pending payment is the sweep's lease on it: until it is stale again, the next sweep leaves it to the job it started. */
export async function touchPendingPayment(db: Db, id: string): Promise<void> {
  await db.updateTable('payments').set({ updated_at: sql`now()` }).where('id', '=', id).where('status', '=', 'pending').execute();
}

export async function insertRefund(trx: Tx, values: Insertable<Refunds>): Promise<RefundRow> {
  return trx.insertInto('refunds').values(values).returningAll().executeTakeFirstOrThrow();
}

export async function lockRefund(trx: Tx, id: string): Promise<RefundRow | undefined> {
  return trx.selectFrom('refunds').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export async function lockRefundByReference(trx: Tx, reference: string): Promise<RefundRow | undefined> {
  return trx.selectFrom('refunds').selectAll().where('provider_reference', '=', reference).forUpdate().executeTakeFirst();
}

/** Refunds of these payments, oldest first, grouped by payment. */
export async function refundsOfPayments(db: Db | Tx, paymentIds: string[]): Promise<Map<string, RefundRow[]>> {
  const byPayment = new Map<string, RefundRow[]>(paymentIds.map((id) => [id, []]));
  if (paymentIds.length === 0) return byPayment;
  const rows = await db.selectFrom('refunds').selectAll().where('payment_id', 'in', paymentIds).orderBy('created_at').orderBy('id').execute();
  for (const row of rows) byPayment.get(row.payment_id)?.push(row);
  return byPayment;
}

/** Refunds not yet done whose next attempt is due: the sweep hands them to the refund job again. */
export async function findOwedRefunds(db: Db, limit = 100): Promise<RefundRow[]> {
  return db
    .selectFrom('refunds')
    .selectAll()
    .where('status', '!=', 'succeeded')
    .where('next_attempt_at', '<=', sql<Date>`now()`)
    .orderBy('next_attempt_at')
    .limit(limit)
    .execute();
}

/** Refunds still pending, due or not: their jobs may have been lost with a Redis that restarted empty. */
export async function findPendingRefunds(db: Db, limit = 100): Promise<RefundRow[]> {
  return (await db.selectFrom('refunds').selectAll().where('status', '=', 'pending').orderBy('created_at').limit(limit).execute()) as RefundRow[];
}

/**
 * The refund succeeded: the refund and, for a cancellation, its booking's refund
 * status change together; undefined when it had succeeded already (a repeated
 * report). Its payment is updated by recordPaymentRefunded.
 */
export async function markRefundSucceeded(trx: Tx, refund: RefundRow, reference: string): Promise<RefundRow | undefined> {
  const done = await trx
    .updateTable('refunds')
    .set({ status: 'succeeded', provider_reference: reference, succeeded_at: now, failure_code: null, failure_message: null })
    .where('id', '=', refund.id)
    .where('status', '!=', 'succeeded')
    .returningAll()
    .executeTakeFirst();
  if (done && done.reason === 'cancellation') {
    await trx.updateTable('bookings').set({ refund_status: 'succeeded' }).where('id', '=', done.booking_id).execute();
  }
  return done;
}

/** A payment (locked by the caller) after a refund of it succeeded: what has gone back, and its status. */
export async function recordPaymentRefunded(
  trx: Tx,
  id: string,
  refundedAmount: number,
  status: 'refunded' | 'partially_refunded',
): Promise<void> {
  await trx.updateTable('payments').set({ refunded_amount: refundedAmount, status, refunded_at: now }).where('id', '=', id).execute();
}

/**
 * The provider refused the refund (or it failed later): recorded with its reason,
 * the next attempt scheduled after `retryAfterSeconds` with a new idempotency key
 * (the old one would replay the failure). Never given up.
 */
export async function markRefundFailed(
  trx: Tx,
  refund: RefundRow,
  failure: { reference: string | null; failureCode: string; failureMessage: string },
  retryAfterSeconds: number,
): Promise<RefundRow | undefined> {
  const failed = await trx
    .updateTable('refunds')
    .set((eb) => ({
      status: 'failed',
      provider_reference: eb.fn.coalesce(eb.val(failure.reference), 'provider_reference'),
      failure_code: failure.failureCode.slice(0, 64),
      failure_message: failure.failureMessage.slice(0, 500),
      attempts: sql`attempts + 1`,
      next_attempt_at: sql`now() + make_interval(secs => ${retryAfterSeconds})`,
    }))
    .where('id', '=', refund.id)
    .where('status', '!=', 'succeeded')
    .returningAll()
    .executeTakeFirst();
  if (failed && failed.reason === 'cancellation') {
    await trx.updateTable('bookings').set({ refund_status: 'failed' }).where('id', '=', failed.booking_id).execute();
  }
  return failed;
}

/** A retried refund is pending again, and remembers the provider's id once it has one. */
export async function markRefundPending(trx: Tx, refund: RefundRow, reference: string | null): Promise<void> {
  await trx
    .updateTable('refunds')
    .set((eb) => ({ status: 'pending', provider_reference: eb.fn.coalesce(eb.val(reference), 'provider_reference'), failure_code: null, failure_message: null }))
    .where('id', '=', refund.id)
    .where('status', '!=', 'succeeded')
    .execute();
  if (refund.reason === 'cancellation') {
    await trx.updateTable('bookings').set({ refund_status: 'pending' }).where('id', '=', refund.booking_id).where('refund_status', '!=', 'succeeded').execute();
  }
}

/** Schedules the next look at a refund whose outcome is not known yet. */
export async function postponeRefund(db: Db | Tx, refundId: string, seconds: number): Promise<void> {
  await db
    .updateTable('refunds')
    .set({ next_attempt_at: sql`now() + make_interval(secs => ${seconds})` })
    .where('id', '=', refundId)
    .where('status', '!=', 'succeeded')
    .execute();
}

/**
 * Records a provider event as applied. False when it had been already: a
 * concurrent delivery of the same event waits here on the primary key until the
 * first one's transaction ends, then finds it (or, had that one rolled back,
 * applies it itself).
 */
export async function recordProviderEvent(
  trx: Tx,
  event: { id: string; type: string; created: number },
): Promise<boolean> {
  const inserted = await trx
    .insertInto('payment_events')
    .values({ id: event.id, type: event.type, provider_created_at: new Date(event.created * 1000) })
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Links an applied event to what it changed, for support and accounting. */
export async function linkProviderEvent(trx: Tx, eventId: string, link: { paymentId?: string; refundId?: string }): Promise<void> {
  await trx
    .updateTable('payment_events')
    .set({ payment_id: link.paymentId ?? null, refund_id: link.refundId ?? null })
    .where('id', '=', eventId)
    .execute();
}
