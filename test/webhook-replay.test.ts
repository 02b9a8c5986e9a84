/**
 * The replay of `npm run replay:webhook`, run as it is (the same replayWebhook)
 * against a test server with the demo data: one signed payment_intent.succeeded
 * event for a charge whose API response was lost, delivered 50 times at once,
 * after a tampered and a stale copy were refused. The script checks the answers
 * and the API's records (and, on PostgreSQL, reads the rows itself); this test
 * then checks the database directly: the event applied once, one payment, the
 * booking confirmed, two emails owed.
 * Runs on PostgreSQL (npm test) and on the embedded PGlite (npm run test:embedded).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { seedDemoData } from '../server/demo-data.js';
import { replayWebhook, type Replay } from '../scripts/replay-webhook.js';
import { useTestApp } from './support/app.js';

const COPIES = 50;

const { env, server } = useTestApp();
beforeAll(async () => {
  await seedDemoData(server.deps.db, { bookings: server.deps.config });
});

const db = () => server.deps.db;

describe('npm run replay:webhook against a server with the demo data', () => {
  let replay: Replay;

  it(`applies the event once however many of its ${COPIES} concurrent deliveries arrive, and refuses the forged copies`, { timeout: 60_000 }, async () => {
    const transcript: string[] = [];
    // On PostgreSQL the script reads the rows too, as it does given --database-url.
    replay = await replayWebhook(server.url, { copies: COPIES, databaseUrl: env.databaseUrl, print: (line) => transcript.push(line) });
    expect(replay.mismatches, transcript.join('\n')).toBe(0);
    expect({ applied: replay.applied, duplicates: replay.duplicates, failed: replay.failed }).toEqual({ applied: 1, duplicates: COPIES - 1, failed: 0 });
  });

  it('leaves one payment_events row, one succeeded payment recorded from the event, the booking confirmed and two notifications', async () => {
    const events = await db().selectFrom('payment_events').select(['id', 'type', 'payment_id', 'refund_id']).where('id', '=', replay.eventId).execute();
    expect(events).toEqual([{ id: replay.eventId, type: 'payment_intent.succeeded', payment_id: replay.paymentId, refund_id: null }]);

    const booking = await db().selectFrom('bookings').select(['status', 'total', 'currency']).where('id', '=', replay.bookingId).executeTakeFirstOrThrow();
    expect(booking.status).toBe('confirmed');
    const payments = await db()
      .selectFrom('payments')
      .select(['id', 'status', 'amount', 'currency', 'provider_reference'])
      .where('booking_id', '=', replay.bookingId)
      .execute();
    expect(payments).toEqual([{ id: replay.paymentId, status: 'succeeded', amount: booking.total, currency: booking.currency, provider_reference: replay.intentId }]);

    const notifications = await db().selectFrom('notifications').select('kind').where('booking_id', '=', replay.bookingId).orderBy('kind').execute();
    expect(notifications.map((n) => n.kind)).toEqual(['booking_confirmed', 'payment_receipt']);
  });
});
