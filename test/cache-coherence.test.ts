/**
 * The read cache across processes: two servers on one database and one Redis, both
 * caching. Every read here goes to server B after B has cached the answer (the second
 * read is a hit, checked on B's metrics); every write goes to server A; B's very next
 * read must show the write. Also: what the cache stores is the public shape only,
 * the caching headers, 304 from the cache, and one rebuild for 50 concurrent misses.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { useTestApp } from './support/app.js';
import {
  createAdmin,
  createBooking,
  createProperty,
  createReview,
  createUser,
  expectData,
  fromToday,
  type Account,
} from './support/factories.js';
import { redisUrl, sleepUntil, type TestServer } from './support/server.js';

const { env, server: a } = useTestApp({ config: { cache: true } });
let b: TestServer;
let redis: Redis;

beforeAll(async () => {
  b = await env.start({ cache: true });
  redis = new Redis(redisUrl, { keyPrefix: env.redisKeyPrefix });
});

afterAll(() => {
  redis?.disconnect();
});

type Counter = 'hits' | 'misses' | 'rebuilds';

/** staybook_cache_<counter>_total of one operation on one server. */
async function cacheCount(server: TestServer, counter: Counter, operation: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`staybook_cache_${counter}_total{operation="${operation}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

async function get(server: TestServer, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}${path}`, { headers });
  const body = response.status === 200 ? ((await response.json()) as Record<string, unknown>) : undefined;
  return { status: response.status, headers: response.headers, body };
}

/**
 * Reads `path` from B twice and checks that the second read was a hit, so that
 * what follows is proven against a warm cache, not a first read.
 */
async function warm(operation: string, path: string) {
  await get(b, path);
  const hits = await cacheCount(b, 'hits', operation);
  const second = await get(b, path);
  expect(second.status).toBe(200);
  expect(await cacheCount(b, 'hits', operation)).toBe(hits + 1);
  return second.body as Record<string, unknown>;
}

const nightsOf = (body: Record<string, unknown> | undefined) =>
  Object.fromEntries((body?.nights as { date: string; status: string }[]).map((night) => [night.date, night.status]));
const idsOf = (body: Record<string, unknown> | undefined) => (body?.data as { id: string }[]).map((item) => item.id);

describe('a write on one process is seen through the cache of another at once', () => {
  it('getProperty: an update, then a withdrawal', async () => {
    const property = await createProperty(a.client);
    const path = `/properties/${property.id}`;
    expect((await warm('getProperty', path)).name).toBe(property.name);

    expectData('updateProperty', await api.updateProperty({ client: a.client, auth: property.host.token, path: { property_id: property.id }, body: { name: 'Renamed loft' } }));
    expect((await get(b, path)).body?.name).toBe('Renamed loft');

    await warm('getProperty', path);
    const deleted = await api.deleteProperty({ client: a.client, auth: property.host.token, path: { property_id: property.id } });
    expect(deleted.response.status).toBe(204);
    expect((await get(b, path)).status).toBe(404);
  });

  it('listProperties: a new listing, a new price, a withdrawal', async () => {
    const city = `Cachetown-${Date.now()}`;
    const path = `/properties?city=${city}&sort=price_asc`;
    const first = await createProperty(a.client, undefined, { city, price_per_night: 10000 });
    expect(idsOf(await warm('listProperties', path))).toEqual([first.id]);

    const second = await createProperty(a.client, undefined, { city, price_per_night: 20000 });
    expect(idsOf((await get(b, path)).body)).toEqual([first.id, second.id]);

    await warm('listProperties', path);
    expectData('updateProperty', await api.updateProperty({ client: a.client, auth: second.host.token, path: { property_id: second.id }, body: { price_per_night: 5000 } }));
    expect(idsOf((await get(b, path)).body)).toEqual([second.id, first.id]);

    await warm('listProperties', path);
    await api.deleteProperty({ client: a.client, auth: first.host.token, path: { property_id: first.id } });
    expect(idsOf((await get(b, path)).body)).toEqual([second.id]);
  });

  it('getPropertyAvailability and a free-dates search: a booking, its cancellation, blocked nights', async () => {
    const city = `Staytown-${Date.now()}`;
    const property = await createProperty(a.client, undefined, { city });
    const [checkIn, checkOut] = [fromToday(40), fromToday(43)];
    const calendar = `/properties/${property.id}/availability?from=${checkIn}&to=${checkOut}`;
    const search = `/properties?city=${city}&check_in=${checkIn}&check_out=${checkOut}`;
    expect(Object.values(nightsOf(await warm('getPropertyAvailability', calendar)))).toEqual(['free', 'free', 'free']);
    expect(idsOf(await warm('listProperties', search))).toEqual([property.id]);

    const booking = await createBooking(a.client, { property, stay: { check_in: checkIn, check_out: checkOut } });
    expect(Object.values(nightsOf((await get(b, calendar)).body))).toEqual(['booked', 'booked', 'booked']);
    expect(idsOf((await get(b, search)).body)).toEqual([]);

    await warm('getPropertyAvailability', calendar);
    await warm('listProperties', search);
    expectData('cancelBooking', await api.cancelBooking({ client: a.client, auth: booking.guest.token, path: { booking_id: booking.id }, body: {} }));
    expect(Object.values(nightsOf((await get(b, calendar)).body))).toEqual(['free', 'free', 'free']);
    expect(idsOf((await get(b, search)).body)).toEqual([property.id]);

    await warm('getPropertyAvailability', calendar);
    await warm('listProperties', search);
    expectData('updatePropertyAvailability', await api.updatePropertyAvailability({
      client: a.client,
      auth: property.host.token,
      path: { property_id: property.id },
      body: { from: checkIn, to: fromToday(41), blocked: true },
    }));
    expect(nightsOf((await get(b, calendar)).body)[checkIn]).toBe('blocked');
    expect(idsOf((await get(b, search)).body)).toEqual([]);
  });

  it('listReviews and the rating: a new review, an edit, a renamed author, a deletion', async () => {
    const property = await createProperty(a.client);
    const reviews = `/reviews?property_id=${property.id}`;
    const listing = `/properties/${property.id}`;
    expect(idsOf(await warm('listReviews', reviews))).toEqual([]);
    expect((await warm('getProperty', listing)).review_count).toBe(0);

    const review = await createReview(a, { property, rating: 2 });
    expect(idsOf((await get(b, reviews)).body)).toEqual([review.id]);
    expect((await get(b, listing)).body).toMatchObject({ review_count: 1, rating_average: 2 });

    const byAuthor = `/reviews?author_id=${review.guest.id}`;
    await warm('listReviews', reviews);
    await warm('listReviews', byAuthor);
    await warm('getProperty', listing);
    expectData('updateReview', await api.updateReview({ client: a.client, auth: review.guest.token, path: { review_id: review.id }, body: { rating: 5 } }));
    expect((await get(b, reviews)).body?.data).toMatchObject([{ rating: 5 }]);
    expect((await get(b, byAuthor)).body?.data).toMatchObject([{ rating: 5 }]);
    expect((await get(b, listing)).body).toMatchObject({ rating_average: 5 });

    await warm('listReviews', reviews);
    expectData('updateUser', await api.updateUser({ client: a.client, auth: review.guest.token, path: { user_id: review.guest.id }, body: { name: 'Renamed Reviewer' } }));
    expect((await get(b, reviews)).body?.data).toMatchObject([{ author_name: 'Renamed Reviewer' }]);

    await warm('listReviews', reviews);
    await warm('getProperty', listing);
    const deleted = await api.deleteReview({ client: a.client, auth: review.guest.token, path: { review_id: review.id } });
    expect(deleted.response.status).toBe(204);
    expect(idsOf((await get(b, reviews)).body)).toEqual([]);
    expect((await get(b, listing)).body).toMatchObject({ review_count: 0, rating_average: null });
  });

  it('getUser: a profile change, then the account deleted with its listing', async () => {
    const host = await createUser(a.client, { role: 'host', name: 'Old Name' });
    const property = await createProperty(a.client, host);
    const profile = `/users/${host.id}`;
    expect((await warm('getUser', profile)).name).toBe('Old Name');
    await warm('getProperty', `/properties/${property.id}`);

    expectData('updateUser', await api.updateUser({ client: a.client, auth: host.token, path: { user_id: host.id }, body: { name: 'New Name', bio: 'Hosting since today.' } }));
    expect((await get(b, profile)).body).toMatchObject({ name: 'New Name', bio: 'Hosting since today.' });

    await warm('getUser', profile);
    const deleted = await api.deleteUser({ client: a.client, auth: host.token, path: { user_id: host.id } });
    expect(deleted.response.status).toBe(204);
    expect((await get(b, profile)).status).toBe(404);
    expect((await get(b, `/properties/${property.id}`)).status).toBe(404);
  });
});

describe('no private field reaches a cached public answer', () => {
  let user: Account;
  beforeAll(async () => {
    user = await createUser(a.client, { name: 'Private Person', phone: '+351912345678' });
  });

  it('the user themself and an admin read first: they see email and phone, the public after them does not', async () => {
    const path = `/users/${user.id}`;
    const admin = await createAdmin(a);
    for (const viewer of [user.token, admin.token]) {
      const own = await get(b, path, { Authorization: `Bearer ${viewer}` });
      expect(own.body).toMatchObject({ email: user.email, phone: '+351912345678' });
      expect(own.headers.get('cache-control')).toBe('no-store');
    }
    const stranger = await createUser(a.client);
    for (const headers of [{}, { Authorization: `Bearer ${stranger.token}` }, {}] as Record<string, string>[]) {
      const seen = await get(b, path, headers);
      expect(seen.status).toBe(200);
      expect(seen.body).not.toHaveProperty('email');
      expect(seen.body).not.toHaveProperty('phone');
    }
    // And nothing stored anywhere in the cache holds them.
    const stored = await cacheEntries();
    expect(stored.length).toBeGreaterThan(0);
    for (const value of stored) {
      expect(value).not.toContain(user.email);
      expect(value).not.toContain('912345678');
    }
  });

  async function cacheEntries(): Promise<string[]> {
    // SCAN takes the pattern as is (ioredis prefixes keys, not patterns).
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${env.redisKeyPrefix}cache:e:*`, 'COUNT', 1000);
      keys.push(...found.map((key) => key.slice(env.redisKeyPrefix.length)));
      cursor = next;
    } while (cursor !== '0');
    return (await Promise.all(keys.map((key) => redis.get(key)))).filter((value): value is string => value !== null);
  }
});

describe('caching headers and ETag from the cache', () => {
  it('public for anonymous callers, private for signed-in ones, Vary: Authorization on both', async () => {
    const property = await createProperty(a.client);
    const anonymous = await get(b, `/properties/${property.id}`);
    expect(anonymous.headers.get('cache-control')).toBe('public, max-age=30');
    expect(anonymous.headers.get('vary')).toContain('Authorization');
    const signedIn = await get(b, `/properties/${property.id}`, { Authorization: `Bearer ${property.host.token}` });
    expect(signedIn.headers.get('cache-control')).toBe('private, no-cache');
    expect(signedIn.headers.get('vary')).toContain('Authorization');
    // One entry serves both: the body (and so its ETag) does not depend on the caller.
    expect(signedIn.headers.get('etag')).toBe(anonymous.headers.get('etag'));
  });

  it('adds Authorization to the Vary that CORS begins with Origin', async () => {
    const cors = await env.start({ cache: true, corsOrigins: ['https://app.example.test'] });
    const property = await createProperty(a.client);
    const read = await get(cors, `/properties/${property.id}`, { Origin: 'https://app.example.test' });
    expect(read.headers.get('vary')?.split(/,\s*/).sort()).toEqual(['Authorization', 'Origin']);
  });

  it('answers If-None-Match with 304 from the cache, without a rebuild, on every cached operation', async () => {
    const property = await createProperty(a.client);
    const paths: [string, string][] = [
      ['getProperty', `/properties/${property.id}`],
      ['listProperties', `/properties?city=Lisbon&limit=5`],
      ['getPropertyAvailability', `/properties/${property.id}/availability?from=${fromToday(1)}&to=${fromToday(8)}`],
      ['listReviews', `/reviews?property_id=${property.id}`],
      ['getUser', `/users/${property.host.id}`],
    ];
    for (const [operation, path] of paths) {
      const first = await get(b, path);
      const etag = first.headers.get('etag');
      expect(etag, operation).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
      const [hits, rebuilds] = [await cacheCount(b, 'hits', operation), await cacheCount(b, 'rebuilds', operation)];
      const again = await fetch(`${b.url}${path}`, { headers: { 'If-None-Match': etag as string } });
      expect(again.status, operation).toBe(304);
      expect(again.headers.get('etag')).toBe(etag);
      expect(again.headers.get('cache-control')).toBe('public, max-age=30');
      expect(await cacheCount(b, 'hits', operation)).toBe(hits + 1);
      expect(await cacheCount(b, 'rebuilds', operation)).toBe(rebuilds);
    }
  });

  it('keeps the ETag of an uncached answer: the same body gives the same tag with the cache or without it', async () => {
    const property = await createProperty(a.client);
    const uncached = await env.start({ cache: false });
    const path = `/properties/${property.id}`;
    expect((await get(uncached, path)).headers.get('etag')).toBe((await get(b, path)).headers.get('etag'));
  });
});

describe('stampede protection', () => {
  it('50 concurrent misses of one entry over two processes make one rebuild', async () => {
    const property = await createProperty(a.client);
    const before = (await cacheCount(a, 'rebuilds', 'getProperty')) + (await cacheCount(b, 'rebuilds', 'getProperty'));
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => get(i % 2 === 0 ? a : b, `/properties/${property.id}`)),
    );
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(new Set(results.map((r) => r.headers.get('etag'))).size).toBe(1);
    const after = (await cacheCount(a, 'rebuilds', 'getProperty')) + (await cacheCount(b, 'rebuilds', 'getProperty'));
    expect(after - before).toBe(1);
  });
});

describe('a hold that lapses, which no write announces', () => {
  it('ends the cached calendar that showed it: the next read after its expires_at shows the nights free', async () => {
    const quick = await env.start({ cache: true, bookingHoldSeconds: 1 });
    const property = await createProperty(quick.client);
    const [checkIn, checkOut] = [fromToday(50), fromToday(52)];
    const booking = await createBooking(quick.client, { property, stay: { check_in: checkIn, check_out: checkOut } });
    const calendar = `/properties/${property.id}/availability?from=${checkIn}&to=${checkOut}`;
    expect(Object.values(nightsOf((await get(quick, calendar)).body))).toEqual(['booked', 'booked']);
    const hits = await cacheCount(quick, 'hits', 'getPropertyAvailability');
    expect(Object.values(nightsOf((await get(quick, calendar)).body))).toEqual(['booked', 'booked']);
    expect(await cacheCount(quick, 'hits', 'getPropertyAvailability')).toBe(hits + 1);

    await sleepUntil(Date.parse(booking.expires_at as string));
    expect(Object.values(nightsOf((await get(quick, calendar)).body))).toEqual(['free', 'free']);
  });
});
