/**
 * The embedded default a newcomer meets with `npm start`: no PostgreSQL, no Redis,
 * a PGlite database in a data folder, seeded with the demo data on its first start
 * and never again; and demo data never written into a database that did not ask.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { loadConfig, type Config } from '../server/config.js';
import { addDays, utcToday } from '../server/dates.js';
import { startServer } from '../server/server.js';
import { clientFor } from './support/server.js';
import { createTestDatabase } from './support/postgres.js';

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'staybook-embedded-'));
});
afterAll(() => rm(folder, { recursive: true, force: true }));

/** The configuration `npm start` gets from an empty environment, on a free port. */
function embeddedConfig(dataDir: string, overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), port: 0, dataDir, logRequests: false, ...overrides };
}

async function countRows(server: Awaited<ReturnType<typeof startServer>>, table: 'users' | 'properties') {
  const row = await server.deps.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('the embedded default (npm start)', () => {
  it('seeds the demo data on its first start, with sessions in the database and no Redis', async () => {
    const server = await startServer(embeddedConfig(path.join(folder, 'first')));
    try {
      expect(server.seeded).toBe(true);
      expect(server.deps.sessions.kind).toBe('database');
      const client = clientFor(server.url);
      for (const email of ['host@example.com', 'guest@example.com', 'admin@example.com']) {
        const { data, response } = await api.login({ client, body: { email, password: 'demo-password' } });
        expect(response.status, email).toBe(200);
        expect(data?.user.email).toBe(email);
      }
      const listings = await api.listProperties({ client, query: { limit: 100 } });
      const cities = new Set(listings.data?.data.map((p) => p.city));
      expect(cities.size).toBeGreaterThanOrEqual(5);
      const ready = await fetch(`${server.url}/readyz`).then((r) => r.json());
      expect(ready).toEqual({
        status: 'ok',
        checks: { database: 'ok' },
        sessions: 'database',
        payments: { provider: 'local' },
        jobs: { runner: 'in-process', waiting: 0, failed: 0 },
      });
    } finally {
      await server.close();
    }
  });

  it('seeds stays: the demo guest has upcoming and past stays, hosts see stays on their listings, a listing has blocked nights', async () => {
    const server = await startServer(embeddedConfig(path.join(folder, 'stays')));
    try {
      const client = clientFor(server.url);
      const signIn = async (email: string) => (await api.login({ client, body: { email, password: 'demo-password' } })).data!.access_token;
      const today = utcToday();

      const { data: mine } = await api.listBookings({ client, auth: await signIn('guest@example.com'), query: { limit: 100 } });
      const stays = mine?.data ?? [];
      const upcomingConfirmed = stays.filter((b) => b.status === 'confirmed' && b.check_in > today);
      const pending = stays.filter((b) => b.status === 'pending');
      const completed = stays.filter((b) => b.status === 'completed');
      // Upcoming paid stays under more than one policy, so cancelling shows different refunds.
      expect(upcomingConfirmed.length).toBeGreaterThanOrEqual(2);
      expect(pending).toHaveLength(1);
      expect(pending[0]?.expires_at && Date.parse(pending[0].expires_at)).toBeGreaterThan(Date.now());
      // Past stays on several listings: what the reviews issue lets the demo guest review.
      expect(completed.length).toBeGreaterThanOrEqual(2);
      expect(completed.every((b) => b.check_out <= today)).toBe(true);
      expect(new Set(completed.map((b) => b.property_id)).size).toBe(completed.length);
      // Every price as the API itself would have made it.
      for (const b of stays) {
        expect(b.price.subtotal).toBe(b.price.nights * b.price.nightly_rate);
        expect(b.price.service_fee).toBe(Math.floor(((b.price.subtotal + b.price.cleaning_fee) * 1000 + 5000) / 10_000));
        expect(b.price.total).toBe(b.price.subtotal + b.price.cleaning_fee + b.price.service_fee);
      }

      // Other demo users travel too: the host's listings have stays by more than one guest.
      const { data: hosted } = await api.listBookings({ client, auth: await signIn('host@example.com'), query: { role: 'host', limit: 100 } });
      expect(new Set(hosted?.data.map((b) => b.guest_id)).size).toBeGreaterThanOrEqual(2);

      // The host's blocked nights read as blocked in the listing's calendar.
      const blocked = await server.deps.db.selectFrom('blocked_nights').select(['property_id', 'night']).orderBy('night').execute();
      expect(blocked.length).toBeGreaterThanOrEqual(2);
      const listingId = blocked[0]!.property_id;
      const nights = blocked.filter((row) => row.property_id === listingId).map((row) => row.night);
      const calendar = await api.getPropertyAvailability({ client, path: { property_id: listingId }, query: { from: nights[0]!, to: addDays(nights.at(-1)!, 1) } });
      expect(calendar.data?.nights.filter((night) => nights.includes(night.date)).map((night) => night.status)).toEqual(nights.map(() => 'blocked'));
    } finally {
      await server.close();
    }
  });

  it('seeds reviews: listings carry other guests\' reviews and hosts\' replies, their aggregates agree, and the demo guest has stays left to review', async () => {
    const server = await startServer(embeddedConfig(path.join(folder, 'reviews')));
    try {
      const client = clientFor(server.url);
      const signIn = async (email: string) => (await api.login({ client, body: { email, password: 'demo-password' } })).data!;
      const listings = (await api.listProperties({ client, query: { limit: 100 } })).data!.data;
      let reviewed = 0;
      let replies = 0;
      for (const listing of listings) {
        const reviews = (await api.listReviews({ client, query: { property_id: listing.id, limit: 100 } })).data!.data;
        const sum = reviews.reduce((total, review) => total + review.rating, 0);
        expect(listing.review_count, listing.name).toBe(reviews.length);
        expect(listing.rating_average, listing.name).toBe(reviews.length === 0 ? null : Math.round((sum * 100) / reviews.length) / 100);
        if (reviews.length > 0) reviewed += 1;
        replies += reviews.filter((review) => review.host_reply !== null).length;
      }
      expect(reviewed).toBeGreaterThanOrEqual(5);
      expect(replies).toBeGreaterThanOrEqual(3);

      // The demo guest has written nothing yet, and finished stays within the 14-day window wait for a review,
      // at least two of them on host@example.com's listings.
      const guest = await signIn('guest@example.com');
      const hana = await signIn('host@example.com');
      expect((await api.listReviews({ client, query: { author_id: guest.user.id } })).data!.data).toEqual([]);
      const completed = (await api.listBookings({ client, auth: guest.access_token, query: { status: 'completed', limit: 100 } })).data!.data;
      const open = completed.filter((b) => b.check_out >= addDays(utcToday(), -14));
      expect(open.length).toBeGreaterThanOrEqual(3);
      const hosts = new Map(listings.map((listing) => [listing.id, listing.host_id]));
      expect(open.filter((b) => hosts.get(b.property_id) === hana.user.id).length).toBeGreaterThanOrEqual(2);
      expect(completed.some((b) => b.check_out < addDays(utcToday(), -14))).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('keeps its data across restarts and does not seed twice', async () => {
    const dataDir = path.join(folder, 'restart');
    const first = await startServer(embeddedConfig(dataDir));
    const token = (await api.login({ client: clientFor(first.url), body: { email: 'guest@example.com', password: 'demo-password' } })).data!.access_token;
    const counts = { users: await countRows(first, 'users'), properties: await countRows(first, 'properties') };
    await first.close();

    const second = await startServer(embeddedConfig(dataDir));
    try {
      expect(second.seeded).toBe(false);
      expect({ users: await countRows(second, 'users'), properties: await countRows(second, 'properties') }).toEqual(counts);
      // The session made before the restart is still valid: it lives in the database.
      const me = await api.getCurrentUser({ client: clientFor(second.url), auth: token });
      expect(me.data?.email).toBe('guest@example.com');
    } finally {
      await second.close();
    }
  });

  it('does not seed when SEED_DEMO_DATA is off', async () => {
    const server = await startServer(embeddedConfig(path.join(folder, 'unseeded'), { seedOnFirstStart: loadConfig({ SEED_DEMO_DATA: 'false' }).seedOnFirstStart }));
    try {
      expect(server.seeded).toBe(false);
      expect(await countRows(server, 'users')).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('never seeds a PostgreSQL database, even a new and empty one', async () => {
    const database = await createTestDatabase();
    const server = await startServer(embeddedConfig('memory://', { databaseUrl: database.url }));
    try {
      expect(server.seeded).toBe(false);
      expect(await countRows(server, 'users')).toBe(0);
      expect(await countRows(server, 'properties')).toBe(0);
    } finally {
      await server.close();
      await database.drop();
    }
  });
});
