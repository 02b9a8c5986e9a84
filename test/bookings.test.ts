/**
 * Bookings: every rule of the contract, its success and its refusals, through the
 * generated client against a real PostgreSQL, with what the database holds
 * afterwards. The race across server processes is in bookings-race.test.ts and a
 * new user's walk in bookings-walk.test.ts; what stays do to other operations
 * (availability, search, deleteProperty, deleteUser) is tested with those operations.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { sweepBookingStatuses } from '../db/bookings.js';
import * as api from '../generated/client/sdk.gen.js';
import type { Booking, BookingStatus, Property } from '../generated/client/types.gen.js';
import { percentOf, priceStay, refundFor } from '../handlers/bookings/rules.js';
import { addDays, daysBetween, utcToday } from '../server/dates.js';
import {
  createAdmin,
  createBooking,
  createHost,
  createProperty,
  createUser,
  fromToday,
  insertPastStay,
  payStay,
  type Account,
} from './support/factories.js';
import { expectProblem } from './support/problems.js';
import { sleepUntil, type TestServer } from './support/server.js';
import { useTestApp } from './support/app.js';

const { env, server } = useTestApp();
let admin: Account;

beforeAll(async () => {
  admin = await createAdmin(server);
});

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

function bookingRow(id: string) {
  return server.deps.db.selectFrom('bookings').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

async function bookingsOf(propertyId: string) {
  return server.deps.db.selectFrom('bookings').selectAll().where('property_id', '=', propertyId).orderBy('check_in').execute();
}

/** Rows that hold dates, as the exclusion constraint sees them. */
async function heldStays(propertyId: string) {
  return (await bookingsOf(propertyId)).filter((row) => row.status === 'pending' || row.status === 'confirmed');
}

function book(guest: Account, propertyId: string, checkIn: string, checkOut: string, guests = 2, headers?: Record<string, string>) {
  return api.createBooking({ client: server.client, auth: guest.token, body: { property_id: propertyId, check_in: checkIn, check_out: checkOut, guests }, headers });
}

describe('pricing and refunds (the arithmetic, in integer minor units)', () => {
  it('rounds every percentage half up to a whole minor unit', () => {
    expect(percentOf(39_000, 1_000)).toBe(3_900);
    expect(percentOf(12_345, 1_000)).toBe(1_235); // 1234.5 -> 1235
    expect(percentOf(12_344, 1_000)).toBe(1_234); // 1234.4 -> 1234
    expect(percentOf(1, 5_000)).toBe(1); // 0.5 -> 1
    expect(percentOf(0, 1_000)).toBe(0);
  });

  it('prices a stay as nights x rate + cleaning fee + service fee, all integers', () => {
    const price = priceStay({ price_per_night: 12_345, cleaning_fee: 2_500, currency: 'EUR' }, 3, 1_000);
    expect(price).toEqual({ nights: 3, nightly_rate: 12_345, subtotal: 37_035, cleaning_fee: 2_500, service_fee: 3_954, total: 43_489, currency: 'EUR' });
    // The largest stay the contract allows still fits an int32 total.
    const largest = priceStay({ price_per_night: 1_000_000, cleaning_fee: 1_000_000, currency: 'JPY' }, 365, 1_000);
    expect(largest.total).toBeLessThan(2 ** 31);
    expect(Number.isInteger(largest.total)).toBe(true);
  });

  it('refunds by the cancellation policy and the days left before check-in', () => {
    const today = '2027-03-01';
    const booking = { total: 45_100, service_fee: 4_100, nightly_rate: 12_000 };
    const at = (daysBefore: number) => ({ ...booking, check_in: addDays(today, daysBefore), check_out: addDays(today, daysBefore + 3) });
    // flexible: all but the service fee up to 1 day before; nothing after.
    expect(refundFor(at(1), 'flexible', 'guest', today)).toBe(41_000);
    expect(refundFor(at(0), 'flexible', 'guest', today)).toBe(0);
    // moderate: all but the service fee up to 5 days before; half after.
    expect(refundFor(at(5), 'moderate', 'guest', today)).toBe(41_000);
    expect(refundFor(at(4), 'moderate', 'guest', today)).toBe(20_500);
    // strict: half up to 7 days before; nothing after.
    expect(refundFor(at(7), 'strict', 'guest', today)).toBe(20_500);
    expect(refundFor(at(6), 'strict', 'guest', today)).toBe(0);
    // The host or an admin cancelling refunds the whole total, service fee included.
    expect(refundFor(at(0), 'strict', 'host_or_admin', today)).toBe(45_100);
  });
});

describe('createBooking', () => {
  let guest: Account;
  let property: Property & { host: Account };
  beforeAll(async () => {
    guest = await createUser(server.client);
    property = await createProperty(server.client, undefined, { price_per_night: 12_000, cleaning_fee: 3_000, max_guests: 4, min_nights: 2, max_nights: 14 });
  });

  it('holds the nights with a pending booking priced by the server', async () => {
    const before = Date.now();
    const { data, response } = await book(guest, property.id, fromToday(10), fromToday(13), 2);

    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe(`/bookings/${data!.id}`);
    expect(data).toMatchObject({
      property_id: property.id,
      guest_id: guest.id,
      check_in: fromToday(10),
      check_out: fromToday(13),
      guests: 2,
      status: 'pending',
      price: { nights: 3, nightly_rate: 12_000, subtotal: 36_000, cleaning_fee: 3_000, service_fee: 3_900, total: 42_900, currency: 'EUR' },
      cancelled_at: null,
      cancelled_by: null,
      cancellation_reason: null,
      refund: null,
    });
    // The hold is the configured 15 minutes from booking.
    const holdMs = Date.parse(data!.expires_at!) - before;
    expect(holdMs).toBeGreaterThan(14 * 60_000);
    expect(holdMs).toBeLessThan(16 * 60_000);
    expect(await bookingRow(data!.id)).toMatchObject({
      status: 'pending',
      guest_id: guest.id,
      nights: 3,
      subtotal: 36_000,
      service_fee: 3_900,
      total: 42_900,
      currency: 'EUR',
    });
  });

  it('accepts a stay that checks in on the day another checks out, and one that checks out on the day another checks in', async () => {
    const listing = await createProperty(server.client);
    const other = await createUser(server.client);
    expect((await book(guest, listing.id, fromToday(20), fromToday(23))).response.status).toBe(201);
    expect((await book(other, listing.id, fromToday(23), fromToday(25))).response.status).toBe(201);
    expect((await book(other, listing.id, fromToday(18), fromToday(20))).response.status).toBe(201);
    expect(await heldStays(listing.id)).toHaveLength(3);
  });

  it('refuses a stay that overlaps a pending one with 409 dates_unavailable, and writes nothing', async () => {
    const listing = await createProperty(server.client);
    const other = await createUser(server.client);
    await book(guest, listing.id, fromToday(40), fromToday(44));

    for (const [checkIn, checkOut] of [
      [fromToday(40), fromToday(44)], // the same nights
      [fromToday(43), fromToday(46)], // its last night
      [fromToday(38), fromToday(41)], // its first night
      [fromToday(41), fromToday(42)], // inside it
      [fromToday(39), fromToday(45)], // around it
    ] as const) {
      expectProblem(await book(other, listing.id, checkIn, checkOut), 409, 'dates_unavailable');
    }
    expect(await bookingsOf(listing.id)).toHaveLength(1);
  });

  it('refuses a stay that overlaps a confirmed one', async () => {
    const listing = await createProperty(server.client);
    const first = await createBooking(server.client, { property: listing, stay: { check_in: fromToday(50), check_out: fromToday(52) } });
    await payStay(server, first);
    expectProblem(await book(guest, listing.id, fromToday(51), fromToday(53)), 409, 'dates_unavailable');
    expect(await bookingsOf(listing.id)).toHaveLength(1);
  });

  it('refuses check_out on or before check_in with 400 validation_failed', async () => {
    for (const [checkIn, checkOut] of [[fromToday(10), fromToday(10)], [fromToday(10), fromToday(9)]] as const) {
      const problem = expectProblem(await book(guest, property.id, checkIn, checkOut), 400, 'validation_failed', 'body.check_out');
      expect(problem.errors).toEqual([{ path: 'body.check_out', message: 'must be after check_in' }]);
    }
  });

  it('refuses the rules of the listing with 422 booking_rule_violated, naming every broken one', async () => {
    const cases: Array<[string, string, number, string]> = [
      [fromToday(-1), fromToday(2), 2, 'body.check_in'], // in the past
      [fromToday(10), fromToday(11), 2, 'body.check_out'], // 1 night, min_nights is 2
      [fromToday(10), fromToday(25), 2, 'body.check_out'], // 15 nights, max_nights is 14
      [fromToday(60), fromToday(62), 5, 'body.guests'], // max_guests is 4
    ];
    const before = (await bookingsOf(property.id)).length;
    for (const [checkIn, checkOut, guests, path] of cases) {
      expectProblem(await book(guest, property.id, checkIn, checkOut, guests), 422, 'booking_rule_violated', path);
    }
    const several = expectProblem(await book(guest, property.id, fromToday(70), fromToday(71), 9), 422, 'booking_rule_violated');
    expect(several.errors?.map((e) => e.path).sort()).toEqual(['body.check_out', 'body.guests']);
    expect(await bookingsOf(property.id)).toHaveLength(before);
  });

  it('accepts a stay that checks in today', async () => {
    const listing = await createProperty(server.client);
    expect((await book(guest, listing.id, utcToday(), fromToday(2))).response.status).toBe(201);
  });

  it('refuses a host booking their own listing with 422', async () => {
    const problem = expectProblem(await book(property.host, property.id, fromToday(80), fromToday(83)), 422, 'booking_rule_violated', 'body.property_id');
    expect(problem.detail).toMatch(/own/);
  });

  it('refuses an unknown or withdrawn property with 404', async () => {
    expectProblem(await book(guest, UNKNOWN_ID, fromToday(10), fromToday(12)), 404, 'not_found');
    const withdrawn = await createProperty(server.client);
    await api.deleteProperty({ client: server.client, auth: withdrawn.host.token, path: { property_id: withdrawn.id } });
    expectProblem(await book(guest, withdrawn.id, fromToday(10), fromToday(12)), 404, 'not_found');
    expect(await bookingsOf(withdrawn.id)).toHaveLength(0);
  });

  it('refuses a caller without a token with 401', async () => {
    const result = await api.createBooking({ client: server.client, body: { property_id: property.id, check_in: fromToday(90), check_out: fromToday(92), guests: 1 } });
    expectProblem(result, 401, 'unauthenticated');
  });

  it.each(['status', 'guest_id', 'total', 'price', 'expires_at'])('refuses a client-set %s with 400 and books nothing', async (field) => {
    const result = await api.createBooking({
      client: server.client,
      auth: guest.token,
      body: { property_id: property.id, check_in: fromToday(100), check_out: fromToday(102), guests: 1, [field]: field === 'total' ? 1 : 'x' } as never,
    });
    expectProblem(result, 400, 'validation_failed', `body.${field}`);
    expect((await bookingsOf(property.id)).some((row) => row.check_in === fromToday(100))).toBe(false);
  });

  it('refuses a stay that includes a night the host blocked with 409 dates_unavailable', async () => {
    const listing = await createProperty(server.client);
    await api.updatePropertyAvailability({
      client: server.client,
      auth: listing.host.token,
      path: { property_id: listing.id },
      body: { from: fromToday(32), to: fromToday(33), blocked: true },
    });
    const problem = expectProblem(await book(guest, listing.id, fromToday(30), fromToday(34)), 409, 'dates_unavailable');
    expect(problem.detail).toContain(fromToday(32));
    expect((await book(guest, listing.id, fromToday(30), fromToday(32))).response.status).toBe(201);
    expect((await book(guest, listing.id, fromToday(33), fromToday(35))).response.status).toBe(201);
  });

  describe('a hold that is not paid in time', () => {
    let shortHold: TestServer;
    beforeAll(async () => {
      // Another server process on the same database, with a hold of a few seconds (long enough to be seen
      // holding on a busy machine; each test then waits out the hold's own expires_at) and no sweep running.
      shortHold = await env.start({ bookingHoldSeconds: 3, bookingSweepSeconds: 0 });
    });

    it('expires and frees its nights with no background worker: a new booking of them succeeds', async () => {
      const listing = await createProperty(server.client);
      const other = await createUser(server.client);
      const held = await api.createBooking({
        client: shortHold.client,
        auth: guest.token,
        body: { property_id: listing.id, check_in: fromToday(10), check_out: fromToday(12), guests: 1 },
      });
      expect(held.response.status).toBe(201);
      expectProblem(await book(other, listing.id, fromToday(10), fromToday(12)), 409, 'dates_unavailable');

      await sleepUntil(Date.parse(held.data!.expires_at!));
      const seen = await api.getBooking({ client: server.client, auth: guest.token, path: { booking_id: held.data!.id } });
      expect(seen.data).toMatchObject({ status: 'expired', expires_at: held.data!.expires_at });
      const calendar = await api.getPropertyAvailability({ client: server.client, path: { property_id: listing.id }, query: { from: fromToday(10), to: fromToday(12) } });
      expect(calendar.data!.nights.map((night) => night.status)).toEqual(['free', 'free']);

      const retaken = await book(other, listing.id, fromToday(10), fromToday(12));
      expect(retaken.response.status).toBe(201);
      expect(await bookingRow(held.data!.id)).toMatchObject({ status: 'expired' });
      expect((await heldStays(listing.id)).map((row) => row.id)).toEqual([retaken.data!.id]);
    });

    it('cannot be changed or cancelled once lapsed (422 invalid_state)', async () => {
      const held = await api.createBooking({
        client: shortHold.client,
        auth: guest.token,
        body: { property_id: property.id, check_in: fromToday(110), check_out: fromToday(112), guests: 1 },
      });
      await sleepUntil(Date.parse(held.data!.expires_at!));
      expectProblem(await api.updateBooking({ client: server.client, auth: guest.token, path: { booking_id: held.data!.id }, body: { guests: 2 } }), 422, 'invalid_state');
      expectProblem(await api.cancelBooking({ client: server.client, auth: guest.token, path: { booking_id: held.data!.id } }), 422, 'invalid_state');
    });
  });

  describe('with an Idempotency-Key', () => {
    it('replays the first response to a retry with the same body and books once', async () => {
      const listing = await createProperty(server.client);
      const key = randomUUID();
      const first = await book(guest, listing.id, fromToday(10), fromToday(12), 2, { 'Idempotency-Key': key });
      const retry = await book(guest, listing.id, fromToday(10), fromToday(12), 2, { 'Idempotency-Key': key });

      expect(first.response.status).toBe(201);
      expect(first.response.headers.get('idempotent-replayed')).toBeNull();
      expect(retry.response.status).toBe(201);
      expect(retry.response.headers.get('idempotent-replayed')).toBe('true');
      expect(retry.response.headers.get('location')).toBe(`/bookings/${first.data!.id}`);
      expect(retry.data).toEqual(first.data);
      expect(await bookingsOf(listing.id)).toHaveLength(1);
    });

    it('treats the same fields in another order as the same request', async () => {
      const listing = await createProperty(server.client);
      const key = randomUUID();
      const send = (body: string) =>
        fetch(`${server.url}/bookings`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${guest.token}`, 'Idempotency-Key': key },
          body,
        });
      const first = await send(JSON.stringify({ property_id: listing.id, check_in: fromToday(10), check_out: fromToday(12), guests: 2 }));
      const reordered = await send(JSON.stringify({ guests: 2, check_out: fromToday(12), check_in: fromToday(10), property_id: listing.id }));
      expect(first.status).toBe(201);
      expect(reordered.status).toBe(201);
      expect((await reordered.json()).id).toBe((await first.json()).id);
      expect(await bookingsOf(listing.id)).toHaveLength(1);
    });

    it('refuses the same key with another body with 409 idempotency_key_reused, and changes nothing', async () => {
      const listing = await createProperty(server.client);
      const key = randomUUID();
      await book(guest, listing.id, fromToday(10), fromToday(12), 2, { 'Idempotency-Key': key });
      expectProblem(await book(guest, listing.id, fromToday(20), fromToday(22), 2, { 'Idempotency-Key': key }), 409, 'idempotency_key_reused');
      expect(await bookingsOf(listing.id)).toHaveLength(1);
    });

    it('scopes keys to the signed-in user', async () => {
      const listing = await createProperty(server.client);
      const other = await createUser(server.client);
      const key = randomUUID();
      expect((await book(guest, listing.id, fromToday(10), fromToday(12), 2, { 'Idempotency-Key': key })).response.status).toBe(201);
      expect((await book(other, listing.id, fromToday(12), fromToday(14), 2, { 'Idempotency-Key': key })).response.status).toBe(201);
      expect(await bookingsOf(listing.id)).toHaveLength(2);
    });

    it('does not remember a refused request: the same retry succeeds once the dates are free', async () => {
      const listing = await createProperty(server.client);
      const other = await createUser(server.client);
      const blocker = await createBooking(server.client, { guest: other, property: listing, stay: { check_in: fromToday(10), check_out: fromToday(12) } });
      const key = randomUUID();
      expectProblem(await book(guest, listing.id, fromToday(10), fromToday(12), 2, { 'Idempotency-Key': key }), 409, 'dates_unavailable');
      await api.cancelBooking({ client: server.client, auth: other.token, path: { booking_id: blocker.id } });
      const retry = await book(guest, listing.id, fromToday(10), fromToday(12), 2, { 'Idempotency-Key': key });
      expect(retry.response.status).toBe(201);
      expect(retry.response.headers.get('idempotent-replayed')).toBeNull();
    });

    it('refuses a malformed key with 400', async () => {
      expectProblem(await book(guest, property.id, fromToday(120), fromToday(122), 2, { 'Idempotency-Key': 'has spaces in it' }), 400, 'validation_failed', 'header.idempotency-key');
    });
  });
});

describe('getBooking', () => {
  let booking: Booking & { guest: Account };
  let property: Property & { host: Account };
  beforeAll(async () => {
    property = await createProperty(server.client);
    booking = await createBooking(server.client, { property });
  });

  it('shows the booking to its guest, the listing\'s host and an admin, with an ETag', async () => {
    for (const viewer of [booking.guest, property.host, admin]) {
      const { data, response } = await api.getBooking({ client: server.client, auth: viewer.token, path: { booking_id: booking.id } });
      expect(response.status).toBe(200);
      const { guest: _guest, ...asBooked } = booking;
      expect(data).toEqual(asBooked);
      expect(response.headers.get('etag')).toMatch(/^"[^"]+"$/);
    }
  });

  it('answers 304 to If-None-Match while unchanged, and 200 after a change', async () => {
    const first = await api.getBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id } });
    const etag = first.response.headers.get('etag')!;
    const again = await fetch(`${server.url}/bookings/${booking.id}`, { headers: { Authorization: `Bearer ${booking.guest.token}`, 'If-None-Match': etag } });
    expect(again.status).toBe(304);
    await api.updateBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id }, body: { guests: 3 } });
    const changed = await fetch(`${server.url}/bookings/${booking.id}`, { headers: { Authorization: `Bearer ${booking.guest.token}`, 'If-None-Match': etag } });
    expect(changed.status).toBe(200);
  });

  it('answers 404 to another guest and to another host, as if it did not exist', async () => {
    for (const stranger of [await createUser(server.client), await createHost(server.client)]) {
      const problem = expectProblem(await api.getBooking({ client: server.client, auth: stranger.token, path: { booking_id: booking.id } }), 404, 'not_found');
      expect(JSON.stringify(problem)).not.toContain(booking.guest.id);
    }
  });

  it('answers 404 to an unknown id, 400 to a malformed one and 401 without a token', async () => {
    expectProblem(await api.getBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: UNKNOWN_ID } }), 404, 'not_found');
    expectProblem(await api.getBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: 'not-a-uuid' } }), 400, 'validation_failed', 'path.booking_id');
    expectProblem(await api.getBooking({ client: server.client, path: { booking_id: booking.id } }), 401, 'unauthenticated');
  });

  it('shows a paid stay as completed from its check-out day, without anyone touching it', async () => {
    const guest = await createUser(server.client);
    const id = await insertPastStay(server, { guest, property, checkIn: fromToday(-5), checkOut: fromToday(-2) });
    const { data } = await api.getBooking({ client: server.client, auth: guest.token, path: { booking_id: id } });
    expect(data).toMatchObject({ status: 'completed', expires_at: null });
    // Only the reading changed; the sweep writes it down.
    expect(await bookingRow(id)).toMatchObject({ status: 'confirmed' });
    await sweepBookingStatuses(server.deps.db);
    expect(await bookingRow(id)).toMatchObject({ status: 'completed' });
  });
});

describe('listBookings', () => {
  let host: Account;
  let guest: Account;
  let otherGuest: Account;
  let listing: Property;
  let otherListing: Property;
  const mine: string[] = [];
  beforeAll(async () => {
    host = await createHost(server.client);
    guest = await createUser(server.client);
    otherGuest = await createUser(server.client);
    listing = await createProperty(server.client, host);
    otherListing = await createProperty(server.client);
    for (let i = 0; i < 5; i++) {
      mine.push((await createBooking(server.client, { guest, property: listing, stay: { check_in: fromToday(10 + i * 3), check_out: fromToday(12 + i * 3) } })).id);
    }
    mine.push((await createBooking(server.client, { guest, property: otherListing })).id);
    await createBooking(server.client, { guest: otherGuest, property: listing, stay: { check_in: fromToday(40), check_out: fromToday(42) } });
    await createBooking(server.client, { guest: otherGuest, property: otherListing, stay: { check_in: fromToday(40), check_out: fromToday(42) } });
  });

  it('lists a guest\'s own stays, newest first', async () => {
    const { data } = await api.listBookings({ client: server.client, auth: guest.token, query: { limit: 100 } });
    expect(data!.data.map((b) => b.id)).toEqual([...mine].reverse());
    expect(data!.next_cursor).toBeNull();
  });

  it('lists the stays on the caller\'s listings with role=host, and none of their other stays', async () => {
    const { data } = await api.listBookings({ client: server.client, auth: host.token, query: { role: 'host', limit: 100 } });
    expect(data!.data).toHaveLength(6);
    expect(data!.data.every((b) => b.property_id === listing.id)).toBe(true);
    const asGuest = await api.listBookings({ client: server.client, auth: host.token });
    expect(asGuest.data!.data).toEqual([]);
  });

  it('lists every booking to an admin, whatever the role', async () => {
    const ids = new Set<string>();
    let cursor: string | undefined;
    do {
      const { data } = await api.listBookings({ client: server.client, auth: admin.token, query: { limit: 100, role: 'host', ...(cursor ? { cursor } : {}) } });
      data!.data.forEach((b) => ids.add(b.id));
      cursor = data!.next_cursor ?? undefined;
    } while (cursor);
    const { count } = await server.deps.db.selectFrom('bookings').select((eb) => eb.fn.countAll<string>().as('count')).executeTakeFirstOrThrow();
    expect(ids.size).toBe(Number(count));
    for (const id of mine) expect(ids.has(id)).toBe(true);
  });

  it('walks every page with the cursor, without repeats', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const { data } = await api.listBookings({ client: server.client, auth: guest.token, query: { limit: 2, ...(cursor ? { cursor } : {}) } });
      seen.push(...data!.data.map((b) => b.id));
      cursor = data!.next_cursor ?? undefined;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...mine].reverse());
  });

  it('filters by status, as the client sees it', async () => {
    await api.cancelBooking({ client: server.client, auth: guest.token, path: { booking_id: mine[0]! } });
    await payStay(server, { id: mine[1]!, guest });
    const past = await insertPastStay(server, { guest, property: otherListing, checkIn: fromToday(-9), checkOut: fromToday(-7) });
    const byStatus = async (status: 'pending' | 'confirmed' | 'cancelled' | 'completed') =>
      (await api.listBookings({ client: server.client, auth: guest.token, query: { status, limit: 100 } })).data!.data.map((b) => b.id);
    expect(await byStatus('cancelled')).toEqual([mine[0]]);
    expect(await byStatus('confirmed')).toEqual([mine[1]]);
    expect(await byStatus('completed')).toEqual([past]);
    expect((await byStatus('pending')).sort()).toEqual(mine.slice(2).sort());
  });

  it('refuses a forged cursor and an unknown role with 400, and no token with 401', async () => {
    expectProblem(await api.listBookings({ client: server.client, auth: guest.token, query: { cursor: 'bm90LWEtY3Vyc29y' } }), 400, 'validation_failed', 'query.cursor');
    expectProblem(await api.listBookings({ client: server.client, auth: guest.token, query: { role: 'owner' as never } }), 400, 'validation_failed', 'query.role');
    expectProblem(await api.listBookings({ client: server.client }), 401, 'unauthenticated');
  });
});

describe('updateBooking', () => {
  let guest: Account;
  let property: Property & { host: Account };
  beforeAll(async () => {
    guest = await createUser(server.client);
    property = await createProperty(server.client, undefined, { price_per_night: 10_000, cleaning_fee: 2_000, max_guests: 4, min_nights: 2, max_nights: 10 });
  });

  it('moves the stay and prices it again, keeping the hold', async () => {
    const booking = await createBooking(server.client, { guest, property, stay: { check_in: fromToday(10), check_out: fromToday(12) } });
    const { data, response } = await api.updateBooking({
      client: server.client,
      auth: guest.token,
      path: { booking_id: booking.id },
      body: { check_in: fromToday(11), check_out: fromToday(15), guests: 3 },
    });
    expect(response.status).toBe(200);
    expect(data).toMatchObject({
      check_in: fromToday(11),
      check_out: fromToday(15),
      guests: 3,
      status: 'pending',
      expires_at: booking.expires_at,
      price: { nights: 4, nightly_rate: 10_000, subtotal: 40_000, cleaning_fee: 2_000, service_fee: 4_200, total: 46_200 },
    });
    expect(await bookingRow(booking.id)).toMatchObject({ check_in: fromToday(11), check_out: fromToday(15), guests: 3, total: 46_200 });
  });

  it('prices with the listing\'s current rate', async () => {
    const listing = await createProperty(server.client, undefined, { price_per_night: 10_000, cleaning_fee: 0 });
    const booking = await createBooking(server.client, { guest, property: listing, stay: { check_in: fromToday(10), check_out: fromToday(12) } });
    await api.updateProperty({ client: server.client, auth: listing.host.token, path: { property_id: listing.id }, body: { price_per_night: 20_000 } });
    expect((await api.getBooking({ client: server.client, auth: guest.token, path: { booking_id: booking.id } })).data!.price.total).toBe(22_000);
    const { data } = await api.updateBooking({ client: server.client, auth: guest.token, path: { booking_id: booking.id }, body: { check_out: fromToday(13) } });
    expect(data!.price).toMatchObject({ nights: 3, nightly_rate: 20_000, total: 66_000 });
  });

  it('refuses new dates that overlap another stay with 409, leaving the booking as it was', async () => {
    const other = await createBooking(server.client, { property, stay: { check_in: fromToday(30), check_out: fromToday(33) } });
    const booking = await createBooking(server.client, { guest, property, stay: { check_in: fromToday(26), check_out: fromToday(28) } });
    expectProblem(await api.updateBooking({ client: server.client, auth: guest.token, path: { booking_id: booking.id }, body: { check_out: fromToday(31) } }), 409, 'dates_unavailable');
    expect(await bookingRow(booking.id)).toMatchObject({ check_out: fromToday(28) });
    // Up to the other's check-in is fine.
    expect((await api.updateBooking({ client: server.client, auth: guest.token, path: { booking_id: booking.id }, body: { check_out: fromToday(30) } })).response.status).toBe(200);
    // The other stay is untouched by both attempts.
    expect(await bookingRow(other.id)).toMatchObject({ check_in: fromToday(30), check_out: fromToday(33), status: 'pending' });
  });

  it('refuses the listing\'s rules with 422 and dates out of order with 400', async () => {
    const booking = await createBooking(server.client, { guest, property, stay: { check_in: fromToday(50), check_out: fromToday(52) } });
    expectProblem(await api.updateBooking({ client: server.client, auth: guest.token, path: { booking_id: booking.id }, body: { guests: 5 } }), 422, 'booking_rule_violated', 'body.guests');
    expectProblem(await api.updateBooking({ client: server.client, auth: guest.token, path: { booking_id: booking.id }, body: { check_out: fromToday(51) } }), 422, 'booking_rule_violated', 'body.check_out');
    expectProblem(await api.updateBooking({ client: server.client, auth: guest.token, path: { booking_id: booking.id }, body: { check_in: fromToday(52) } }), 400, 'validation_failed', 'body.check_out');
    expectProblem(await api.updateBooking({ client: server.client, auth: guest.token, path: { booking_id: booking.id }, body: {} }), 400, 'validation_failed');
    expectProblem(await api.updateBooking({ client: server.client, auth: guest.token, path: { booking_id: booking.id }, body: { status: 'confirmed' } as never }), 400, 'validation_failed', 'body.status');
    expect(await bookingRow(booking.id)).toMatchObject({ check_in: fromToday(50), check_out: fromToday(52), guests: 2, status: 'pending' });
  });

  it('refuses a booking that is no longer pending with 422 invalid_state', async () => {
    const booking = await createBooking(server.client, { guest, property, stay: { check_in: fromToday(60), check_out: fromToday(62) } });
    await payStay(server, booking);
    const problem = expectProblem(await api.updateBooking({ client: server.client, auth: guest.token, path: { booking_id: booking.id }, body: { guests: 1 } }), 422, 'invalid_state');
    expect(problem.detail).toContain('confirmed');
  });

  it('lets the host and an admin see but not change it (403), and hides it from others (404)', async () => {
    const booking = await createBooking(server.client, { guest, property, stay: { check_in: fromToday(70), check_out: fromToday(72) } });
    for (const viewer of [property.host, admin]) {
      expectProblem(await api.updateBooking({ client: server.client, auth: viewer.token, path: { booking_id: booking.id }, body: { guests: 1 } }), 403, 'forbidden');
    }
    const stranger = await createUser(server.client);
    expectProblem(await api.updateBooking({ client: server.client, auth: stranger.token, path: { booking_id: booking.id }, body: { guests: 1 } }), 404, 'not_found');
    expect(await bookingRow(booking.id)).toMatchObject({ guests: 2 });
  });
});

describe('cancelBooking', () => {
  /** A paid stay on a listing with `policy`, checking in `daysAhead` days from today. */
  async function paidStay(policy: 'flexible' | 'moderate' | 'strict', daysAhead: number) {
    const property = await createProperty(server.client, undefined, { cancellation_policy: policy, price_per_night: 10_000, cleaning_fee: 3_000, min_nights: 1 });
    const booking = await createBooking(server.client, { property, stay: { check_in: fromToday(daysAhead), check_out: fromToday(daysAhead + 3) } });
    await payStay(server, booking);
    // 3 x 10 000 + 3 000 cleaning = 33 000; service fee 3 300; total 36 300; refundable by policy 33 000.
    expect(booking.price).toMatchObject({ total: 36_300, service_fee: 3_300 });
    return { property, booking };
  }

  it('cancels a pending booking, frees its nights at once and refunds nothing (nothing was paid)', async () => {
    const booking = await createBooking(server.client, { stay: { check_in: fromToday(10), check_out: fromToday(12) } });
    const { data, response } = await api.cancelBooking({
      client: server.client,
      auth: booking.guest.token,
      path: { booking_id: booking.id },
      body: { reason: 'Plans changed.' },
    });
    expect(response.status).toBe(200);
    expect(data).toMatchObject({ status: 'cancelled', cancelled_by: booking.guest.id, cancellation_reason: 'Plans changed.', refund: null, expires_at: null });
    expect(Date.parse(data!.cancelled_at!)).toBeGreaterThan(Date.now() - 60_000);
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'cancelled', cancelled_by: booking.guest.id, refund_amount: null });
    const again = await book(await createUser(server.client), booking.property_id, fromToday(10), fromToday(12));
    expect(again.response.status).toBe(201);
  });

  it('accepts no body at all', async () => {
    const booking = await createBooking(server.client);
    const response = await fetch(`${server.url}/bookings/${booking.id}/cancel`, { method: 'POST', headers: { Authorization: `Bearer ${booking.guest.token}` } });
    expect(response.status).toBe(200);
    expect((await response.json()).cancellation_reason).toBeNull();
  });

  it.each([
    ['flexible', 2, 33_000],
    ['flexible', 0, 0],
    ['moderate', 6, 33_000],
    ['moderate', 3, 16_500],
    ['strict', 8, 16_500],
    ['strict', 6, 0],
  ] as const)('refunds a guest of a %s listing cancelling %i days before check-in %i', async (policy, daysAhead, refund) => {
    const { booking } = await paidStay(policy, daysAhead);
    const { data } = await api.cancelBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id } });
    expect(data!.refund).toEqual({ amount: refund, currency: 'EUR', status: refund === 0 ? 'succeeded' : 'pending' });
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'cancelled', refund_amount: refund });
  });

  it('refunds the whole total, service fee included, when the host or an admin cancels', async () => {
    for (const by of ['host', 'admin'] as const) {
      const { property, booking } = await paidStay('strict', 1);
      const actor = by === 'host' ? property.host : admin;
      const { data } = await api.cancelBooking({ client: server.client, auth: actor.token, path: { booking_id: booking.id } });
      expect(data).toMatchObject({ status: 'cancelled', cancelled_by: actor.id, refund: { amount: 36_300, status: 'pending' } });
    }
  });

  it('refuses a booking that is cancelled, completed or expired with 422 invalid_state', async () => {
    const booking = await createBooking(server.client);
    await api.cancelBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id } });
    expectProblem(await api.cancelBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id } }), 422, 'invalid_state');
    const guest = await createUser(server.client);
    const property = await createProperty(server.client);
    const past = await insertPastStay(server, { guest, property, checkIn: fromToday(-4), checkOut: fromToday(-1) });
    expectProblem(await api.cancelBooking({ client: server.client, auth: guest.token, path: { booking_id: past } }), 422, 'invalid_state');
    expect(await bookingRow(past)).toMatchObject({ status: 'confirmed', cancelled_at: null });
  });

  it('hides another guest\'s booking (404) and refuses no token (401)', async () => {
    const booking = await createBooking(server.client);
    const stranger = await createUser(server.client);
    expectProblem(await api.cancelBooking({ client: server.client, auth: stranger.token, path: { booking_id: booking.id } }), 404, 'not_found');
    expectProblem(await api.cancelBooking({ client: server.client, path: { booking_id: booking.id } }), 401, 'unauthenticated');
    expect(await bookingRow(booking.id)).toMatchObject({ status: 'pending' });
  });
});

describe('the database keeps the no-overlap rule itself', () => {
  async function insertRaw(propertyId: string, guestId: string, checkIn: string, checkOut: string, status: BookingStatus = 'confirmed') {
    const nights = daysBetween(checkIn, checkOut);
    return server.deps.db
      .insertInto('bookings')
      .values({
        property_id: propertyId,
        guest_id: guestId,
        check_in: checkIn,
        check_out: checkOut,
        guests: 1,
        status,
        nights,
        nightly_rate: 100,
        subtotal: nights * 100,
        cleaning_fee: 0,
        service_fee: 0,
        total: nights * 100,
        currency: 'EUR',
        ...(status === 'cancelled' ? { cancelled_at: new Date() } : {}),
      })
      .execute();
  }

  it('refuses an overlapping row written past the API with SQLSTATE 23P01, and accepts back-to-back and cancelled ones', async () => {
    const property = await createProperty(server.client);
    const guest = await createUser(server.client);
    await insertRaw(property.id, guest.id, '2030-01-10', '2030-01-15');
    await expect(insertRaw(property.id, guest.id, '2030-01-14', '2030-01-16')).rejects.toMatchObject({ code: '23P01', constraint: 'bookings_no_overlap' });
    await insertRaw(property.id, guest.id, '2030-01-15', '2030-01-16');
    await insertRaw(property.id, guest.id, '2030-01-11', '2030-01-12', 'cancelled');
    expect(await bookingsOf(property.id)).toHaveLength(3);
  });

  it('refuses a price breakdown that does not add up', async () => {
    const property = await createProperty(server.client);
    const guest = await createUser(server.client);
    await expect(
      server.deps.db
        .insertInto('bookings')
        .values({
          property_id: property.id, guest_id: guest.id, check_in: '2030-02-01', check_out: '2030-02-03', guests: 1, status: 'confirmed',
          nights: 2, nightly_rate: 100, subtotal: 200, cleaning_fee: 0, service_fee: 0, total: 150, currency: 'EUR',
        })
        .execute(),
    ).rejects.toMatchObject({ code: '23514', constraint: 'bookings_price_check' });
  });
});

