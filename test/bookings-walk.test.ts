/**
 * A new user's walk through bookings, step by step as the README tells it: a
 * host lists a place; a guest finds it by city and dates, books it and reads
 * the price; is refused an overlapping stay; books back to back; pays the first
 * stay, cancels it and sees the refund the listing's policy allows; and the
 * freed nights are found and booked by someone else. After each step the
 * database is checked for what it should now hold.
 * Runs on PostgreSQL (npm test) and on the embedded PGlite (npm run test:embedded).
 */
import { describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import type { Booking, Property } from '../generated/client/types.gen.js';
import { createHost, createUser, fromToday, payStay, propertyInput, type Account } from './support/factories.js';
import { expectProblem } from './support/problems.js';
import { useTestApp } from './support/app.js';

const { server } = useTestApp();

/** The listing's bookings as the database holds them, by check-in. */
async function bookingsOf(propertyId: string) {
  return server.deps.db
    .selectFrom('bookings')
    .select(['id', 'guest_id', 'check_in', 'check_out', 'status', 'subtotal', 'service_fee', 'total', 'refund_amount', 'refund_status', 'cancelled_by'])
    .where('property_id', '=', propertyId)
    .orderBy('check_in')
    .orderBy('created_at')
    .execute();
}

describe('a guest books, is refused, books back to back, cancels and the nights free up', () => {
  const city = `Staywell-${Date.now().toString(36)}`;
  // Far enough ahead that the strict policy still refunds half when the guest cancels (7 days or more).
  const first = { check_in: fromToday(40), check_out: fromToday(43) };
  const backToBack = { check_in: fromToday(43), check_out: fromToday(45) };
  let host: Account;
  let guest: Account;
  let listing: Property;
  let firstStay: Booking;
  let secondStay: Booking;

  it('1. a host lists a property in a city of its own', async () => {
    host = await createHost(server.client, { name: 'Hosta' });
    guest = await createUser(server.client, { name: 'Gus' });
    // Odd amounts on purpose, so the service fee has a half to round.
    const created = await api.createProperty({
      client: server.client,
      auth: host.token,
      body: propertyInput({ city, price_per_night: 12345, cleaning_fee: 2990, currency: 'EUR', cancellation_policy: 'strict', min_nights: 2, max_guests: 3 }),
    });
    expect(created.response.status).toBe(201);
    listing = created.data!;
    expect(listing).toMatchObject({ city, host_id: host.id, cancellation_policy: 'strict' });
    expect(await bookingsOf(listing.id)).toEqual([]);
  });

  it('2. the guest searches by city and dates and finds it', async () => {
    const found = await api.listProperties({ client: server.client, query: { city, ...first, guests: 2 } });
    expect(found.response.status).toBe(200);
    expect(found.data?.data.map((p) => p.id)).toEqual([listing.id]);
    const calendar = await api.getPropertyAvailability({ client: server.client, path: { property_id: listing.id }, query: { from: first.check_in, to: first.check_out } });
    expect(calendar.data?.nights.map((n) => n.status)).toEqual(['free', 'free', 'free']);
  });

  it('3. books it and sees the price: 3 nights × 123.45 + 29.90 cleaning + 10% service fee', async () => {
    const booked = await api.createBooking({ client: server.client, auth: guest.token, body: { property_id: listing.id, ...first, guests: 2 } });
    expect(booked.response.status).toBe(201);
    firstStay = booked.data!;
    expect(firstStay).toMatchObject({ property_id: listing.id, guest_id: guest.id, ...first, guests: 2, status: 'pending', refund: null });
    // 3 × 12345 = 37035; + 2990 cleaning = 40025; 10% of that is 4002.5, rounded half up to 4003.
    expect(firstStay.price).toEqual({ nights: 3, nightly_rate: 12345, subtotal: 37035, cleaning_fee: 2990, service_fee: 4003, total: 44028, currency: 'EUR' });
    expect(Date.parse(firstStay.expires_at!)).toBeGreaterThan(Date.now());

    expect(await bookingsOf(listing.id)).toEqual([
      { id: firstStay.id, guest_id: guest.id, ...first, status: 'pending', subtotal: 37035, service_fee: 4003, total: 44028, refund_amount: null, refund_status: null, cancelled_by: null },
    ]);
  });

  it('4. is refused a stay that overlaps it, and nothing is written', async () => {
    const before = await bookingsOf(listing.id);
    const overlapping = await api.createBooking({
      client: server.client,
      auth: guest.token,
      body: { property_id: listing.id, check_in: fromToday(41), check_out: fromToday(44), guests: 2 },
    });
    expectProblem(overlapping, 409, 'dates_unavailable');
    expect(await bookingsOf(listing.id)).toEqual(before);
  });

  it('5. the listing no longer shows for those dates, nor for any stay that overlaps them', async () => {
    for (const dates of [first, { check_in: fromToday(42), check_out: fromToday(44) }, { check_in: fromToday(38), check_out: fromToday(41) }]) {
      const found = await api.listProperties({ client: server.client, query: { city, ...dates } });
      expect(found.data?.data, `${dates.check_in}..${dates.check_out}`).toEqual([]);
    }
    // The stay ending on the day it starts does not overlap it.
    const before = await api.listProperties({ client: server.client, query: { city, check_in: fromToday(38), check_out: fromToday(40) } });
    expect(before.data?.data.map((p) => p.id)).toEqual([listing.id]);
  });

  it('6. books back to back: checking in on the day the first stay checks out', async () => {
    const booked = await api.createBooking({ client: server.client, auth: guest.token, body: { property_id: listing.id, ...backToBack, guests: 1 } });
    expect(booked.response.status).toBe(201);
    secondStay = booked.data!;
    // 2 × 12345 = 24690; + 2990 = 27680; 10% = 2768.
    expect(secondStay.price).toEqual({ nights: 2, nightly_rate: 12345, subtotal: 24690, cleaning_fee: 2990, service_fee: 2768, total: 30448, currency: 'EUR' });

    const rows = await bookingsOf(listing.id);
    expect(rows.map((row) => [row.id, row.check_in, row.check_out, row.status])).toEqual([
      [firstStay.id, first.check_in, first.check_out, 'pending'],
      [secondStay.id, backToBack.check_in, backToBack.check_out, 'pending'],
    ]);
  });

  it('7. pays the first stay, cancels it, and gets back half of it less the service fee (strict, 40 days ahead)', async () => {
    await payStay(server, { id: firstStay.id, guest }, 'pm_card_visa');
    const paid = await api.getBooking({ client: server.client, auth: guest.token, path: { booking_id: firstStay.id } });
    expect(paid.data?.status).toBe('confirmed');

    const cancelled = await api.cancelBooking({ client: server.client, auth: guest.token, path: { booking_id: firstStay.id }, body: { reason: 'Plans changed' } });
    expect(cancelled.response.status).toBe(200);
    // Strict, 7 days or more before check-in: 50% of (44028 total - 4003 service fee) = 50% of 40025 = 20012.5, rounded half up.
    expect(cancelled.data).toMatchObject({
      id: firstStay.id,
      status: 'cancelled',
      cancelled_by: guest.id,
      cancellation_reason: 'Plans changed',
      refund: { amount: 20013, currency: 'EUR', status: 'pending' },
    });

    const rows = await bookingsOf(listing.id);
    expect(rows.find((row) => row.id === firstStay.id)).toMatchObject({ status: 'cancelled', refund_amount: 20013, cancelled_by: guest.id });
    expect(rows.find((row) => row.id === secondStay.id)?.status).toBe('pending');
    // The refund job starts once the cancellation has committed, so by now it may have run already.
    await expect.poll(async () => (await bookingsOf(listing.id)).find((row) => row.id === firstStay.id)?.refund_status, { timeout: 10_000 }).toBe('succeeded');
  });

  it('8. the freed nights are found again and another guest books them', async () => {
    const found = await api.listProperties({ client: server.client, query: { city, ...first } });
    expect(found.data?.data.map((p) => p.id)).toEqual([listing.id]);
    const calendar = await api.getPropertyAvailability({ client: server.client, path: { property_id: listing.id }, query: { from: first.check_in, to: backToBack.check_out } });
    expect(calendar.data?.nights.map((n) => n.status)).toEqual(['free', 'free', 'free', 'booked', 'booked']);

    const other = await createUser(server.client, { name: 'Olga' });
    const booked = await api.createBooking({ client: server.client, auth: other.token, body: { property_id: listing.id, ...first, guests: 3 } });
    expect(booked.response.status).toBe(201);
    expect(booked.data).toMatchObject({ guest_id: other.id, ...first, status: 'pending' });

    const rows = await bookingsOf(listing.id);
    expect(rows.map((row) => [row.guest_id, row.check_in, row.status])).toEqual([
      [guest.id, first.check_in, 'cancelled'],
      [other.id, first.check_in, 'pending'],
      [guest.id, backToBack.check_in, 'pending'],
    ]);
    const gone = await api.listProperties({ client: server.client, query: { city, ...first } });
    expect(gone.data?.data).toEqual([]);
  });
});
