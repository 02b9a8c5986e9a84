/**
 * npm run explain [-- --without-index NAME] [--json FILE]
 *
 * Proves every served query shape on the data in DATABASE_URL (seed it with
 * `npm run db:seed -- --size large`): each shape is built by the real query
 * function of db/*.ts (searchProperties, listBookings, listReviews, the
 * availability queries, conversations and their messages, hosts' response
 * numbers, wishlists) with representative parameters, and run as
 * `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` instead of as itself. Prints a table
 * (shape, the plan's top node, indexes used, time, buffers) and exits 1 when a
 * plan reads a watched table (listings, stays, reviews, conversations, messages,
 * wishlists and their items) by a sequential scan.
 *
 * --without-index NAME drops that index inside a transaction, explains, and
 * rolls back: the way to show which shapes an index carries.
 *
 * How the SQL is captured: a Kysely instance whose driver prefixes each
 * compiled query with EXPLAIN, runs it with the same parameters, keeps the plan
 * and answers the query function with no rows. Cursor pages take their cursor
 * from the first page, read by a plain Kysely on the same connection.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CompiledQuery, Kysely, PostgresDialect, sql, type DatabaseConnection, type Driver, type PostgresPool, type QueryResult } from 'kysely';
import pg from 'pg';
import type { DB, Db } from '../db/index.js';
import { findBlockedNights, findHeldStays, listBookings } from '../db/bookings.js';
import { findPropertyById, searchProperties, sortValueOf, type PropertySearch, type PropertySort } from '../db/properties.js';
import { findConversation, hostResponseCounts, listConversationsOf, listMessagesOf, type ConversationListOptions } from '../db/conversations.js';
import { listReviews } from '../db/reviews.js';
import { findSharedWishlist, findWishlistItems, listWishlists } from '../db/wishlists.js';
import { HEAVY_HOST_ORDINAL, heavyGuestOrdinal, heavyHostQuestion, LONG_THREAD_PROPERTY_ORDINAL, seedId, SIZES, wishlistOrdinal } from './seed-scale.js';

/** The tables a served query must never read whole. */
export const WATCHED_TABLES = ['properties', 'bookings', 'reviews', 'conversations', 'messages', 'wishlists', 'wishlist_items'];

export interface PlanReport {
  shape: string;
  topNode: string;
  indexes: string[];
  seqScans: string[];
  timeMs: number;
  buffers: number;
  jit: boolean;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}
interface ExplainJson {
  Plan: PlanNode;
  'Execution Time': number;
  JIT?: unknown;
}

function summarise(shape: string, explain: ExplainJson): PlanReport {
  const indexes = new Set<string>();
  const seqScans: string[] = [];
  const walk = (node: PlanNode) => {
    if (node['Index Name']) indexes.add(node['Index Name']);
    if (node['Node Type'] === 'Seq Scan' && node['Relation Name'] && WATCHED_TABLES.includes(node['Relation Name'])) {
      seqScans.push(node['Relation Name']);
    }
    node.Plans?.forEach(walk);
  };
  walk(explain.Plan);
  // A Limit or a Sort on top says little; name the first node that reads or joins.
  let top = explain.Plan;
  while (['Limit', 'Sort', 'Incremental Sort', 'Result'].includes(top['Node Type']) && top.Plans?.[0]) top = top.Plans[0];
  return {
    shape,
    topNode: top === explain.Plan ? top['Node Type'] : `${explain.Plan['Node Type']} > ${top['Node Type']}`,
    indexes: [...indexes],
    seqScans,
    timeMs: explain['Execution Time'],
    buffers: (explain.Plan['Shared Hit Blocks'] ?? 0) + (explain.Plan['Shared Read Blocks'] ?? 0),
    jit: explain.JIT !== undefined,
  };
}

/** One pg connection seen as a pool, so every query (and a surrounding transaction) runs on it. */
function poolOf(client: pg.Client): PostgresPool {
  return {
    options: {},
    connect: async () => ({ query: client.query.bind(client) as never, release: () => {} }),
    end: async () => {},
  };
}

/** A dialect whose queries are explained instead of run: each plan goes to `sink`, and the caller gets no rows. */
class ExplainingDialect extends PostgresDialect {
  constructor(
    pool: PostgresPool,
    private readonly sink: (plan: ExplainJson) => void,
  ) {
    super({ pool });
  }

  override createDriver(): Driver {
    const inner = super.createDriver();
    const sink = this.sink;
    const wrap = (connection: DatabaseConnection): DatabaseConnection => ({
      async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
        const explained = await connection.executeQuery<{ 'QUERY PLAN': ExplainJson[] }>(
          CompiledQuery.raw(`explain (analyze, buffers, format json) ${query.sql}`, [...query.parameters]),
        );
        sink(explained.rows[0]!['QUERY PLAN'][0]!);
        return { rows: [] };
      },
      streamQuery: () => {
        throw new Error('not explained: streamed queries');
      },
    });
    const wrapped = new WeakMap<DatabaseConnection, DatabaseConnection>();
    return {
      init: () => inner.init(),
      acquireConnection: async () => {
        const connection = await inner.acquireConnection();
        const outer = wrap(connection);
        wrapped.set(outer, connection);
        return outer;
      },
      beginTransaction: (c, settings) => inner.beginTransaction(wrapped.get(c)!, settings),
      commitTransaction: (c) => inner.commitTransaction(wrapped.get(c)!),
      rollbackTransaction: (c) => inner.rollbackTransaction(wrapped.get(c)!),
      releaseConnection: (c) => inner.releaseConnection(wrapped.get(c)!),
      destroy: () => inner.destroy(),
    };
  }
}

/** A date `days` from today (UTC), as the API takes it. */
function dayFromToday(days: number): string {
  const date = new Date();
  date.setUTCHours(0, 0, 0, 0);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

export interface ExplainOptions {
  /** Drop this index in a transaction around the run, and roll back afterwards. */
  withoutIndex?: string;
}

/** Explains every served shape on the database at `databaseUrl` (seeded by scripts/seed-scale.ts). */
export async function explainServedQueries(databaseUrl: string, options: ExplainOptions = {}): Promise<PlanReport[]> {
  const types = new pg.TypeOverrides();
  types.setTypeParser(1082, (value: string) => value); // date stays 'YYYY-MM-DD', as db/index.ts reads it
  const client = new pg.Client({ connectionString: databaseUrl, types });
  await client.connect();
  const plans: ExplainJson[] = [];
  const plain = new Kysely<DB>({ dialect: new PostgresDialect({ pool: poolOf(client) }) }) as Db;
  const explaining = new Kysely<DB>({ dialect: new ExplainingDialect(poolOf(client), (plan) => plans.push(plan)) }) as Db;
  const reports: PlanReport[] = [];
  /** Runs one served call through the explaining instance; every query it makes is one row of the table. */
  const shape = async (name: string, call: (db: Db) => Promise<unknown>) => {
    plans.length = 0;
    await call(explaining);
    plans.forEach((plan, i) => reports.push(summarise(plans.length > 1 ? `${name} [${i + 1}/${plans.length}]` : name, plan)));
  };

  try {
    if (options.withoutIndex) {
      await client.query('begin');
      await client.query(`drop index ${pg.escapeIdentifier(options.withoutIndex)}`);
    }
    // The seed's size is in its marker; the well-known rows (the heavy host, the popular listing) follow from it.
    const marker = await sql<{ size: keyof typeof SIZES }>`select size from seed_marker`.execute(plain);
    const size = SIZES[marker.rows[0]?.size ?? 'large'];
    const heavyHost = seedId(1, HEAVY_HOST_ORDINAL);
    const heavyGuest = seedId(1, heavyGuestOrdinal(size));
    const popular = seedId(2, 1);

    const paris = { latitude: 48.8566, longitude: 2.3522 };
    const stay = { checkIn: dayFromToday(30), checkOut: dayFromToday(35), nights: 5 };
    const limit = 20;
    const base = (sort: PropertySort, extra: Partial<PropertySearch> = {}): PropertySearch => ({ sort, limit, ...extra });
    const searches: [string, PropertySearch][] = [
      ['search city', base('newest', { city: 'Paris' })],
      ['search country', base('newest', { country: 'JP' })],
      ['search city + price range', base('price_asc', { city: 'Paris', minPrice: 10_000, maxPrice: 20_000 })],
      ['search price range', base('newest', { minPrice: 10_000, maxPrice: 12_000 })],
      ['search guests', base('newest', { guests: 8 })],
      ['search amenities', base('newest', { amenities: ['pool', 'hot_tub'] })],
      ['search near + radius', base('newest', { near: { ...paris, radiusKm: 3 } })],
      ['search free dates', base('newest', { stay })],
      ['search city + free dates + max price', base('price_asc', { city: 'Paris', maxPrice: 15_000, stay })],
      ['sort price_asc', base('price_asc')],
      ['sort price_desc', base('price_desc')],
      ['sort rating', base('rating')],
      ['sort newest', base('newest')],
      ['sort distance', base('distance', { near: { ...paris, radiusKm: 5 } })],
      ['sort rating in a city', base('rating', { city: 'Paris' })],
    ];
    for (const [name, search] of searches) await shape(name, (db) => searchProperties(db, search));
    // Each sort's second page, its cursor taken from the first page as the handler makes it.
    for (const [name, search] of searches.filter(([n]) => n.startsWith('sort ') || n === 'search city + price range')) {
      const first = await searchProperties(plain, search);
      const last = first[limit - 1];
      if (!last) continue;
      await shape(`${name}, cursor page`, (db) => searchProperties(db, { ...search, after: [sortValueOf(last, search.sort), last.id] }));
    }

    await shape('getProperty', (db) => findPropertyById(db, popular));
    const from = dayFromToday(0);
    const to = dayFromToday(365);
    await shape('availability of a year', async (db) => {
      await findHeldStays(db, popular, from, to);
      await findBlockedNights(db, popular, from, to);
    });

    const hostPage = await listBookings(plain, { hostId: heavyHost, limit });
    const guestPage = await listBookings(plain, { guestId: heavyGuest, limit });
    await shape('listBookings as host (1% of stays)', (db) => listBookings(db, { hostId: heavyHost, limit }));
    if (hostPage[limit - 1]) {
      const last = hostPage[limit - 1]!;
      await shape('listBookings as host, cursor page', (db) =>
        listBookings(db, { hostId: heavyHost, limit, after: { createdAt: last.created_at.toISOString(), id: last.id } }),
      );
    }
    await shape('listBookings as host, status=upcoming', (db) => listBookings(db, { hostId: heavyHost, status: 'confirmed', limit }));
    await shape('listBookings as guest (10% of stays)', (db) => listBookings(db, { guestId: heavyGuest, limit }));
    if (guestPage[limit - 1]) {
      const last = guestPage[limit - 1]!;
      await shape('listBookings as guest, cursor page', (db) =>
        listBookings(db, { guestId: heavyGuest, limit, after: { createdAt: last.created_at.toISOString(), id: last.id } }),
      );
    }

    const reviewPage = await listReviews(plain, { propertyId: popular, limit });
    await shape('listReviews of a popular listing', (db) => listReviews(db, { propertyId: popular, limit }));
    if (reviewPage[limit - 1]) {
      const last = reviewPage[limit - 1]!;
      await shape('listReviews of a popular listing, cursor page', (db) =>
        listReviews(db, { propertyId: popular, limit, after: { createdAt: last.created_at.toISOString(), id: last.id } }),
      );
    }
    await shape('listReviews by an author', (db) => listReviews(db, { authorId: heavyGuest, limit }));
    await shape('listReviews, all', (db) => listReviews(db, { limit }));

    // The heavy host answers ~2k threads (10k at large) and asked about every 100th listing as a
    // guest; the heavy guest has a thread with every listing. Without a role, both sides are read.
    const conversationLists: [string, ConversationListOptions][] = [
      ['listConversations as host', { userId: heavyHost, role: 'host', limit }],
      ['listConversations as guest', { userId: heavyGuest, role: 'guest', limit }],
      ['listConversations, both sides, heavy host', { userId: heavyHost, limit }],
      ['listConversations, both sides, heavy guest', { userId: heavyGuest, limit }],
    ];
    for (const [name, options] of conversationLists) {
      await shape(name, (db) => listConversationsOf(db, options));
      const last = (await listConversationsOf(plain, options))[limit - 1];
      if (!last) continue;
      await shape(`${name}, cursor page`, (db) =>
        listConversationsOf(db, { ...options, after: { activityAt: last.last_activity_at.toISOString(), id: last.id } }),
      );
    }
    const longThread = heavyHostQuestion(LONG_THREAD_PROPERTY_ORDINAL);
    await shape('getConversation of a long thread', (db) => findConversation(db, longThread, heavyHost));
    await shape('listMessages of a long thread', (db) => listMessagesOf(db, longThread, { limit }));
    const lastMessage = (await listMessagesOf(plain, longThread, { limit }))[limit - 1];
    if (lastMessage) {
      await shape('listMessages of a long thread, cursor page', (db) =>
        listMessagesOf(db, longThread, { limit, after: { createdAt: lastMessage.created_at.toISOString(), id: lastMessage.id } }),
      );
    }
    await shape('host response numbers of the heavy host', (db) => hostResponseCounts(db, [heavyHost]));

    // The heavy guest keeps as many wishlists as MAX_WISHLISTS allows; the first is full and shared.
    const fullWishlist = seedId(8, wishlistOrdinal(heavyGuestOrdinal(size), 0));
    await shape('listWishlists of the heavy guest', (db) => listWishlists(db, { ownerId: heavyGuest, limit }));
    await shape('getWishlist items of a full list', (db) => findWishlistItems(db, fullWishlist));
    const shared = await plain.selectFrom('wishlists').select('share_token').where('id', '=', fullWishlist).executeTakeFirst();
    if (shared?.share_token) await shape('getSharedWishlist', (db) => findSharedWishlist(db, shared.share_token!));
  } finally {
    if (options.withoutIndex) await client.query('rollback').catch(() => {});
    await client.end();
  }
  return reports;
}

/** The report as a fixed-width table (also what the README shows). */
export function formatReports(reports: PlanReport[]): string {
  const rows = reports.map((r) => [
    r.seqScans.length > 0 ? `FAIL ${r.shape}` : r.shape,
    r.topNode,
    r.indexes.join(', ') || '-',
    r.timeMs.toFixed(2),
    String(r.buffers),
    ...(r.jit ? ['jit'] : []),
  ]);
  const header = ['shape', 'top node', 'indexes', 'ms', 'buffers'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 3 || i === 4 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function main() {
  const { values } = parseArgs({ options: { 'without-index': { type: 'string' }, json: { type: 'string' } } });
  const { loadConfig, loadEnvFile } = await import('../server/config.js');
  loadEnvFile();
  const url = loadConfig().databaseUrl;
  if (!url) {
    console.error('npm run explain needs DATABASE_URL (a PostgreSQL seeded with npm run db:seed -- --size large)');
    process.exit(2);
  }
  const reports = await explainServedQueries(url, { withoutIndex: values['without-index'] });
  console.log(formatReports(reports));
  if (values.json) writeFileSync(values.json, `${JSON.stringify(reports, null, 2)}\n`);
  const failed = reports.filter((r) => r.seqScans.length > 0);
  if (failed.length > 0) {
    console.error(`\n${failed.length} shape(s) read a watched table by a sequential scan: ${failed.map((r) => `${r.shape} (${r.seqScans.join(', ')})`).join('; ')}`);
    process.exitCode = 1;
  } else {
    console.log(`\n${reports.length} plans, no sequential scan of ${WATCHED_TABLES.join(', ')}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
