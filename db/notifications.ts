/**
 * Emails owed to users. A notification row is written in the transaction of the
 * change it announces (a booking confirmed, a refund issued), so it exists exactly
 * when the change does; the send-notification job claims it (a lease), delivers
 * it and marks it sent, and the sweep hands any row left pending and unclaimed (a
 * job lost with its process) to the job again.
 */
import { sql, type Selectable } from 'kysely';
import type { Db, Tx } from './index.js';
import type { Notifications } from '../generated/db.js';

export type NotificationKind = Notifications['kind'];
export type NotificationRow = Selectable<Notifications>;

export interface NotificationInput {
  kind: NotificationKind;
  recipientId: string;
  bookingId: string;
  paymentId?: string | undefined;
  refundId?: string | undefined;
}

export async function insertNotifications(trx: Tx, notifications: NotificationInput[]): Promise<string[]> {
  if (notifications.length === 0) return [];
  const rows = await trx
    .insertInto('notifications')
    .values(
      notifications.map((n) => ({
        kind: n.kind,
        recipient_id: n.recipientId,
        booking_id: n.bookingId,
        payment_id: n.paymentId ?? null,
        refund_id: n.refundId ?? null,
      })),
    )
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

/** What an email about a notification says: the booking, its listing and the people involved. */
export async function loadNotificationContext(db: Db, id: string) {
  return db
    .selectFrom('notifications as n')
    .innerJoin('users as recipient', 'recipient.id', 'n.recipient_id')
    .innerJoin('bookings as b', 'b.id', 'n.booking_id')
    .innerJoin('properties as p', 'p.id', 'b.property_id')
    .leftJoin('payments as pay', 'pay.id', 'n.payment_id')
    .leftJoin('refunds as r', 'r.id', 'n.refund_id')
    .select([
      'n.id', 'n.kind', 'n.status', 'n.attempts',
      'recipient.email as recipient_email', 'recipient.name as recipient_name',
      'b.id as booking_id', 'b.guest_id', 'n.recipient_id', 'b.check_in', 'b.check_out', 'b.guests', 'b.total', 'b.currency', 'b.refund_amount',
      'b.expires_at', 'b.decline_reason',
      'p.name as property_name', 'p.city as property_city',
      'pay.amount as payment_amount', 'pay.payment_method', 'pay.provider_reference as payment_reference', 'pay.succeeded_at as paid_at',
      'r.amount as refund_amount_sent', 'r.provider_reference as refund_reference',
    ])
    .where('n.id', '=', id)
    .executeTakeFirst();
}

export type NotificationContext = NonNullable<Awaited<ReturnType<typeof loadNotificationContext>>>;

export type Claim =
  | { state: 'claimed' }
  /** Another run holds it until `until`: it is being sent now, or that run died and the lease has to end first. */
  | { state: 'held'; until: Date }
  /** Sent, closed as failed, or gone: nothing to send. */
  | { state: 'done' };

/**
 * Takes a pending notification for one send, for `leaseSeconds`. Only the run that
 * claimed it sends it, so two runs of its job never send it at once; the claim is
 * let go when the send is written down (sent or failed), or when the lease ends
 * because its run died.
 */
export async function claimNotification(db: Db, id: string, leaseSeconds: number): Promise<Claim> {
  const claimed = await db
    .updateTable('notifications')
    .set({ claimed_until: sql`now() + make_interval(secs => ${leaseSeconds})` })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', sql<Date>`now()`)]))
    .returning('id')
    .executeTakeFirst();
  if (claimed) return { state: 'claimed' };
  const row = await db.selectFrom('notifications').select(['status', 'claimed_until']).where('id', '=', id).executeTakeFirst();
  return row?.status === 'pending' && row.claimed_until ? { state: 'held', until: row.claimed_until } : { state: 'done' };
}

export async function markNotificationSent(db: Db, id: string): Promise<void> {
  await db
    .updateTable('notifications')
    .set({ status: 'sent', sent_at: sql`date_trunc('milliseconds', now())`, last_error: null, attempts: sql`attempts + 1`, claimed_until: null })
    .where('id', '=', id)
    .where('status', '!=', 'sent')
    .execute();
}

/** A failed attempt is written down and its claim let go; `final` when the job has no retries left (the sweep will try again later). */
export async function markNotificationAttemptFailed(db: Db, id: string, error: string, final: boolean): Promise<void> {
  await db
    .updateTable('notifications')
    .set({ attempts: sql`attempts + 1`, last_error: error.slice(0, 1000), claimed_until: null, ...(final ? { status: 'failed' } : {}) })
    .where('id', '=', id)
    .where('status', '!=', 'sent')
    .execute();
}

/** A recipient without an email (the account was deleted) is owed nothing: the row is closed as failed. */
export async function closeUndeliverable(db: Db, id: string, reason: string): Promise<void> {
  await db
    .updateTable('notifications')
    .set({ status: 'failed', last_error: reason, claimed_until: null })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .execute();
}

/**
 * Pending notifications that no run holds, older than `graceSeconds`: their job
 * should have run by then (0 after Redis comes back, when queued jobs may be lost).
 * Failed ones (out of retries) stay failed, for an operator to see.
 */
export async function findOwedNotifications(db: Db, graceSeconds: number, limit = 100): Promise<NotificationRow[]> {
  return db
    .selectFrom('notifications')
    .selectAll()
    .where('status', '=', 'pending')
    .where('created_at', '<=', sql<Date>`now() - make_interval(secs => ${graceSeconds})`)
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', sql<Date>`now()`)]))
    .orderBy('created_at')
    .limit(limit)
    .execute();
}
