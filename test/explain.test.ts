/**
 * Data at scale and the plans of every served query on it (issue 14 #1, #2):
 * the medium seed (20k listings, ~200k stays) keeps every constraint, a rerun is
 * a no-op and another size is refused; `npm run explain`'s check finds no
 * sequential scan of properties, bookings or reviews, and does find one once an
 * index a shape relies on is dropped.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostResponseCounts, listConversationsOf, type HostResponseCounts } from '../db/conversations.js';
import { openDatabase, type Database } from '../db/index.js';
import { migrateToLatest } from '../db/migrate.js';
import { explainServedQueries, type PlanReport } from '../scripts/explain.js';
import { HEAVY_HOST_ORDINAL, SEED_VERSION, seedAtScale, seedId, seedState } from '../scripts/seed-scale.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';

const run = promisify(execFile);
let testDb: TestDatabase;
let database: Database;
let seeded: Awaited<ReturnType<typeof seedAtScale>>;

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await openDatabase({ databaseUrl: testDb.url });
  await migrateToLatest(database.db);
  // Any string will do as the shared hash here: these tests never sign in.
  seeded = await seedAtScale(database.db, 'medium', { passwordHash: 'not-a-hash', serviceFeeBasisPoints: 1000, bookingHoldSeconds: 900 });
}, 600_000);

afterAll(async () => {
  await database?.close();
  await testDb?.drop();
});

const count = async (query: string) => Number((await sql.raw<{ n: number }>(query).execute(database.db)).rows[0]!.n);

describe('db:seed --size medium', () => {
  it('inserts the generated data it reports, and marks the database with its size and version', async () => {
    expect(seeded.counts.properties).toBe(20_000);
    expect(seeded.counts.users).toBe(2_000);
    expect(seeded.counts.bookings).toBeGreaterThan(200_000);
    expect(seeded.counts.reviews).toBeGreaterThan(50_000);
    expect(await count('select count(*)::int as n from bookings')).toBe(seeded.counts.bookings);
    expect(await seedState(database.db, [])).toEqual({ kind: 'seeded', size: 'medium', version: SEED_VERSION });
  });

  it('keeps the invariants the API relies on', async () => {
    // No two live stays of a listing overlap (the exclusion constraint held; this says it was not disabled).
    expect(
      await count(`select count(*)::int as n from bookings a join bookings b on a.property_id = b.property_id and a.id < b.id
        and daterange(a.check_in, a.check_out) && daterange(b.check_in, b.check_out)
        where a.status in ('pending', 'confirmed') and b.status in ('pending', 'confirmed')`),
    ).toBe(0);
    // Each listing's aggregates equal its live reviews, as the ratings trigger would have kept them.
    expect(
      await count(`select count(*)::int as n from properties p left join (
          select property_id, sum(rating)::int s, count(*)::int c from reviews where deleted_at is null group by property_id) r
        on r.property_id = p.id where p.rating_sum <> coalesce(r.s, 0) or p.review_count <> coalesce(r.c, 0)`),
    ).toBe(0);
    // Reviews are of completed stays only; payments of paid ones only, for their total.
    expect(await count(`select count(*)::int as n from reviews r join bookings b on b.id = r.booking_id where b.status <> 'completed'`)).toBe(0);
    expect(
      await count(`select count(*)::int as n from payments p join bookings b on b.id = p.booking_id
        where b.status not in ('confirmed', 'completed') or p.amount <> b.total`),
    ).toBe(0);
    // The ratings trigger is on again.
    expect(await count(`select count(*)::int as n from pg_trigger where tgname = 'reviews_keep_property_ratings' and tgenabled = 'O'`)).toBe(1);
  });

  it('copies a stay\'s host from its listing and refuses a host that is not the listing\'s', async () => {
    const insert = (hostId: string | null, property = 5) =>
      sql`insert into bookings (property_id, host_id, guest_id, check_in, check_out, guests, status, nights, nightly_rate, subtotal,
            cleaning_fee, service_fee, total, currency, confirmed_at)
          select id, ${hostId}::uuid, ${seedId(1, 1500)}::uuid, '2031-01-01', '2031-01-03', 1, 'confirmed', 2, price_per_night,
            2 * price_per_night, 0, 0, 2 * price_per_night, currency, now()
          from properties where id = ${seedId(2, property)}::uuid returning host_id`.execute(database.db);
    // As the API inserts a stay: without host_id, and the trigger fills it in.
    const made = await insert(null);
    expect(made.rows).toEqual([{ host_id: seedId(1, 1 + (5 % 199)) }]);
    // A wrong host is refused by the foreign key to properties (host_id, id): listing 6 is user 7's.
    await expect(insert(seedId(1, 8), 6)).rejects.toMatchObject({ code: '23503' });
  });

  it('does nothing when run again with the same size, and refuses another size without --force', async () => {
    const seed = (size: string) =>
      run(process.execPath, ['--import', 'tsx', 'scripts/seed.ts', '--size', size], { env: { ...process.env, DATABASE_URL: testDb.url } }).then(
        (out) => ({ code: 0, out: out.stdout + out.stderr }),
        (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, out: error.stdout + error.stderr }),
      );
    const again = await seed('medium');
    expect(again).toMatchObject({ code: 0, out: expect.stringContaining('already seeded at size medium') });
    const other = await seed('large');
    expect(other).toMatchObject({ code: 1, out: expect.stringContaining('refusing to seed large') });
    expect(await count('select count(*)::int as n from properties')).toBe(seeded.counts.properties);
  }, 60_000);
});

describe('listConversationsOf on the medium seed', () => {
  it('pages through both sides of a user\'s threads exactly as `guest_id = me or host_id = me` orders them', async () => {
    // The heavy host answers ~2k threads and asked about 200 listings as a guest, interleaved in time.
    const me = seedId(1, HEAVY_HOST_ORDINAL);
    const { rows: expected } = await sql<{ id: string }>`
      select id from conversations where guest_id = ${me} or host_id = ${me} order by last_activity_at desc, id desc
    `.execute(database.db);
    expect(expected.length).toBeGreaterThan(2_000);
    const seen: string[] = [];
    let after: { activityAt: string; id: string } | undefined;
    for (;;) {
      const rows = await listConversationsOf(database.db, { userId: me, limit: 50, after });
      seen.push(...rows.slice(0, 50).map((row) => row.id));
      if (rows.length <= 50) break;
      const last = rows[49]!;
      after = { activityAt: last.last_activity_at.toISOString(), id: last.id };
    }
    expect(seen).toEqual(expected.map((row) => row.id));
  });
});

describe('hostResponseCounts on the medium seed', () => {
  it('gives every host the numbers it gave before it kept to threads active in the window', async () => {
    // now() is the transaction's: both read the same window.
    await database.db.transaction().execute(async (trx) => {
      const { rows: hosts } = await sql<{ id: string }>`select id::text from users where role = 'host' and email like '%@seed.staybook.test'`.execute(trx);
      // The query as it was: every thread of each host, its first messages read by subqueries.
      const { rows: expected } = await sql<HostResponseCounts>`
        with firsts as (
          select c.host_id,
            (select min(m.created_at) from messages m where m.conversation_id = c.id and m.sender_id = c.guest_id) as asked_at,
            (select min(m.created_at) from messages m where m.conversation_id = c.id and m.sender_id = c.host_id) as answered_at
          from conversations c where c.host_id = any(${hosts.map((h) => h.id)}::uuid[])
        )
        select host_id::text as host_id, count(*)::int as conversations, count(answered_at)::int as answered,
          percentile_cont(0.5) within group (order by extract(epoch from answered_at - asked_at)) as median_seconds
        from firsts
        where asked_at >= now() - make_interval(days => 90) and (answered_at is null or answered_at > asked_at)
        group by host_id order by host_id
      `.execute(trx);
      expect(expected.length).toBeGreaterThan(150);
      const counts = await hostResponseCounts(trx, hosts.map((h) => h.id), 90);
      const byHost = (a: HostResponseCounts, b: HostResponseCounts) => a.host_id.localeCompare(b.host_id);
      expect(counts.sort(byHost)).toEqual(expected.map((row) => ({ ...row, median_seconds: row.median_seconds === null ? null : Number(row.median_seconds) })).sort(byHost));
    });
  });
});

describe('npm run explain', () => {
  let reports: PlanReport[];

  it('finds no sequential scan of properties, bookings or reviews in any served shape', async () => {
    reports = await explainServedQueries(testDb.url);
    expect(reports.length).toBeGreaterThan(30);
    expect(reports.filter((r) => r.seqScans.length > 0).map((r) => `${r.shape}: ${r.topNode}`)).toEqual([]);
    const byShape = (shape: string) => reports.find((r) => r.shape === shape)!;
    expect(byShape('search near + radius').indexes).toContain('properties_point_idx');
    expect(byShape('search city + price range').indexes).toContain('properties_city_price_idx');
    expect(byShape('sort price_asc, cursor page').indexes).toContain('properties_price_id_idx');
    expect(byShape('search free dates').indexes).toContain('bookings_live_stays_idx');
  }, 120_000);

  it('fails once an index a shape relies on is dropped, and the drop is rolled back', async () => {
    const without = await explainServedQueries(testDb.url, { withoutIndex: 'properties_rating_idx' });
    const failed = without.filter((r) => r.seqScans.length > 0);
    expect(failed.map((r) => r.shape)).toContain('sort rating');
    expect(failed.every((r) => r.seqScans.includes('properties'))).toBe(true);
    expect(await count(`select count(*)::int as n from pg_indexes where indexname = 'properties_rating_idx'`)).toBe(1);
  }, 120_000);
});
