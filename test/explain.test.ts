/**
 * Data at scale and the plans of every served query on it (issue 14 #1, #2):
 * the medium seed (20k listings, ~200k stays, ~44k conversations) keeps every
 * constraint and the invariants of threads and wishlists, a rerun is a no-op and
 * another size is refused; `npm run explain`'s check finds no sequential scan of
 * a watched table, and does find one once an index a shape relies on is dropped.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostResponseCounts, listConversationsOf, type HostResponseCounts } from '../db/conversations.js';
import { openDatabase, type Database } from '../db/index.js';
import { migrateToLatest } from '../db/migrate.js';
import { explainServedQueries, WATCHED_TABLES, type PlanReport } from '../scripts/explain.js';
import {
  FULL_WISHLIST_ITEMS, HEAVY_GUEST_WISHLISTS, HEAVY_HOST_ORDINAL, heavyGuestOrdinal, heavyHostQuestion, LONG_THREAD_PROPERTY_ORDINAL,
  SEED_VERSION, seedAtScale, seedId, seedState, SIZES, wishlistOrdinal,
} from '../scripts/seed-scale.js';
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
    expect(seeded.counts.conversations).toBeGreaterThan(40_000);
    expect(seeded.counts.conversation_participants).toBe(seeded.counts.conversations * 2);
    expect(seeded.counts.messages).toBeGreaterThan(seeded.counts.conversations * 2);
    expect(seeded.counts.wishlists).toBeGreaterThan(HEAVY_GUEST_WISHLISTS);
    expect(await count('select count(*)::int as n from bookings')).toBe(seeded.counts.bookings);
    expect(await count('select count(*)::int as n from messages')).toBe(seeded.counts.messages);
    expect(await count('select count(*)::int as n from wishlist_items')).toBe(seeded.counts.wishlist_items);
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
    // The ratings trigger and the conversations' activity trigger are on again.
    expect(await count(`select count(*)::int as n from pg_trigger where tgname = 'reviews_keep_property_ratings' and tgenabled = 'O'`)).toBe(1);
    expect(await count(`select count(*)::int as n from pg_trigger where tgname = 'messages_move_conversation_activity' and tgenabled = 'O'`)).toBe(1);
  });

  it('writes threads as the API would have: the guest first, last activity at the newest message, both participants', async () => {
    // Every thread has messages, and its last activity is its newest message's time (what lists sort
    // by, and what hostResponseCounts relies on); none is in the future.
    expect(
      await count(`select count(*)::int as n from conversations c
        left join (select conversation_id, max(created_at) as newest from messages group by conversation_id) m on m.conversation_id = c.id
        where m.newest is null or c.last_activity_at <> m.newest or c.last_activity_at > now()`),
    ).toBe(0);
    // Every message's thread exists, and its sender is the thread's guest or host.
    expect(
      await count(`select count(*)::int as n from messages m left join conversations c on c.id = m.conversation_id
        where c.id is null or m.sender_id not in (c.guest_id, c.host_id)`),
    ).toBe(0);
    // The first message of each thread is the guest's.
    expect(
      await count(`select count(*)::int as n from conversations c
        where (select sender_id from messages m where m.conversation_id = c.id order by created_at, id limit 1) <> c.guest_id`),
    ).toBe(0);
    // The participants are exactly the guest and the host, each with their role; a read marker is
    // one of the thread's own times, never later than its last activity.
    expect(
      await count(`select count(*)::int as n from conversations c
        where (select array_agg(p.user_id::text || ':' || p.role order by p.role) from conversation_participants p where p.conversation_id = c.id)
          <> array[c.guest_id::text || ':guest', c.host_id::text || ':host']`),
    ).toBe(0);
    expect(
      await count(`select count(*)::int as n from conversation_participants p join conversations c on c.id = p.conversation_id
        where p.last_read_at is not null and (p.last_read_at > c.last_activity_at
          or not exists (select 1 from messages m where m.conversation_id = c.id and m.created_at = p.last_read_at))`),
    ).toBe(0);
    // Some of it is unread, on both sides.
    expect(
      await count(`select count(distinct p.role)::int as n from conversation_participants p join conversations c on c.id = p.conversation_id
        where exists (select 1 from messages m where m.conversation_id = c.id and m.sender_id <> p.user_id
          and (p.last_read_at is null or m.created_at > p.last_read_at))`),
    ).toBe(2);
    // A thread's host is its listing's, and its stay (when linked) is of that guest and listing.
    expect(
      await count(`select count(*)::int as n from conversations c join properties p on p.id = c.property_id
        left join bookings b on b.id = c.booking_id
        where p.host_id <> c.host_id or (c.booking_id is not null and (b.guest_id <> c.guest_id or b.property_id <> c.property_id))`),
    ).toBe(0);
    // The two heavy users have thousands of threads, and the heavy host is on both sides.
    expect(await count(`select count(*)::int as n from conversations where host_id = '${seedId(1, HEAVY_HOST_ORDINAL)}'`)).toBeGreaterThan(1_900);
    expect(await count(`select count(*)::int as n from conversations where guest_id = '${seedId(1, HEAVY_HOST_ORDINAL)}'`)).toBe(200);
    expect(await count(`select count(*)::int as n from conversations where guest_id = '${seedId(1, heavyGuestOrdinal(SIZES.medium))}'`)).toBe(20_000);
    expect(await count(`select count(*)::int as n from messages where conversation_id = '${heavyHostQuestion(LONG_THREAD_PROPERTY_ORDINAL)}'`)).toBe(200);
  });

  it('keeps wishlists within what the API allows', async () => {
    // No owner has more lists than MAX_WISHLISTS' default, no list more listings than MAX_WISHLIST_ITEMS';
    // the heavy guest has them all, the first full.
    expect(await count(`select coalesce(max(n), 0)::int as n from (select count(*) as n from wishlists group by owner_id) o`)).toBe(HEAVY_GUEST_WISHLISTS);
    expect(await count(`select coalesce(max(n), 0)::int as n from (select count(*) as n from wishlist_items group by wishlist_id) o`)).toBe(FULL_WISHLIST_ITEMS);
    expect(
      await count(`select count(*)::int as n from wishlist_items where wishlist_id = '${seedId(8, wishlistOrdinal(heavyGuestOrdinal(SIZES.medium), 0))}'`),
    ).toBe(FULL_WISHLIST_ITEMS);
    // Items were added after their list was made and by its last change.
    expect(
      await count(`select count(*)::int as n from wishlist_items i join wishlists w on w.id = i.wishlist_id
        where i.added_at < w.created_at or i.added_at > w.updated_at or w.updated_at > now()`),
    ).toBe(0);
    expect(await count(`select count(*)::int as n from wishlists where share_token is not null`)).toBeGreaterThan(100);
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

  it('finds no sequential scan of a watched table in any served shape', async () => {
    reports = await explainServedQueries(testDb.url);
    expect(WATCHED_TABLES).toEqual(expect.arrayContaining(['properties', 'bookings', 'reviews', 'conversations', 'messages', 'wishlists', 'wishlist_items']));
    expect(reports.length).toBeGreaterThan(45);
    expect(reports.filter((r) => r.seqScans.length > 0).map((r) => `${r.shape}: ${r.topNode}`)).toEqual([]);
    const byShape = (shape: string) => {
      const report = reports.find((r) => r.shape === shape);
      expect(report, shape).toBeDefined();
      return report!;
    };
    expect(byShape('search near + radius').indexes).toContain('properties_point_idx');
    expect(byShape('search city + price range').indexes).toContain('properties_city_price_idx');
    expect(byShape('sort price_asc, cursor page').indexes).toContain('properties_price_id_idx');
    expect(byShape('search free dates').indexes).toContain('bookings_live_stays_idx');
    expect(byShape('listConversations as host, cursor page').indexes).toContain('conversations_host_activity_idx');
    expect(byShape('listConversations as guest, cursor page').indexes).toContain('conversations_guest_activity_idx');
    for (const shape of ['listConversations, both sides, heavy host', 'listConversations, both sides, heavy guest, cursor page']) {
      expect(byShape(shape).indexes).toEqual(expect.arrayContaining(['conversations_guest_activity_idx', 'conversations_host_activity_idx']));
    }
    expect(byShape('getConversation of a long thread').indexes).toContain('messages_conversation_created_idx');
    expect(byShape('listMessages of a long thread, cursor page').indexes).toContain('messages_conversation_created_idx');
    expect(byShape('host response numbers of the heavy host').indexes).toContain('conversations_host_activity_idx');
    expect(byShape('listWishlists of the heavy guest').topNode).toContain('Index Scan');
    expect(byShape('getWishlist items of a full list').seqScans).toEqual([]);
    expect(byShape('getSharedWishlist').indexes).toContain('wishlists_share_token_key');
  }, 120_000);

  it('fails once an index a shape relies on is dropped, and the drop is rolled back', async () => {
    const without = await explainServedQueries(testDb.url, { withoutIndex: 'properties_rating_idx' });
    const failed = without.filter((r) => r.seqScans.length > 0);
    expect(failed.map((r) => r.shape)).toContain('sort rating');
    expect(failed.every((r) => r.seqScans.includes('properties'))).toBe(true);
    expect(await count(`select count(*)::int as n from pg_indexes where indexname = 'properties_rating_idx'`)).toBe(1);
  }, 120_000);

  it('fails the host\'s conversation shapes once conversations_host_activity_idx is dropped', async () => {
    const without = await explainServedQueries(testDb.url, { withoutIndex: 'conversations_host_activity_idx' });
    const failed = without.filter((r) => r.seqScans.length > 0);
    expect(failed.map((r) => r.shape)).toEqual(
      expect.arrayContaining(['listConversations as host', 'listConversations, both sides, heavy host', 'host response numbers of the heavy host']),
    );
    expect(failed.every((r) => r.seqScans.includes('conversations'))).toBe(true);
    expect(await count(`select count(*)::int as n from pg_indexes where indexname = 'conversations_host_activity_idx'`)).toBe(1);
  }, 120_000);
});
