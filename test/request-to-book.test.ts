/**
 * Request-to-book (issue 16): a listing that is not instant-bookable takes
 * requests; its host accepts (-> pending) or declines (-> declined) each, or it
 * expires unanswered. Every rule with its refusal and the rows afterwards,
 * through the generated client against a real PostgreSQL; the database's own
 * state machine (trigger bookings_status_transition) by raw SQL; and the race of
 * a host's accept with the sweep's expiry, many times over.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { acceptRequestedBooking, lockBooking, sweepBookingStatuses } from '../db/bookings.js';
import type { Db } from '../db/index.js';
import { requestAnswerRefusal } from '../handlers/bookings/rules.js';
import * as api from '../generated/client/sdk.gen.js';
import type { Booking, Property } from '../generated/client/types.gen.js';
import type { LiveEvent } from '../server/events.js';
import { createAdmin, createBooking, createHost, createProperty, createUser, fromToday, payStay, type Account } from './support/factories.js';
import { expectProblem } from './support/problems.js';
import { useTestApp } from './support/app.js';
import { inconsistencies } from './support/consistency.js';
import { eventually } from './support/server.js';

const { env, server } = useTestApp();
let admin: Account;
let host: Account;
let listing: Property & { host: Account };

beforeAll(async () => {
  admin = await createAdmin(server);
  host = await createHost(server.client);
  listing = await createProperty(server.client, host, { instant_book: false });
});

function bookingRow(id: string) {
  return server.deps.db.selectFrom('bookings').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

function notificationsOf(bookingId: string) {
  return server.deps.db.selectFrom('notifications').select(['kind', 'recipient_id']).where('booking_id', '=', bookingId).orderBy('created_at').execute();
}

/** Each night range handed out once, so that requests on the one listing never overlap. */
let nextStay = 0;
function freshStay() {
  const start = 10 + 3 * nextStay++;
  return { check_in: fromToday(start), check_out: fromToday(start + 2) };
}

async function request(guest?: Account): Promise<Booking & { guest: Account }> {
  return createBooking(server.client, { guest, property: listing, stay: { ...freshStay(), guests: 2 } });
}

const accept = (who: Account | undefined, id: string) => api.acceptBooking({ client: server.client, auth: who?.token, path: { booking_id: id } });
const decline = (who: Account | undefined, id: string, reason = 'We are away that week.') =>
  api.declineBooking({ client: server.client, auth: who?.token, path: { booking_id: id }, body: { reason } });

/** Collects the live events a user receives while `run` runs. */
async function liveEventsOf(userId: string, run: () => Promise<unknown>): Promise<LiveEvent[]> {
  const seen: LiveEvent[] = [];
  const stop = await server.deps.events.subscribe(userId, (event) => seen.push(event));
  try {
    await run();
  } finally {
    stop();
  }
  return seen;
}

describe('a listing that is not instant-bookable', () => {
  it('says so (instant_book defaults to true and can be switched)', async () => {
    const instant = await createProperty(server.client, host);
    expect(instant.instant_book).toBe(true);
    expect(listing.instant_book).toBe(false);
    const switched = await api.updateProperty({ client: server.client, auth: host.token, path: { property_id: instant.id }, body: { instant_book: false } });
    expect(switched.data?.instant_book).toBe(false);
    expect((await server.deps.db.selectFrom('properties').select('instant_book').where('id', '=', instant.id).executeTakeFirstOrThrow()).instant_book).toBe(false);
  });

  it('takes a booking as a request: 201 requested, dates held until the host\'s deadline, nothing to pay, the host told by email and live', async () => {
    const guest = await createUser(server.client);
    let booking!: Booking & { guest: Account };
    const hostEvents = await liveEventsOf(host.id, async () => (booking = await request(guest)));
    expect(booking.status).toBe('requested');
    expect(booking.responded_at).toBeNull();
    expect(booking.decline_reason).toBeNull();
    const hours = (Date.parse(booking.expires_at!) - Date.parse(booking.created_at)) / 3_600_000;
    expect(hours).toBeCloseTo(24, 5);
    expect(hostEvents).toEqual([expect.objectContaining({ type: 'booking.updated', data: expect.objectContaining({ id: booking.id, status: 'requested' }) })]);
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'requested', requested_at: expect.any(Date), responded_at: null });
    expect(await notificationsOf(booking.id)).toEqual([{ kind: 'booking_requested', recipient_id: host.id }]);

    // The dates are held: another guest cannot book them.
    const other = await createUser(server.client);
    const clash = await api.createBooking({ client: server.client, auth: other.token, body: { property_id: listing.id, check_in: booking.check_in, check_out: booking.check_out, guests: 1 } });
    expectProblem(clash, 409, 'dates_unavailable');

    // Nothing can be charged while the host has not accepted.
    const payment = await api.createPayment({
      client: server.client, auth: guest.token, headers: { 'Idempotency-Key': crypto.randomUUID() }, body: { booking_id: booking.id, payment_method: 'pm_card_visa' },
    });
    expectProblem(payment, 409, 'awaiting_host_approval');
    expect(await server.deps.db.selectFrom('payments').select('id').where('booking_id', '=', booking.id).execute()).toEqual([]);

    // Its dates and party cannot be changed: the host answers the stay that was asked for.
    expectProblem(await api.updateBooking({ client: server.client, auth: guest.token, path: { booking_id: booking.id }, body: { guests: 1 } }), 422, 'invalid_state');
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'requested', guests: 2 });
  });

  it('lists the host\'s open requests with role=host&status=requested, and nobody else\'s', async () => {
    const open = await request();
    const answered = await request();
    expect((await accept(host, answered.id)).response.status).toBe(200);
    const list = await api.listBookings({ client: server.client, auth: host.token, query: { role: 'host', status: 'requested', limit: 100 } });
    const ids = list.data!.data.map((b) => b.id);
    expect(ids).toContain(open.id);
    expect(ids).not.toContain(answered.id);
    expect(list.data!.data.every((b) => b.status === 'requested')).toBe(true);
    const stranger = await createHost(server.client);
    expect((await api.listBookings({ client: server.client, auth: stranger.token, query: { role: 'host', status: 'requested' } })).data!.data).toEqual([]);
    expect((await api.listBookings({ client: server.client, auth: open.guest.token, query: { status: 'requested' } })).data!.data.map((b) => b.id)).toEqual([open.id]);
  });
});

describe('acceptBooking', () => {
  it('makes the request pending with a fresh hold, tells the guest, and the guest pays', async () => {
    const booking = await request();
    let accepted!: Awaited<ReturnType<typeof accept>>;
    const guestEvents = await liveEventsOf(booking.guest.id, async () => (accepted = await accept(host, booking.id)));
    expect(accepted.response.status).toBe(200);
    expect(accepted.data).toMatchObject({ id: booking.id, status: 'pending', responded_at: expect.any(String), decline_reason: null });
    const holdSeconds = (Date.parse(accepted.data!.expires_at!) - Date.parse(accepted.data!.responded_at!)) / 1000;
    expect(holdSeconds).toBe(server.deps.config.bookingHoldSeconds);
    expect(guestEvents).toEqual([expect.objectContaining({ type: 'booking.updated', data: expect.objectContaining({ id: booking.id, status: 'pending' }) })]);
    expect(await notificationsOf(booking.id)).toEqual([
      { kind: 'booking_requested', recipient_id: host.id },
      { kind: 'booking_accepted', recipient_id: booking.guest.id },
    ]);

    // Answered once: a second answer of either kind is refused, the row unchanged.
    expectProblem(await accept(host, booking.id), 409, 'booking_not_requested');
    expectProblem(await decline(host, booking.id), 409, 'booking_not_requested');
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'pending', decline_reason: null });

    const payment = await payStay(server, booking);
    expect(payment.status).toBe('succeeded');
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'confirmed', responded_at: expect.any(Date) });
  });

  it('is the host\'s alone: 403 to the guest and an admin, 404 to strangers, 401 without a token; nothing changes', async () => {
    const booking = await request();
    expectProblem(await accept(booking.guest, booking.id), 403, 'forbidden');
    expectProblem(await accept(admin, booking.id), 403, 'forbidden');
    expectProblem(await accept(await createHost(server.client), booking.id), 404, 'not_found');
    expectProblem(await accept(await createUser(server.client), booking.id), 404, 'not_found');
    expectProblem(await accept(undefined, booking.id), 401, 'unauthenticated');
    expectProblem(await accept(host, '00000000-0000-4000-8000-000000000000'), 404, 'not_found');
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'requested', responded_at: null });
  });

  it('refuses an instant booking: it was never a request', async () => {
    const instant = await createProperty(server.client, host);
    const booking = await createBooking(server.client, { property: instant, stay: freshStay() });
    expect(booking.status).toBe('pending');
    expectProblem(await accept(host, booking.id), 409, 'booking_not_requested');
    // Lapsed, it is still not an expired request.
    await server.deps.db.updateTable('bookings').set({ expires_at: sql<Date>`now() - interval '1 second'` }).where('id', '=', booking.id).execute();
    expectProblem(await accept(host, booking.id), 409, 'booking_not_requested');
  });
});

describe('declineBooking', () => {
  it('declines with the host\'s reason, frees the dates, tells the guest', async () => {
    const booking = await request();
    let declined!: Awaited<ReturnType<typeof decline>>;
    const guestEvents = await liveEventsOf(booking.guest.id, async () => (declined = await decline(host, booking.id, 'Renovating the kitchen that week.')));
    expect(declined.response.status).toBe(200);
    expect(declined.data).toMatchObject({ status: 'declined', decline_reason: 'Renovating the kitchen that week.', expires_at: null, responded_at: expect.any(String) });
    expect(guestEvents).toEqual([expect.objectContaining({ type: 'booking.updated', data: expect.objectContaining({ status: 'declined' }) })]);
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'declined', decline_reason: 'Renovating the kitchen that week.', expires_at: null });
    expect((await notificationsOf(booking.id)).at(-1)).toEqual({ kind: 'booking_declined', recipient_id: booking.guest.id });

    // The dates are free again.
    const next = await createBooking(server.client, { property: listing, stay: { check_in: booking.check_in, check_out: booking.check_out } });
    expect(next.status).toBe('requested');
    // A declined request cannot be accepted, paid or cancelled.
    expectProblem(await accept(host, booking.id), 409, 'booking_not_requested');
    expectProblem(await api.cancelBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id } }), 422, 'invalid_state');
  });

  it('needs a reason that is not blank and has no control characters (400), and is the host\'s alone', async () => {
    const booking = await request();
    expectProblem(await decline(host, booking.id, ''), 400, 'validation_failed');
    expectProblem(await decline(host, booking.id, '   '), 400, 'validation_failed');
    expectProblem(await decline(host, booking.id, 'no\u0007bell'), 400, 'validation_failed');
    expectProblem(await decline(host, booking.id, 'x'.repeat(501)), 400, 'validation_failed');
    expectProblem(await decline(booking.guest, booking.id), 403, 'forbidden');
    expectProblem(await decline(admin, booking.id), 403, 'forbidden');
    expectProblem(await decline(await createHost(server.client), booking.id), 404, 'not_found');
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'requested', decline_reason: null });
  });
});

describe('a request the guest cancels', () => {
  it('is cancelled without any refund, and can no longer be answered', async () => {
    const booking = await request();
    const cancelled = await api.cancelBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id }, body: { reason: 'Found another place.' } });
    expect(cancelled.data).toMatchObject({ status: 'cancelled', refund: null, expires_at: null });
    expectProblem(await accept(host, booking.id), 409, 'booking_not_requested');
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'cancelled', refund_amount: null, responded_at: null });
    // The guest's confirmation, and the host hears the request was withdrawn.
    const rows = await notificationsOf(booking.id);
    expect(rows).toHaveLength(3);
    expect(rows).toEqual(expect.arrayContaining([
      { kind: 'booking_requested', recipient_id: host.id },
      { kind: 'booking_cancelled', recipient_id: booking.guest.id },
      { kind: 'booking_cancelled', recipient_id: host.id },
    ]));
  });
});

describe('a request nobody answers', () => {
  it('reads as expired after its deadline, cannot be accepted (409 request_expired), and the sweep writes it down and tells the guest', async () => {
    const booking = await request();
    await server.deps.db.updateTable('bookings').set({ expires_at: sql<Date>`now() - interval '1 second'` }).where('id', '=', booking.id).execute();
    expect((await api.getBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id } })).data?.status).toBe('expired');
    expectProblem(await accept(host, booking.id), 409, 'request_expired');
    expectProblem(await decline(host, booking.id), 409, 'request_expired');
    const listed = await api.listBookings({ client: server.client, auth: host.token, query: { role: 'host', status: 'expired', limit: 100 } });
    expect(listed.data!.data.map((b) => b.id)).toContain(booking.id);
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'requested' });

    await sweepBookingStatuses(server.deps.db);
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'expired', responded_at: null });
    expect((await notificationsOf(booking.id)).map((n) => n.kind)).toEqual(['booking_requested', 'booking_request_expired']);
    // Written down once: a second sweep owes nothing more.
    await sweepBookingStatuses(server.deps.db);
    expect(await notificationsOf(booking.id)).toHaveLength(2);
    // Its dates are free: another guest's request takes them.
    expect((await createBooking(server.client, { property: listing, stay: { check_in: booking.check_in, check_out: booking.check_out } })).status).toBe('requested');
  });
});

describe('the database\'s state machine (trigger bookings_status_transition)', () => {
  const setStatus = (id: string, status: string, extra = sql``) => sql`update bookings set status = ${status} ${extra} where id = ${id}`.execute(server.deps.db);

  it('refuses a status change outside the allowed transitions, by raw SQL, leaving the row as it was', async () => {
    const booking = await request();
    await decline(host, booking.id);
    await expect(setStatus(booking.id, 'pending', sql`, expires_at = now() + interval '1 hour'`)).rejects.toMatchObject({ code: '23514', constraint: 'bookings_status_transition' });
    await expect(setStatus(booking.id, 'requested', sql`, expires_at = now() + interval '1 hour', responded_at = null, decline_reason = null`)).rejects.toMatchObject({
      code: '23514',
      constraint: 'bookings_status_transition',
    });
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'declined' });

    const paid = await request();
    await accept(host, paid.id);
    await payStay(server, paid);
    await expect(setStatus(paid.id, 'requested', sql`, expires_at = now() + interval '1 hour'`)).rejects.toMatchObject({ constraint: 'bookings_status_transition' });
    await expect(setStatus(paid.id, 'expired', sql`, expires_at = now()`)).rejects.toMatchObject({ constraint: 'bookings_status_transition' });
    expect(await bookingRow(paid.id)).toMatchObject({ status: 'confirmed' });
    // Allowed ones pass: confirmed -> completed.
    await setStatus(paid.id, 'completed');
    expect(await bookingRow(paid.id)).toMatchObject({ status: 'completed' });
  });

  it('refuses a new row that starts as declined, and a declined row without its reason', async () => {
    const booking = await bookingRow((await request()).id);
    const insert = (status: string, id: string) =>
      sql`insert into bookings (id, property_id, guest_id, check_in, check_out, guests, status, nights, nightly_rate, subtotal, cleaning_fee, service_fee, total,
            currency, requested_at, responded_at, decline_reason)
          values (${id}::uuid, ${booking.property_id}, ${booking.guest_id}, ${fromToday(900)}, ${fromToday(902)}, 1, ${status}, 2, 100, 200, 0, 0, 200, 'EUR',
            now(), now(), 'No.')`.execute(server.deps.db);
    await expect(insert('declined', crypto.randomUUID())).rejects.toMatchObject({ code: '23514', constraint: 'bookings_status_transition' });
    await expect(setStatus(booking.id, 'declined', sql`, expires_at = null, responded_at = now()`)).rejects.toMatchObject({ code: '23514', constraint: 'bookings_decline_reason_check' });
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'requested' });
  });
});

describe('the host\'s accept racing the request\'s expiry', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const deadlineIn = (id: string, ms: number) =>
    server.deps.db.updateTable('bookings').set({ expires_at: sql<Date>`now() + ${ms} * interval '1 millisecond'` }).where('id', '=', id).execute();

  it('lets an accept that locked the request before its deadline win: the sweep waits for it, then finds it pending', async () => {
    const booking = await request();
    await deadlineIn(booking.id, 300);
    let sweep: Promise<unknown> | undefined;
    await server.deps.db.transaction().execute(async (trx) => {
      // As acceptBooking does: lock, judge the deadline under the lock, write.
      const locked = await lockBooking(trx, booking.id);
      expect(requestAnswerRefusal(locked!)).toBeUndefined();
      await sleep(400); // the deadline passes while the accept holds the row
      sweep = sweepBookingStatuses(server.deps.db);
      await sleep(100);
      await acceptRequestedBooking(trx, booking.id, server.deps.config.bookingHoldSeconds);
    });
    await sweep;
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'pending', responded_at: expect.any(Date) });
    expect((await notificationsOf(booking.id)).map((n) => n.kind)).toEqual(['booking_requested']);
  });

  it('refuses an accept that began before the deadline but reached the row after the sweep had written it down (409 request_expired)', async () => {
    const booking = await request();
    await deadlineIn(booking.id, 300);
    // A sweep that begins after the deadline (its now() is its transaction's start) and holds the row's lock for a while.
    const sweeper = sleep(400).then(() =>
      server.deps.db.transaction().execute(async (trx) => {
        await sweepBookingStatuses(trx as unknown as Db);
        await sleep(300);
      }),
    );
    // This accept's transaction (its now()) starts before the deadline; its lock waits for the sweep.
    await server.deps.db.transaction().execute(async (trx) => {
      await sql`select 1`.execute(trx);
      await sleep(500);
      const waited = Date.now();
      const locked = await lockBooking(trx, booking.id);
      expect(Date.now() - waited).toBeGreaterThan(100); // it did wait for the sweep's lock
      expect(requestAnswerRefusal(locked!)).toBe('request_expired');
    });
    await sweeper;
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'expired', responded_at: null });
    expect((await notificationsOf(booking.id)).map((n) => n.kind)).toEqual(['booking_requested', 'booking_request_expired']);
  });

  it('has exactly one winner every time, and a row that agrees with the answer', async () => {
    const outcomes = { accepted: 0, expired: 0 };
    for (let round = 0; round < 24; round += 1) {
      const booking = await request();
      // The deadline lands 0 to 63 ms from now, about as long as an accept takes to arrive and lock the
      // row; the accept goes at once and the sweep as the deadline passes, then twice more, so the two
      // meet around the deadline with either one first.
      const lead = (round % 8) * 9;
      await server.deps.db.updateTable('bookings').set({ expires_at: sql<Date>`now() + ${lead} * interval '1 millisecond'` }).where('id', '=', booking.id).execute();
      const sweeps = (async () => {
        for (const wait of [lead, 3, 3]) {
          await new Promise((resolve) => setTimeout(resolve, wait));
          await sweepBookingStatuses(server.deps.db);
        }
      })();
      const [answer] = await Promise.all([accept(host, booking.id), sweeps]);
      const row = await bookingRow(booking.id);
      const kinds = (await notificationsOf(booking.id)).map((n) => n.kind);
      if (answer.response.status === 200) {
        outcomes.accepted += 1;
        expect(row).toMatchObject({ status: 'pending', responded_at: expect.any(Date) });
        expect(row.expires_at!.getTime()).toBeGreaterThan(Date.now());
        expect(kinds).toEqual(['booking_requested', 'booking_accepted']);
      } else {
        outcomes.expired += 1;
        expectProblem(answer, 409, 'request_expired');
        // The sweep wrote it down, or will: either way it reads expired and was never accepted.
        await sweepBookingStatuses(server.deps.db);
        expect(await bookingRow(booking.id)).toMatchObject({ status: 'expired', responded_at: null });
        expect(await notificationsOf(booking.id)).toEqual([
          { kind: 'booking_requested', recipient_id: host.id },
          { kind: 'booking_request_expired', recipient_id: booking.guest.id },
        ]);
      }
    }
    expect(outcomes.accepted + outcomes.expired).toBe(24);
  }, 60_000);
});

describe('the emails of each step', () => {
  it('are sent through the outbox: the host hears of a request, the guest of its acceptance, decline and expiry', async () => {
    const accepted = await request();
    await accept(host, accepted.id);
    const declined = await request();
    await decline(host, declined.id, 'Renovating the kitchen that week.');
    const lapsed = await request();
    await server.deps.db.updateTable('bookings').set({ expires_at: sql<Date>`now() - interval '1 second'` }).where('id', '=', lapsed.id).execute();
    const swept = await sweepBookingStatuses(server.deps.db);
    await server.deps.jobs.enqueue(swept.notifications.map((id) => ({ name: 'send-notification' as const, id })));

    const withdrawn = await request();
    await api.cancelBooking({ client: server.client, auth: withdrawn.guest.token, path: { booking_id: withdrawn.id } });
    const ids = [accepted.id, declined.id, lapsed.id, withdrawn.id];
    await eventually(async () => {
      const rows = await server.deps.db.selectFrom('notifications').select(['status']).where('booking_id', 'in', ids).execute();
      expect(rows.map((row) => row.status)).toEqual(Array(9).fill('sent'));
    });
    const mails = await Promise.all(
      (await readdir(env.outboxDir)).filter((name) => name.endsWith('.eml')).map((name) => readFile(path.join(env.outboxDir, name), 'utf8')),
    ).then((texts) => texts.map((text) => text.replaceAll('=\n', '').replaceAll('\n ', ' '))); // soft line breaks and folded headers undone
    const about = (kind: string, recipient: Account) =>
      mails.filter((mail) => mail.includes(`Message-ID: <${kind}-`) && mail.includes(`To: ${recipient.email}`));
    expect(about('booking_requested', host).length).toBeGreaterThanOrEqual(4);
    expect(about('booking_cancelled', host).filter((mail) => mail.includes(`Booking ${withdrawn.id}`))).toEqual([
      expect.stringContaining('the guest withdrew their request'),
    ]);
    expect(about('booking_accepted', accepted.guest)).toEqual([expect.stringContaining('the host accepted your request')]);
    expect(about('booking_declined', declined.guest)).toEqual([expect.stringContaining('Renovating the kitchen that week.')]);
    expect(about('booking_request_expired', lapsed.guest)).toEqual([expect.stringContaining('did not answer your request in time')]);
  });
});

describe('after every request, answer and expiry above', () => {
  it('leaves the database consistent (no request was paid, every paid stay adds up)', async () => {
    expect(await inconsistencies(server.deps.db, server.deps.config.serviceFeeBasisPoints)).toEqual([]);
  });
});

describe('the background sweep', () => {
  it('tells the guest and the host, on their live streams, of a request it expired', async () => {
    // A process of its own whose sweep runs every second, on the same database.
    const sweeping = await env.start({ bookingSweepSeconds: 1 });
    const lapsed = await request();
    const guestSeen: LiveEvent[] = [];
    const hostSeen: LiveEvent[] = [];
    const stopGuest = await sweeping.deps.events.subscribe(lapsed.guest.id, (event) => guestSeen.push(event));
    const stopHost = await sweeping.deps.events.subscribe(host.id, (event) => hostSeen.push(event));
    try {
      await server.deps.db.updateTable('bookings').set({ expires_at: sql<Date>`now() - interval '1 second'` }).where('id', '=', lapsed.id).execute();
      await eventually(async () => {
        for (const seen of [guestSeen, hostSeen]) {
          expect(seen.filter((e) => e.data.id === lapsed.id).map((e) => [e.type, e.data.status])).toEqual([['booking.updated', 'expired']]);
        }
      });
      expect(await bookingRow(lapsed.id)).toMatchObject({ status: 'expired', responded_at: null });
    } finally {
      stopGuest();
      stopHost();
      await sweeping.close();
    }
  });
});
