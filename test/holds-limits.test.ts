/**
 * Issue 13, finding 5 (calendar hoarding), against real PostgreSQL: the cap on
 * a guest's concurrent unpaid holds (also under concurrent requests), the limit
 * on re-holding the same stay, and the booking horizon. The server runs with
 * the production defaults of these limits (test/support/server.ts lifts them
 * for the other test files).
 */
import { describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { bookingHorizonEnd } from '../handlers/bookings/rules.js';
import { loadConfig } from '../server/config.js';
import { addDays, utcToday } from '../server/dates.js';
import { createBooking, createProperty, createUser, fromToday, payStay, type Account } from './support/factories.js';
import { expectProblem } from './support/problems.js';
import { useTestApp } from './support/app.js';

const defaults = loadConfig({ NODE_ENV: 'production' });
const { server } = useTestApp({
  config: { maxPendingHolds: defaults.maxPendingHolds, maxHoldsPerStay: defaults.maxHoldsPerStay, bookingHorizonMonths: defaults.bookingHorizonMonths },
});

const db = () => server.deps.db;
const pendingOf = async (guest: Account) =>
  (await db().selectFrom('bookings').select('id').where('guest_id', '=', guest.id).where('status', '=', 'pending').execute()).length;

function book(guest: Account, propertyId: string, checkIn: string, checkOut: string) {
  return api.createBooking({ client: server.client, auth: guest.token, body: { property_id: propertyId, check_in: checkIn, check_out: checkOut, guests: 1 } });
}

describe('the cap on a guest\'s unpaid holds', () => {
  it('has the documented defaults: 5 holds at once, 3 holds of one stay in 24 hours, a horizon of 18 months', () => {
    expect([defaults.maxPendingHolds, defaults.maxHoldsPerStay, defaults.holdRenewalWindowSeconds, defaults.bookingHorizonMonths]).toEqual([5, 3, 86_400, 18]);
  });

  it('lets 12 concurrent createBooking calls of one guest hold exactly 5 stays; the rest are 409 too_many_holds', async () => {
    const guest = await createUser(server.client);
    const property = await createProperty(server.client);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => book(guest, property.id, fromToday(20 + 2 * i), fromToday(21 + 2 * i))));
    const statuses = results.map((result) => result.response.status).sort();
    expect(statuses).toEqual([...Array(5).fill(201), ...Array(7).fill(409)]);
    for (const refused of results.filter((result) => result.response.status === 409)) expectProblem(refused, 409, 'too_many_holds');
    expect(await pendingOf(guest)).toBe(5);
  });

  it('counts only holds still unpaid: a paid or cancelled one makes room, and other guests are not affected', async () => {
    const guest = await createUser(server.client);
    const property = await createProperty(server.client);
    const held = [];
    for (let i = 0; i < 5; i++) held.push(await createBooking(server.client, { guest, property, stay: { check_in: fromToday(60 + 2 * i), check_out: fromToday(61 + 2 * i), guests: 1 } }));
    expectProblem(await book(guest, property.id, fromToday(80), fromToday(81)), 409, 'too_many_holds');

    await payStay(server, held[0]!);
    expect((await book(guest, property.id, fromToday(80), fromToday(81))).response.status).toBe(201);
    expectProblem(await book(guest, property.id, fromToday(82), fromToday(83)), 409, 'too_many_holds');
    await api.cancelBooking({ client: server.client, auth: guest.token, path: { booking_id: held[1]!.id } });
    expect((await book(guest, property.id, fromToday(82), fromToday(83))).response.status).toBe(201);

    const other = await createUser(server.client);
    expect((await book(other, property.id, fromToday(90), fromToday(91))).response.status).toBe(201);
  });
});

describe('re-holding the same stay', () => {
  it('allows the first hold and two re-holds after cancelling within 24 hours; the fourth is 409 hold_renewal_limit, also for overlapping dates', async () => {
    const guest = await createUser(server.client);
    const property = await createProperty(server.client, undefined, { max_nights: 30 });
    for (let i = 0; i < 3; i++) {
      const held = await book(guest, property.id, fromToday(30), fromToday(58));
      expect(held.response.status).toBe(201);
      await api.cancelBooking({ client: server.client, auth: guest.token, path: { booking_id: held.data!.id } });
    }
    expectProblem(await book(guest, property.id, fromToday(30), fromToday(58)), 409, 'hold_renewal_limit');
    expectProblem(await book(guest, property.id, fromToday(40), fromToday(42)), 409, 'hold_renewal_limit');
    // Nothing was written by the refusals, and the calendar is open to everyone else.
    expect(await db().selectFrom('bookings').select('status').where('guest_id', '=', guest.id).execute()).toEqual(Array(3).fill({ status: 'cancelled' }));
    const other = await createUser(server.client);
    expect((await book(other, property.id, fromToday(30), fromToday(58))).response.status).toBe(201);
    // Other dates of the listing, and the same dates elsewhere, are still the guest's to book.
    expect((await book(guest, property.id, fromToday(60), fromToday(62))).response.status).toBe(201);
    const elsewhere = await createProperty(server.client);
    expect((await book(guest, elsewhere.id, fromToday(30), fromToday(32))).response.status).toBe(201);
  });

  it('counts a lapsed hold as much as a cancelled one, and forgets holds older than the window', async () => {
    const guest = await createUser(server.client);
    const property = await createProperty(server.client);
    for (let i = 0; i < 3; i++) {
      const held = await book(guest, property.id, fromToday(100), fromToday(103));
      // Lapsed, written past the API: a hold that ran out of time.
      await db().updateTable('bookings').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', held.data!.id).execute();
    }
    expectProblem(await book(guest, property.id, fromToday(100), fromToday(103)), 409, 'hold_renewal_limit');
    await db().updateTable('bookings').set({ created_at: new Date(Date.now() - 25 * 3600 * 1000) }).where('guest_id', '=', guest.id).execute();
    expect((await book(guest, property.id, fromToday(100), fromToday(103))).response.status).toBe(201);
  });
});

describe('the booking horizon', () => {
  it('refuses a stay ending after it with 422 beyond_booking_horizon (and year 9999, outside every date the API takes, with 400) and accepts one ending on its last day; writes nothing', async () => {
    const guest = await createUser(server.client);
    const property = await createProperty(server.client);
    const end = bookingHorizonEnd(utcToday(), 18);
    expectProblem(await book(guest, property.id, '9999-12-28', '9999-12-31'), 400, 'validation_failed');
    const far = expectProblem(await book(guest, property.id, addDays(end, -2), addDays(end, 1)), 422, 'beyond_booking_horizon');
    expect(far.errors).toEqual([{ path: 'body.check_out', message: `must be on or before ${end}` }]);
    expect(await pendingOf(guest)).toBe(0);
    const last = await book(guest, property.id, addDays(end, -2), end);
    expect(last.response.status).toBe(201);

    // Moving a booking beyond it is refused the same way, and leaves it as it was.
    const moved = await api.updateBooking({ client: server.client, auth: guest.token, path: { booking_id: last.data!.id }, body: { check_out: addDays(end, 1) } });
    expectProblem(moved, 422, 'beyond_booking_horizon');
    expect(await db().selectFrom('bookings').select('check_out').where('id', '=', last.data!.id).executeTakeFirstOrThrow()).toEqual({ check_out: end });
  });
});
