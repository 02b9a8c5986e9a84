/**
 * The payments walk of `npm run walk:payments`, run as it is (the same
 * walkPayments) against a test server with the demo data, reading the emails
 * from this environment's outbox: a new guest books, pays, retries, is
 * declined, cancels and is refunded. Then the database is checked for what the
 * walk should have left: one charge per stay, the refund the policy allows,
 * the owed emails sent, and nothing still holding dates.
 * Runs on PostgreSQL (npm test) and on the embedded PGlite (npm run test:embedded).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { seedDemoData } from '../server/demo-data.js';
import { walkPayments, type PaymentsWalk } from '../scripts/walk-payments.js';
import { inconsistencies } from './support/consistency.js';
import { useTestApp } from './support/app.js';

const { env, server } = useTestApp();
beforeAll(async () => {
  await seedDemoData(server.deps.db, { bookings: server.deps.config });
});

/** Walks and fails with the walk's own transcript when any of its checks did not hold. */
async function walk(): Promise<PaymentsWalk> {
  const transcript: string[] = [];
  const result = await walkPayments(server.url, env.outboxDir, (line) => transcript.push(line));
  expect(result.mismatches, transcript.join('\n')).toBe(0);
  return result;
}

const db = () => server.deps.db;
const paymentsOf = (bookingId: string) =>
  db().selectFrom('payments').select(['id', 'status', 'amount', 'refunded_amount', 'payment_method', 'failure_code']).where('booking_id', '=', bookingId).execute();
const bookingRow = (id: string) =>
  db().selectFrom('bookings').select(['status', 'refund_amount', 'refund_status', 'cancelled_by']).where('id', '=', id).executeTakeFirstOrThrow();
const notificationsOf = (bookingId: string) =>
  db().selectFrom('notifications').select(['kind', 'status']).where('booking_id', '=', bookingId).orderBy('kind').execute();

describe('npm run walk:payments against a server with the demo data', () => {
  let first: PaymentsWalk;

  it('walks: book, pay, replay, be declined, cancel and be refunded, every answer as the contract says', { timeout: 60_000 }, async () => {
    first = await walk();
    expect(first.paid.refund).toBeGreaterThan(0);
  });

  it('leaves one charge on the paid stay, refunded as the policy allows, and the stay cancelled', async () => {
    const { booking, payment, refund } = first.paid;
    const whole = refund === booking.price.total;
    expect(await paymentsOf(booking.id)).toEqual([
      { id: payment.id, status: whole ? 'refunded' : 'partially_refunded', amount: booking.price.total, refunded_amount: refund, payment_method: 'pm_card_visa', failure_code: null },
    ]);
    const refunds = await db().selectFrom('refunds').select(['amount', 'status', 'reason']).where('payment_id', '=', payment.id).execute();
    expect(refunds).toEqual([{ amount: refund, status: 'succeeded', reason: 'cancellation' }]);
    expect(await bookingRow(booking.id)).toEqual({ status: 'cancelled', refund_amount: refund, refund_status: 'succeeded', cancelled_by: first.guest.id });
  });

  it('keeps the declined attempt as a failed payment and cancels its stay with nothing to refund', async () => {
    const { booking, payment } = first.declined;
    expect(await paymentsOf(booking.id)).toEqual([
      { id: payment.id, status: 'failed', amount: booking.price.total, refunded_amount: 0, payment_method: 'pm_card_chargeDeclined', failure_code: 'generic_decline' },
    ]);
    expect(await bookingRow(booking.id)).toEqual({ status: 'cancelled', refund_amount: null, refund_status: null, cancelled_by: first.guest.id });
  });

  it('sends every email the walk made owed: receipt, confirmation, cancellation and refund; only the cancellation for the declined stay', async () => {
    await expect.poll(() => notificationsOf(first.paid.booking.id), { timeout: 15_000 }).toEqual([
      { kind: 'booking_cancelled', status: 'sent' },
      { kind: 'booking_confirmed', status: 'sent' },
      { kind: 'payment_receipt', status: 'sent' },
      { kind: 'refund_issued', status: 'sent' },
    ]);
    await expect.poll(() => notificationsOf(first.declined.booking.id), { timeout: 15_000 }).toEqual([{ kind: 'booking_cancelled', status: 'sent' }]);
  });

  it('can be walked again: a second run passes too, and neither run leaves a stay holding dates', { timeout: 60_000 }, async () => {
    const second = await walk();
    expect(second.guest.id).not.toBe(first.guest.id);
    const held = await db()
      .selectFrom('bookings')
      .select(['id', 'status'])
      .where('guest_id', 'in', [first.guest.id, second.guest.id])
      .where('status', 'in', ['pending', 'confirmed'])
      .execute();
    expect(held).toEqual([]);
  });
});

describe('the database afterwards', () => {
  it('adds up: every money column equals its recomputation, every booking\'s status agrees with its payments', async () => {
    expect(await inconsistencies(server.deps.db, server.deps.config.serviceFeeBasisPoints)).toEqual([]);
  });
});
