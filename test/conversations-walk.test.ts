/**
 * The conversations walk of `npm run walk:conversations`
 * (scripts/walk-conversations.ts), run as it is against a test server holding
 * the demo data: the demo guest asks Hana about her listing that is not
 * instant-bookable, she reads and answers, the guest requests a stay, she
 * accepts it, the guest pays, and both read the thread, the unread counts
 * checked on both sides at each step. Afterwards the database is checked for
 * what the walk should have left (the messages, both read markers, the
 * confirmed stay and its payment, the emails owed), and the walk is run again,
 * as a user would, on the same thread.
 * Runs on PostgreSQL (npm test) and on the embedded PGlite (npm run test:embedded).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { seedDemoData } from '../server/demo-data.js';
import { walkConversations, type ConversationsWalkResult } from '../scripts/walk-conversations.js';
import { inconsistencies } from './support/consistency.js';
import { useTestApp } from './support/app.js';

const { env, server } = useTestApp();
beforeAll(async () => {
  await seedDemoData(server.deps.db, { bookings: server.deps.config });
});

const db = () => server.deps.db;

/** Walks and fails with the walk's own transcript when any of its checks did not hold. */
async function walk(): Promise<ConversationsWalkResult> {
  const transcript: string[] = [];
  const { requestExpiryHours, bookingHoldSeconds } = server.deps.config;
  const result = await walkConversations(server.url, { requestExpiryHours, holdMinutes: bookingHoldSeconds / 60, outboxDir: env.outboxDir, print: (line) => transcript.push(line) });
  expect(result.mismatches, transcript.join('\n')).toBe(0);
  expect(transcript.join('\n')).toContain('Done: every step answered as the contract says.');
  return result;
}

const messagesOf = (conversationId: string) =>
  db().selectFrom('messages').select(['id', 'sender_id', 'body', 'created_at']).where('conversation_id', '=', conversationId).orderBy('created_at').orderBy('id').execute();
const markersOf = (conversationId: string) =>
  db().selectFrom('conversation_participants').select(['user_id', 'role', 'last_read_at', 'blocked_at']).where('conversation_id', '=', conversationId).orderBy('role').execute();
const notificationsOfBooking = (bookingId: string) =>
  db().selectFrom('notifications').select(['kind', 'recipient_id', 'status']).where('booking_id', '=', bookingId).orderBy('kind').execute();

describe('npm run walk:conversations against a server with the demo data', () => {
  const runs: ConversationsWalkResult[] = [];

  it('walks: ask, answer, request, accept, pay, every answer and unread count as the contract says', { timeout: 60_000 }, async () => {
    runs.push(await walk());
    expect(runs[0]!.listing).toMatchObject({ name: 'Quinta cottage near Sintra', instant_book: false });
  });

  it("leaves one thread of the demo guest about the listing, its four messages in order, each side's marker at the other's last message", async () => {
    const { conversation, messages, listing, guestId, hostId } = runs[0]!;
    const threads = await db().selectFrom('conversations').select(['id', 'guest_id', 'host_id', 'booking_id', 'last_activity_at']).where('property_id', '=', listing.id).execute();
    expect(threads).toEqual([{ id: conversation.id, guest_id: guestId, host_id: hostId, booking_id: runs[0]!.booking.id, last_activity_at: expect.any(Date) }]);
    const rows = await messagesOf(conversation.id);
    expect(rows.map(({ id, sender_id, body }) => ({ id, sender_id, body }))).toEqual(messages.map(({ id, sender_id, body }) => ({ id, sender_id, body })));
    expect(rows.map((row) => row.sender_id)).toEqual([guestId, hostId, hostId, guestId]);
    const last = rows.at(-1)!.created_at;
    expect(threads[0]!.last_activity_at).toEqual(last);
    // The guest read the host's note, then wrote the last message, which the host read.
    expect(await markersOf(conversation.id)).toEqual([
      { user_id: guestId, role: 'guest', last_read_at: rows[2]!.created_at, blocked_at: null },
      { user_id: hostId, role: 'host', last_read_at: last, blocked_at: null },
    ]);
  });

  it('leaves the stay confirmed and paid once, by the demo guest, the host having answered the request', async () => {
    const { booking, payment, guestId } = runs[0]!;
    const row = await db().selectFrom('bookings').select(['status', 'guest_id', 'expires_at', 'responded_at', 'decline_reason', 'total']).where('id', '=', booking.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'confirmed', guest_id: guestId, expires_at: null, responded_at: expect.any(Date), decline_reason: null, total: booking.price.total });
    const payments = await db().selectFrom('payments').select(['id', 'status', 'amount', 'payer_id', 'payment_method']).where('booking_id', '=', booking.id).execute();
    expect(payments).toEqual([{ id: payment.id, status: 'succeeded', amount: booking.price.total, payer_id: guestId, payment_method: 'pm_card_visa' }]);
  });

  it('owes each side its emails: the request to the host, the acceptance, receipt and confirmation to the guest; one batched message email each', async () => {
    const { booking, conversation, guestId, hostId } = runs[0]!;
    await expect.poll(() => notificationsOfBooking(booking.id), { timeout: 15_000 }).toEqual([
      { kind: 'booking_accepted', recipient_id: guestId, status: 'sent' },
      { kind: 'booking_confirmed', recipient_id: guestId, status: 'sent' },
      { kind: 'booking_requested', recipient_id: hostId, status: 'sent' },
      { kind: 'payment_receipt', recipient_id: guestId, status: 'sent' },
    ]);
    // Each side got unread messages twice within the batching window: one email each, still waiting for its window.
    const digests = await db()
      .selectFrom('notifications')
      .select(['recipient_id', 'status'])
      .where('conversation_id', '=', conversation.id)
      .where('kind', '=', 'new_messages')
      .orderBy('recipient_id')
      .execute();
    expect(digests).toEqual([guestId, hostId].sort().map((recipient_id) => ({ recipient_id, status: 'pending' })));
  });

  it("wrote nothing for the stranger who was refused the thread", async () => {
    const { conversation, strangerId } = runs[0]!;
    const theirs = await db().selectFrom('conversation_participants').select('conversation_id').where('user_id', '=', strangerId).execute();
    expect(theirs).toEqual([]);
    const reads = await db().selectFrom('conversation_admin_reads').select('id').where('conversation_id', '=', conversation.id).execute();
    expect(reads).toEqual([]);
  });

  it('can be walked again: the same thread, other dates, and nothing left unread or holding dates', { timeout: 60_000 }, async () => {
    runs.push(await walk());
    const [first, second] = runs as [ConversationsWalkResult, ConversationsWalkResult];
    expect(second.conversation.id).toBe(first.conversation.id);
    expect(second.booking.id).not.toBe(first.booking.id);
    expect(await messagesOf(first.conversation.id)).toHaveLength(8);
    const live = await db()
      .selectFrom('bookings')
      .select('id')
      .where('id', 'in', [first.booking.id, second.booking.id])
      .where('status', '<>', 'confirmed')
      .execute();
    expect(live).toEqual([]);
  });
});

describe('the database afterwards', () => {
  it("adds up: every money column equals its recomputation, every booking's status agrees with its payments", async () => {
    expect(await inconsistencies(server.deps.db, server.deps.config.serviceFeeBasisPoints)).toEqual([]);
  });
});
