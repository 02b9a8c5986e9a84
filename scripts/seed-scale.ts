/**
 * Data at scale for benchmarks and the EXPLAIN check (issue 14): users, listings
 * over ~50 real cities, stays over two past years and the next one, reviews of
 * past stays and payments of the paid ones, conversations between guests and
 * hosts, and wishlists, generated inside PostgreSQL by
 * INSERT … SELECT over generate_series (nothing crosses the wire but the
 * statements), in chunks so a progress bar can show rows/s and an ETA.
 *
 * Deterministic: every "random" choice is a hash of the row's ordinal
 * (hashint8), so two runs of a size produce the same rows, ids included
 * (`5eed000K-0000-4000-8000-<ordinal>`, K = 1 users, 2 listings, 3 stays,
 * 4 reviews, 5 payments, 6 conversations, 7 messages, 8 wishlists).
 *
 * Constraints stay on and valid: stays of a listing are laid in disjoint slots
 * of the calendar, so the exclusion constraint never refuses one; prices follow
 * handlers/bookings/rules.ts (subtotal = nights × rate, the service fee's
 * rounding); a review is of a completed stay, one per stay, by its guest. The
 * shortcuts: the ratings trigger is disabled while reviews are inserted (it
 * would update a listing once per review) and the aggregates are written once
 * afterwards, all in the same transaction, so nobody sees them disagree; the
 * trigger that moves a thread's last activity to its messages is disabled
 * while they are inserted, the threads being written with it already.
 * A thread is one per guest and listing (conversations_guest_property_key),
 * never with oneself, its guest writes first, its last activity is its newest
 * message's time (as the trigger and insertConversationHistory keep it) and
 * each participant's read marker is the thread's activity at some moment; no
 * owner has more wishlists, nor a list more listings, than the defaults of
 * MAX_WISHLISTS and MAX_WISHLIST_ITEMS allow.
 *
 * Every generated user has the same password hash (of the demo password),
 * computed once by the caller: argon2 per user would take hours.
 *
 * Bulk SQL lives here rather than in db/*.ts on purpose: it is a generator of
 * history, frozen like a migration, not a query the application serves.
 */
import { sql, type RawBuilder } from 'kysely';
import type { Db, Tx } from '../db/index.js';

/** Bump when the generated data changes shape, so an old seed is recognised as different. */
export const SEED_VERSION = 2;

export interface ScaleSize {
  users: number;
  properties: number;
  /** Stays of an ordinary listing (popular listings get POPULAR_STAYS). */
  staysPerProperty: number;
  /** About how many reviews: a share of the completed stays is reviewed. */
  reviews: number;
  /** Listings per chunk (one progress step). */
  chunk: number;
}

/**
 * small is the demo data alone (server/demo-data.ts); the others add generated
 * data on top of it. medium seeds in seconds and is what test/explain.test.ts
 * proves plans on; large is issue 14's; xl is large × 3.
 */
export const SIZES: Record<'medium' | 'large' | 'xl', ScaleSize> = {
  medium: { users: 2_000, properties: 20_000, staysPerProperty: 10, reviews: 60_000, chunk: 5_000 },
  large: { users: 10_000, properties: 100_000, staysPerProperty: 10, reviews: 300_000, chunk: 5_000 },
  xl: { users: 30_000, properties: 300_000, staysPerProperty: 10, reviews: 900_000, chunk: 10_000 },
};
export type SizeName = 'small' | keyof typeof SIZES;

/** Every 1000th listing (ordinal ≡ 1) is popular: short stays back to back, all reviewed. */
const POPULAR_STAYS = 150;
/** The calendar stays are laid on: two years back, one year ahead. */
const PAST_DAYS = 730;
const SPAN_DAYS = 1095;

/**
 * The heavy host hosts every 100th listing (10k stays at large); the heavy guest is the
 * guest of every stay whose ordinal ends in 07: the 8th stay of each listing, a tenth of all.
 */
export const HEAVY_HOST_ORDINAL = 0;
export const heavyGuestOrdinal = (size: ScaleSize) => size.users / 10;
export const seedId = (kind: 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8, ordinal: number) => `5eed000${kind}-0000-4000-8000-${ordinal.toString(16).padStart(12, '0')}`;

/**
 * Conversations: a thread for a share (THREAD_SHARE, one in eight) of the
 * guest-and-listing pairs that have stays, and for every pair of the heavy host's
 * listings and of the heavy guest's stays, so those two have thousands (the heavy
 * guest's are 20k of the 44k at medium). Besides, the heavy host asked as a guest
 * about every 100th listing of others (no stay), and every 1000th of those
 * questions grew into a LONG_THREAD of messages (pages of listMessages). One in
 * four pairs would have added 40 % to the medium seed's time instead of 25 %.
 */
const THREAD_SHARE = 0.125;
const LONG_THREAD = 200;
/**
 * A thread's ordinal is that of its pair's latest stay (p * 1000 + j, j < POPULAR_STAYS),
 * or p * 1000 + QUESTION_SLOT for the heavy host's question about listing p; message k
 * of thread t is t * MESSAGE_SLOTS + k.
 */
const QUESTION_SLOT = 999;
const MESSAGE_SLOTS = 256;
export const heavyHostQuestion = (propertyOrdinal: number) => seedId(6, propertyOrdinal * 1000 + QUESTION_SLOT);
/** The heavy host's question about listing 50 (hosted by another) is a long thread. */
export const LONG_THREAD_PROPERTY_ORDINAL = 50;

/**
 * Wishlists: every 5th user has one to three, and the heavy guest as many as
 * MAX_WISHLISTS allows by default, the first of them full (MAX_WISHLIST_ITEMS'
 * default) and shared. List k of user u has the ordinal u * 64 + k.
 */
export const HEAVY_GUEST_WISHLISTS = 50;
export const FULL_WISHLIST_ITEMS = 100;
export const wishlistOrdinal = (userOrdinal: number, k: number) => userOrdinal * 64 + k;

function id(kind: number, ordinal: RawBuilder<unknown> | string): RawBuilder<string> {
  return sql<string>`('5eed000${sql.raw(String(kind))}-0000-4000-8000-' || lpad(to_hex(${sql.raw(String(ordinal))}), 12, '0'))::uuid`;
}

/** A number in [0, 1) fixed by an ordinal expression and a salt. */
function rnd(ordinal: string, salt: number): string {
  return `((hashint8((${ordinal})::bigint * 1000003 + ${salt}) & 2147483647)::float8 / 2147483648)`;
}

/** Real cities: name, country, currency, latitude, longitude, a typical nightly price in minor units. */
const CITIES: [string, string, string, number, number, number][] = [
  ['Lisbon', 'PT', 'EUR', 38.7223, -9.1393, 9500], ['Porto', 'PT', 'EUR', 41.1579, -8.6291, 8000],
  ['Madrid', 'ES', 'EUR', 40.4168, -3.7038, 10500], ['Barcelona', 'ES', 'EUR', 41.3874, 2.1686, 13000],
  ['Seville', 'ES', 'EUR', 37.3891, -5.9845, 8500], ['Paris', 'FR', 'EUR', 48.8566, 2.3522, 16000],
  ['Nice', 'FR', 'EUR', 43.7102, 7.262, 14000], ['Lyon', 'FR', 'EUR', 45.764, 4.8357, 9000],
  ['Berlin', 'DE', 'EUR', 52.52, 13.405, 10000], ['Munich', 'DE', 'EUR', 48.1351, 11.582, 12500],
  ['Hamburg', 'DE', 'EUR', 53.5511, 9.9937, 10500], ['Amsterdam', 'NL', 'EUR', 52.3676, 4.9041, 17000],
  ['Brussels', 'BE', 'EUR', 50.8503, 4.3517, 9500], ['Vienna', 'AT', 'EUR', 48.2082, 16.3738, 11000],
  ['Rome', 'IT', 'EUR', 41.9028, 12.4964, 12000], ['Milan', 'IT', 'EUR', 45.4642, 9.19, 13500],
  ['Florence', 'IT', 'EUR', 43.7696, 11.2558, 13000], ['Venice', 'IT', 'EUR', 45.4408, 12.3155, 18000],
  ['Athens', 'GR', 'EUR', 37.9838, 23.7275, 8000], ['Dublin', 'IE', 'EUR', 53.3498, -6.2603, 15000],
  ['Helsinki', 'FI', 'EUR', 60.1699, 24.9384, 10000], ['Zurich', 'CH', 'CHF', 47.3769, 8.5417, 22000],
  ['Geneva', 'CH', 'CHF', 46.2044, 6.1432, 21000], ['London', 'GB', 'GBP', 51.5072, -0.1276, 16000],
  ['Edinburgh', 'GB', 'GBP', 55.9533, -3.1883, 12000], ['Manchester', 'GB', 'GBP', 53.4808, -2.2426, 8500],
  ['Stockholm', 'SE', 'SEK', 59.3293, 18.0686, 130000], ['Gothenburg', 'SE', 'SEK', 57.7089, 11.9746, 100000],
  ['Oslo', 'NO', 'NOK', 59.9139, 10.7522, 140000], ['Bergen', 'NO', 'NOK', 60.3913, 5.3221, 120000],
  ['Copenhagen', 'DK', 'DKK', 55.6761, 12.5683, 110000], ['New York', 'US', 'USD', 40.7128, -74.006, 22000],
  ['San Francisco', 'US', 'USD', 37.7749, -122.4194, 21000], ['Los Angeles', 'US', 'USD', 34.0522, -118.2437, 17000],
  ['Chicago', 'US', 'USD', 41.8781, -87.6298, 14000], ['Miami', 'US', 'USD', 25.7617, -80.1918, 19000],
  ['Boston', 'US', 'USD', 42.3601, -71.0589, 18000], ['Seattle', 'US', 'USD', 47.6062, -122.3321, 15000],
  ['Austin', 'US', 'USD', 30.2672, -97.7431, 13000], ['New Orleans', 'US', 'USD', 29.9511, -90.0715, 14000],
  ['Honolulu', 'US', 'USD', 21.3069, -157.8583, 25000], ['Toronto', 'CA', 'CAD', 43.6532, -79.3832, 16000],
  ['Vancouver', 'CA', 'CAD', 49.2827, -123.1207, 18000], ['Montreal', 'CA', 'CAD', 45.5017, -73.5673, 13000],
  ['Sydney', 'AU', 'AUD', -33.8688, 151.2093, 20000], ['Melbourne', 'AU', 'AUD', -37.8136, 144.9631, 17000],
  ['Brisbane', 'AU', 'AUD', -27.4698, 153.0251, 15000], ['Tokyo', 'JP', 'JPY', 35.6762, 139.6503, 18000],
  ['Kyoto', 'JP', 'JPY', 35.0116, 135.7681, 16000], ['Osaka', 'JP', 'JPY', 34.6937, 135.5023, 14000],
];
export const SEED_CITIES = CITIES.map(([name, , , latitude, longitude]) => ({ name, latitude, longitude }));

const AMENITIES = [
  'wifi', 'kitchen', 'washer', 'dryer', 'air_conditioning', 'heating', 'tv', 'parking', 'pool', 'hot_tub', 'gym',
  'workspace', 'fireplace', 'pets_allowed', 'wheelchair_accessible', 'elevator', 'bbq_grill', 'beach_access', 'ev_charger', 'crib',
];
/** How likely each amenity is (wifi nearly always, a pool rarely). */
const AMENITY_ODDS = [0.95, 0.8, 0.6, 0.4, 0.45, 0.7, 0.6, 0.3, 0.08, 0.05, 0.07, 0.4, 0.1, 0.2, 0.1, 0.35, 0.1, 0.06, 0.05, 0.15];

const FIRST = ['Ana', 'Ben', 'Chloé', 'Dmitri', 'Elif', 'Farah', 'Goran', 'Hiro', 'Inès', 'Jonas', 'Kaia', 'Luca', 'Maya', 'Nils', 'Olu', 'Priya', 'Quinn', 'Rosa', 'Sven', 'Tariq'];
const LAST = ['Almeida', 'Becker', 'Costa', 'Dubois', 'Eriksen', 'Fischer', 'García', 'Hansen', 'Ito', 'Jensen', 'Kowalski', 'Lindqvist', 'Müller', 'Novak', 'Olsen', 'Petrov', 'Rossi', 'Silva', 'Tanaka', 'Weber'];
const KINDS = ['Sunny flat', 'Quiet studio', 'Loft', 'Family house', 'Garden room', 'Penthouse', 'Canal-side apartment', 'Cosy attic'];
const COMMENTS = [
  'Exactly as described, would stay again.', 'Great location, a bit noisy at night.', 'Spotless and the host was very helpful.',
  'Comfortable beds, fast wifi.', 'Smaller than the photos suggest.', 'Lovely stay, thank you!', 'Check-in was easy and the area is great.',
];

const QUESTIONS = [
  'Hi! Is the flat quiet at night?', 'Hello, could we check in before 3 pm?', 'Is there parking nearby?',
  'Would a cot be available for our baby?', 'How far is it from the station?', 'Is the kitchen equipped for cooking?',
  'Hi, are pets allowed?', 'Could we leave our bags after check-out?',
];
const ANSWERS = [
  'Yes, of course!', 'Happy to help: early check-in is fine once the cleaners are done.', 'There is a public car park two streets away.',
  'Yes, I will have it ready for you.', 'About ten minutes on foot.', 'Fully equipped, dishwasher included.',
  'Sorry, not this time.', 'Sure, until 6 pm.',
];
const FOLLOW_UPS = ['Thanks! One more thing: is there a lift?', 'Great, and is the wifi fast enough for video calls?', 'Just checking you saw my message?', 'Perfect, thank you!'];
const WISHLIST_NAMES = ['Summer trips', 'Weekend ideas', 'With the kids', 'City breaks', 'Someday', 'Work trips', 'By the sea', 'Ski season'];

const textArray = (values: string[]) => sql`array[${sql.join(values.map((v) => sql.lit(v)))}]::text[]`;

export interface ScaleProgress {
  /** Rows the whole seed will insert, about. */
  start(totalRows: number): void;
  advance(rows: number, phase: string): void;
  stop(): void;
}

export interface ScaleResult {
  counts: Record<
    'users' | 'properties' | 'bookings' | 'payments' | 'reviews' | 'conversations' | 'conversation_participants' | 'messages' | 'wishlists' | 'wishlist_items',
    number
  >;
}

/** What the database holds now, as far as the seed is concerned. */
export type SeedState =
  | { kind: 'empty' }
  | { kind: 'seeded'; size: string; version: number }
  | { kind: 'other'; users: number };

/**
 * "Different data": a marker of another size or version, or no marker and users
 * other than the demo ones (the demo data alone is what every size starts from).
 */
export async function seedState(db: Db, demoEmails: string[]): Promise<SeedState> {
  const marker = await sql<{ size: string; version: number }>`select size, version from seed_marker`.execute(db);
  if (marker.rows[0]) return { kind: 'seeded', ...marker.rows[0] };
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from users where email is null or lower(email) <> all(${sql.val(demoEmails.map((e) => e.toLowerCase()))}::text[])
  `.execute(db);
  const users = rows[0]?.n ?? 0;
  return users === 0 ? { kind: 'empty' } : { kind: 'other', users };
}

/** Empties every table the application writes (for --force). */
export async function wipe(db: Db): Promise<void> {
  await sql`truncate table users, seed_marker cascade`.execute(db);
}

/**
 * Inserts the generated data in one transaction, writes the marker, then
 * VACUUM ANALYZEs so the planner sees the new statistics at once.
 */
export async function seedAtScale(
  db: Db,
  sizeName: keyof typeof SIZES,
  options: { passwordHash: string; serviceFeeBasisPoints: number; bookingHoldSeconds: number; progress?: ScaleProgress },
): Promise<ScaleResult> {
  const size = SIZES[sizeName];
  const progress = options.progress;
  const popular = Math.floor((size.properties + 998) / 1000);
  const stays = size.properties * size.staysPerProperty + popular * (POPULAR_STAYS - size.staysPerProperty);
  // About 61 % of stays end completed (two thirds of the calendar is past, 8 % of those cancelled).
  const reviewShare = Math.min(1, size.reviews / (stays * 0.61));
  // The heavy guest has a stay at every listing (the 8th of each), and ~3 messages per thread.
  const threads = stays * THREAD_SHARE + size.properties * (1 - THREAD_SHARE) + size.properties / 100;
  const wishlists = (size.users / 5) * 2 + HEAVY_GUEST_WISHLISTS;
  progress?.start(size.users + size.properties + stays * 2 + size.reviews + threads * 6 + wishlists * 8);

  const counts: ScaleResult['counts'] = {
    users: 0, properties: 0, bookings: 0, payments: 0, reviews: 0,
    conversations: 0, conversation_participants: 0, messages: 0, wishlists: 0, wishlist_items: 0,
  };
  await db.transaction().execute(async (trx) => {
    // The planner's estimates for these statements are huge, so PostgreSQL would JIT-compile
    // each one: measured, that took 20 s a statement and the insert itself 4 s.
    await sql`set local jit = off`.execute(trx);
    await sql`create temporary table seed_city (n int primary key, city text, country text, currency text, latitude float8, longitude float8, base int) on commit drop`.execute(trx);
    await sql`insert into seed_city values ${sql.join(
      CITIES.map(([city, country, currency, lat, lon, base], n) => sql`(${sql.lit(n)}, ${sql.lit(city)}, ${sql.lit(country)}, ${sql.lit(currency)}, ${sql.lit(lat)}, ${sql.lit(lon)}, ${sql.lit(base)})`),
    )}`.execute(trx);
    await sql`alter table reviews disable trigger reviews_keep_property_ratings`.execute(trx);
    // Threads are inserted with their last activity already set to their newest message's
    // time: the trigger would only look each message's thread up to find nothing to move.
    await sql`alter table messages disable trigger messages_move_conversation_activity`.execute(trx);
    await sql`create temporary table seed_thread (t bigint, property_id uuid, guest_id uuid, host_id uuid, booking_id uuid,
      n int, at timestamptz[], host_sends boolean[]) on commit drop`.execute(trx);

    counts.users = await insertUsers(trx, size, options.passwordHash);
    progress?.advance(counts.users, 'users');
    for (let lo = 0; lo < size.properties; lo += size.chunk) {
      const hi = Math.min(size.properties, lo + size.chunk);
      const p = await insertProperties(trx, size, lo, hi);
      counts.properties += p;
      progress?.advance(p, 'listings');
      const b = await insertBookings(trx, size, lo, hi, options);
      counts.bookings += b;
      progress?.advance(b, 'stays');
      const pay = await insertPayments(trx, lo, hi);
      counts.payments += pay;
      progress?.advance(pay, 'payments');
      const r = await insertReviews(trx, lo, hi, reviewShare);
      counts.reviews += r;
      progress?.advance(r, 'reviews');
      const c = await insertConversations(trx, size, lo, hi);
      counts.conversations += c.conversations;
      counts.conversation_participants += c.participants;
      counts.messages += c.messages;
      progress?.advance(c.conversations + c.participants + c.messages, 'conversations');
    }
    const w = await insertWishlists(trx, size);
    counts.wishlists = w.wishlists;
    counts.wishlist_items = w.items;
    progress?.advance(w.wishlists + w.items, 'wishlists');

    await sql`alter table reviews enable trigger reviews_keep_property_ratings`.execute(trx);
    await sql`alter table messages enable trigger messages_move_conversation_activity`.execute(trx);
    // What the trigger would have written, once per listing.
    await sql`
      update properties set rating_sum = agg.sum, review_count = agg.n
      from (select property_id, sum(rating)::int as sum, count(*)::int as n from reviews
            where deleted_at is null and id >= ${id(4, '0')} and id <= ${id(4, '281474976710655')} group by property_id) agg
      where properties.id = agg.property_id
    `.execute(trx);
    await sql`
      insert into seed_marker (size, version, counts) values (${sizeName}, ${SEED_VERSION}, ${JSON.stringify(counts)}::jsonb)
    `.execute(trx);
  });
  progress?.stop();
  // What autovacuum would do after a bulk load, at once: statistics for the planner, and
  // the visibility map, without which no index-only scan is costed as one.
  await sql`vacuum analyze`.execute(db);
  return { counts };
}

async function insertUsers(trx: Tx, size: ScaleSize, passwordHash: string): Promise<number> {
  const hosts = heavyGuestOrdinal(size);
  const result = await sql`
    insert into users (id, email, password_hash, role, name, bio, created_at, updated_at)
    select ${id(1, 'u')}, 'user' || u || '@seed.staybook.test', ${passwordHash},
      case when u < ${sql.lit(hosts)} then 'host' else 'guest' end,
      (${textArray(FIRST)})[1 + u % ${sql.lit(FIRST.length)}] || ' ' || (${textArray(LAST)})[1 + (u / ${sql.lit(FIRST.length)}) % ${sql.lit(LAST.length)}],
      null, t, t
    from generate_series(0, ${sql.lit(size.users - 1)}) u,
      lateral (select date_trunc('milliseconds', now() - interval '1 day' * (1100 + 300 * ${sql.raw(rnd('u', 11))})) as t) c
  `.execute(trx);
  return Number(result.numAffectedRows ?? 0);
}

async function insertProperties(trx: Tx, size: ScaleSize, lo: number, hi: number): Promise<number> {
  const hosts = heavyGuestOrdinal(size);
  const amenities = sql.join(
    AMENITIES.map((name, i) => sql`case when ${sql.raw(rnd('p', 100 + i))} < ${sql.lit(AMENITY_ODDS[i])} then ${sql.lit(name)} end`),
  );
  const result = await sql`
    insert into properties (id, host_id, name, description, city, country, latitude, longitude, price_per_night, currency,
      cleaning_fee, max_guests, bedrooms, amenities, cancellation_policy, min_nights, max_nights, created_at, updated_at)
    select ${id(2, 'p')},
      ${id(1, `case when p % 100 = 0 then ${HEAVY_HOST_ORDINAL} else 1 + p % ${hosts - 1} end`)},
      (${textArray(KINDS)})[1 + p % ${sql.lit(KINDS.length)}] || ' in ' || c.city || ' #' || p,
      'A generated listing for benchmarks, ' || round((${sql.raw(rnd('p', 3))} * 5)::numeric, 1) || ' km from the centre of ' || c.city || '.',
      c.city, c.country,
      -- Within about 4 km of the centre (longitude scaled by latitude).
      c.latitude + (${sql.raw(rnd('p', 1))} - 0.5) * 0.07,
      c.longitude + (${sql.raw(rnd('p', 2))} - 0.5) * 0.07 / cos(radians(c.latitude)),
      greatest(1, (c.base * (0.4 + 1.6 * ${sql.raw(rnd('p', 4))} * ${sql.raw(rnd('p', 5))} + 0.3 * ${sql.raw(rnd('p', 6))}))::int),
      c.currency,
      (c.base * 0.1 * floor(${sql.raw(rnd('p', 7))} * 4))::int,
      g.guests, greatest(0, (g.guests + 1) / 2 - (${sql.raw(rnd('p', 8))} < 0.3)::int),
      array_remove(array[${amenities}]::text[], null),
      (array['flexible', 'moderate', 'strict'])[1 + floor(${sql.raw(rnd('p', 9))} * 3)::int],
      case when p % 1000 = 1 then 1 else 1 + floor(${sql.raw(rnd('p', 10))} * 3)::int end,
      case when ${sql.raw(rnd('p', 12))} < 0.2 then 30 else 365 end,
      t, t
    from generate_series(${sql.lit(lo)}, ${sql.lit(hi - 1)}) p
    join seed_city c on c.n = p % ${sql.lit(CITIES.length)},
      lateral (select 1 + floor(${sql.raw(rnd('p', 13))} * ${sql.raw(rnd('p', 14))} * 10)::int as guests) g,
      lateral (select date_trunc('milliseconds', now() - interval '1 day' * (760 + 330 * ${sql.raw(rnd('p', 15))})) as t) ts
  `.execute(trx);
  return Number(result.numAffectedRows ?? 0);
}

async function insertBookings(
  trx: Tx,
  size: ScaleSize,
  lo: number,
  hi: number,
  options: { serviceFeeBasisPoints: number; bookingHoldSeconds: number },
): Promise<number> {
  const hosts = heavyGuestOrdinal(size);
  const guests = size.users - hosts;
  // Stay b = p * 1000 + j is the j-th of listing p, inside its own slot of the calendar.
  const result = await sql`
    insert into bookings (id, property_id, host_id, guest_id, check_in, check_out, guests, status, nights, nightly_rate, subtotal,
      cleaning_fee, service_fee, total, currency, expires_at, confirmed_at, cancelled_at, cancelled_by, cancellation_reason,
      created_at, updated_at)
    select ${id(3, 'b')}, pr.id, pr.host_id, ${id(1, 'guest')}, check_in, check_in + nights, party, status, nights, pr.price_per_night,
      nights * pr.price_per_night, pr.cleaning_fee,
      ((nights * pr.price_per_night + pr.cleaning_fee)::bigint * ${sql.lit(options.serviceFeeBasisPoints)} + 5000) / 10000,
      nights * pr.price_per_night + pr.cleaning_fee
        + ((nights * pr.price_per_night + pr.cleaning_fee)::bigint * ${sql.lit(options.serviceFeeBasisPoints)} + 5000) / 10000,
      pr.currency,
      case when status = 'expired' then created + interval '1 second' * ${sql.lit(options.bookingHoldSeconds)} end,
      case when status in ('confirmed', 'completed') then created + interval '5 minutes' end,
      case when status = 'cancelled' then created + interval '1 hour' end,
      case when status = 'cancelled' then ${id(1, 'guest')} end,
      case when status = 'cancelled' then 'Plans changed' end,
      created,
      created + case when status = 'cancelled' then interval '1 hour' when status = 'expired' then interval '0' else interval '5 minutes' end
    from generate_series(${sql.lit(lo)}, ${sql.lit(hi - 1)}) p
    join properties pr on pr.id = ${id(2, 'p')},
      lateral (select case when p % 1000 = 1 then ${sql.lit(POPULAR_STAYS)} else ${sql.lit(size.staysPerProperty)} end as slots) s,
      lateral generate_series(0, s.slots - 1) j,
      lateral (select p * 1000 + j as b, ${sql.lit(SPAN_DAYS)} / s.slots as slot_len) o,
      lateral (select greatest(pr.min_nights, least(pr.max_nights, 1 + floor(${sql.raw(rnd('o.b', 21))} * least(14, o.slot_len - 1))::int)) as nights) n,
      lateral (select (now() at time zone 'utc')::date - ${sql.lit(PAST_DAYS)} + j * o.slot_len
        + floor(${sql.raw(rnd('o.b', 22))} * (o.slot_len - n.nights + 1))::int as check_in) ci,
      lateral (select
        case when o.b % 100 = 7 then ${sql.lit(hosts)} else ${sql.lit(hosts + 1)} + (hashint8(o.b) & 2147483647) % ${sql.lit(guests - 1)} end as guest,
        1 + floor(${sql.raw(rnd('o.b', 23))} * pr.max_guests)::int as party,
        case
          when ci.check_in + n.nights <= (now() at time zone 'utc')::date then
            case when ${sql.raw(rnd('o.b', 24))} < 0.08 then 'cancelled' else 'completed' end
          when ci.check_in <= (now() at time zone 'utc')::date then 'confirmed'
          when ${sql.raw(rnd('o.b', 24))} < 0.08 then 'cancelled'
          when ${sql.raw(rnd('o.b', 24))} < 0.12 then 'expired'
          else 'confirmed' end as status,
        date_trunc('milliseconds', least(now() - interval '2 hours',
          ci.check_in::timestamptz - interval '1 day' * (1 + 60 * ${sql.raw(rnd('o.b', 25))}))) as created) x
  `.execute(trx);
  return Number(result.numAffectedRows ?? 0);
}

/** Stays of listings [lo, hi) as their ordinal range of ids. */
function staysOf(lo: number, hi: number) {
  return sql`bookings.id >= ${id(3, String(lo * 1000))} and bookings.id < ${id(3, String(hi * 1000))}`;
}

async function insertPayments(trx: Tx, lo: number, hi: number): Promise<number> {
  const ordinal = `('x' || right(replace(bookings.id::text, '-', ''), 12))::bit(48)::bigint`;
  const result = await sql`
    insert into payments (id, booking_id, payer_id, amount, currency, status, payment_method, provider, provider_reference,
      provider_idempotency_key, created_at, updated_at, succeeded_at)
    select ${id(5, ordinal)}, bookings.id, bookings.guest_id, bookings.total, bookings.currency, 'succeeded', 'card', 'local',
      'seed_' || ${sql.raw(ordinal)}, 'seed-' || ${sql.raw(ordinal)},
      bookings.created_at + interval '1 minute', bookings.confirmed_at, bookings.confirmed_at
    from bookings
    where ${staysOf(lo, hi)} and bookings.status in ('confirmed', 'completed')
  `.execute(trx);
  return Number(result.numAffectedRows ?? 0);
}

async function insertReviews(trx: Tx, lo: number, hi: number, share: number): Promise<number> {
  const ordinal = `('x' || right(replace(bookings.id::text, '-', ''), 12))::bit(48)::bigint`;
  const result = await sql`
    insert into reviews (id, booking_id, property_id, author_id, rating, comment, host_reply, host_replied_at,
      host_reply_updated_at, created_at, updated_at)
    select ${id(4, 'o.b')}, bookings.id, bookings.property_id, bookings.guest_id,
      case when ${sql.raw(rnd('o.b', 31))} < 0.5 then 5 when ${sql.raw(rnd('o.b', 31))} < 0.8 then 4
           when ${sql.raw(rnd('o.b', 31))} < 0.92 then 3 when ${sql.raw(rnd('o.b', 31))} < 0.97 then 2 else 1 end,
      (${textArray(COMMENTS)})[1 + (o.b % ${sql.lit(COMMENTS.length)})],
      case when reply then 'Thank you for staying with us!' end,
      case when reply then least(date_trunc('milliseconds', now()), created + interval '1 day') end,
      case when reply then least(date_trunc('milliseconds', now()), created + interval '1 day') end,
      created, created
    from bookings,
      lateral (select ${sql.raw(ordinal)} as b) o,
      lateral (select ${sql.raw(rnd('o.b', 33))} < 0.3 as reply,
        date_trunc('milliseconds', least(now() - interval '1 hour',
          bookings.check_out::timestamptz + interval '1 hour' * (2 + 200 * ${sql.raw(rnd('o.b', 32))}))) as created) r
    where ${staysOf(lo, hi)} and bookings.status = 'completed'
      and ((o.b / 1000) % 1000 = 1 or ${sql.raw(rnd('o.b', 30))} < ${sql.lit(share)})
  `.execute(trx);
  return Number(result.numAffectedRows ?? 0);
}

/**
 * The threads of listings [lo, hi): picked into seed_thread with their messages'
 * times and senders, then written as conversations, both participants and messages.
 */
async function insertConversations(
  trx: Tx,
  size: ScaleSize,
  lo: number,
  hi: number,
): Promise<{ conversations: number; participants: number; messages: number }> {
  const ordinal = `('x' || right(replace(s.id::text, '-', ''), 12))::bit(48)::bigint`;
  const heavyHost = id(1, String(HEAVY_HOST_ORDINAL));
  const heavyGuest = id(1, String(heavyGuestOrdinal(size)));
  await sql`truncate seed_thread`.execute(trx);
  // Message 1 is the guest's; each later one is the host's, or one in four times the guest's
  // again (so some threads are never answered), after a gap: the host answers in minutes to
  // hours, a guest follows up within a day. The thread ends `ends` (before the stay was booked,
  // or some day of the last two years for a question), and each time counts back from it.
  await sql`
    insert into seed_thread (t, property_id, guest_id, host_id, booking_id, n, at, host_sends)
    select th.t, th.property_id, th.guest_id, th.host_id, th.booking_id, m.n,
      case when th.t % ${sql.lit(1000 * 1000)} = ${sql.lit(LONG_THREAD_PROPERTY_ORDINAL * 1000 + QUESTION_SLOT)}
        then array(select e.ends - interval '3 hours' * (m.n - k) from generate_series(1, m.n) k)
        else (array[e.ends - (o.off[m.n] - o.off[1]), e.ends - (o.off[m.n] - o.off[2]), e.ends - (o.off[m.n] - o.off[3]), e.ends - (o.off[m.n] - o.off[4])])[1:m.n] end,
      case when th.t % ${sql.lit(1000 * 1000)} = ${sql.lit(LONG_THREAD_PROPERTY_ORDINAL * 1000 + QUESTION_SLOT)}
        then array(select k % 2 = 0 from generate_series(1, m.n) k)
        else (array[false, not m.guest2, not m.guest3, not m.guest4])[1:m.n] end
    from (
      select ${sql.raw(ordinal)} as t, s.property_id, s.guest_id, s.host_id, s.id as booking_id, s.created_at as anchor
      from (
        -- A pair's thread is linked to its latest stay, as ensureConversation links it.
        select distinct on (guest_id, property_id) id, property_id, guest_id, host_id, created_at
        from bookings where ${staysOf(lo, hi)}
        order by guest_id, property_id, created_at desc, id desc
      ) s
      where s.host_id = ${heavyHost} or s.guest_id = ${heavyGuest} or ${sql.raw(rnd(ordinal, 40))} < ${sql.lit(THREAD_SHARE)}
      union all
      select p * 1000 + ${sql.lit(QUESTION_SLOT)}, pr.id, ${heavyHost}, pr.host_id, null,
        now() - interval '1 day' * (1 + 700 * ${sql.raw(rnd('p', 47))})
      from generate_series(${sql.lit(lo)}, ${sql.lit(hi - 1)}) p
      join properties pr on pr.id = ${id(2, 'p')}
      where p % 100 = 50
    ) th,
      lateral (select
        case when th.t % ${sql.lit(1000 * 1000)} = ${sql.lit(LONG_THREAD_PROPERTY_ORDINAL * 1000 + QUESTION_SLOT)} then ${sql.lit(LONG_THREAD)}
          else 2 + floor(${sql.raw(rnd('th.t', 41))} * 3)::int end as n,
        ${sql.raw(rnd('th.t', 42))} < 0.25 as guest2, ${sql.raw(rnd('th.t', 43))} < 0.25 as guest3, ${sql.raw(rnd('th.t', 44))} < 0.25 as guest4) m,
      lateral (select
        case when m.guest2 then 10 + 1440 * ${sql.raw(rnd('th.t', 45))} else 5 + 720 * ${sql.raw(rnd('th.t', 45))} ^ 2 end as gap2,
        case when m.guest3 then 10 + 1440 * ${sql.raw(rnd('th.t', 46))} else 5 + 720 * ${sql.raw(rnd('th.t', 46))} ^ 2 end as gap3,
        case when m.guest4 then 10 + 1440 * ${sql.raw(rnd('th.t', 47))} else 5 + 720 * ${sql.raw(rnd('th.t', 47))} ^ 2 end as gap4) g,
      -- Each message's time after the first, in whole milliseconds as the API writes times.
      lateral (select array[interval '0', interval '1 millisecond' * round(60000 * g.gap2), interval '1 millisecond' * round(60000 * (g.gap2 + g.gap3)),
        interval '1 millisecond' * round(60000 * (g.gap2 + g.gap3 + g.gap4))] as off) o,
      lateral (select date_trunc('milliseconds', th.anchor - interval '1 minute' * (5 + 360 * ${sql.raw(rnd('th.t', 48))})) as ends) e
  `.execute(trx);

  const conversations = await sql`
    insert into conversations (id, property_id, guest_id, host_id, booking_id, created_at, last_activity_at)
    select ${id(6, 't')}, property_id, guest_id, host_id, booking_id, at[1], at[n] from seed_thread
  `.execute(trx);
  // Each participant read the thread up to its newest message, or (some) up to the one before,
  // and a few hosts never opened it: a read marker is the thread's last activity when it was set.
  const participants = await sql`
    insert into conversation_participants (conversation_id, user_id, role, last_read_at)
    select ${id(6, 't')}, guest_id, 'guest', case when ${sql.raw(rnd('t', 50))} < 0.8 then at[n] else at[n - 1] end from seed_thread
    union all
    select ${id(6, 't')}, host_id, 'host',
      case when ${sql.raw(rnd('t', 51))} < 0.7 then at[n] when ${sql.raw(rnd('t', 51))} < 0.9 then at[n - 1] end
    from seed_thread
  `.execute(trx);
  const messages = await sql`
    insert into messages (id, conversation_id, sender_id, body, created_at)
    select ${id(7, `t * ${MESSAGE_SLOTS} + k`)}, ${id(6, 't')}, case when host_sends[k] then host_id else guest_id end,
      case when k = 1 then (${textArray(QUESTIONS)})[1 + (t + k) % ${sql.lit(QUESTIONS.length)}]
        when host_sends[k] then (${textArray(ANSWERS)})[1 + (t + k) % ${sql.lit(ANSWERS.length)}]
        else (${textArray(FOLLOW_UPS)})[1 + (t + k) % ${sql.lit(FOLLOW_UPS.length)}] end,
      at[k]
    from seed_thread, generate_series(1, n) k
  `.execute(trx);
  return {
    conversations: Number(conversations.numAffectedRows ?? 0),
    participants: Number(participants.numAffectedRows ?? 0),
    messages: Number(messages.numAffectedRows ?? 0),
  };
}

/**
 * Wishlists of every 5th user (one to three, a few shared) and of the heavy guest, with
 * listings spread over the generated ones (a stride of 197 never repeats one within a list).
 */
async function insertWishlists(trx: Tx, size: ScaleSize): Promise<{ wishlists: number; items: number }> {
  const heavy = heavyGuestOrdinal(size);
  await sql`
    create temporary table seed_wishlist on commit drop as
    select ${sql.raw(`u * 64 + k`)} as w, u, k, created,
      case when u = ${sql.lit(heavy)} and k = 0 then ${sql.lit(FULL_WISHLIST_ITEMS)}
        when u = ${sql.lit(heavy)} then 1 + floor(${sql.raw(rnd('u * 64 + k', 61))} * 30)::int
        else 1 + floor(${sql.raw(rnd('u * 64 + k', 61))} ^ 2 * 20)::int end as items
    from generate_series(0, ${sql.lit(size.users - 1)}) u,
      lateral generate_series(0, case when u = ${sql.lit(heavy)} then ${sql.lit(HEAVY_GUEST_WISHLISTS - 1)}
        when u % 5 = 3 then floor(${sql.raw(rnd('u', 60))} * 3)::int else -1 end) k,
      lateral (select date_trunc('milliseconds', now() - interval '1 day' * (10 + 600 * ${sql.raw(rnd('u * 64 + k', 62))})) as created) c
  `.execute(trx);
  const wishlists = await sql`
    insert into wishlists (id, owner_id, name, share_token, created_at, updated_at)
    select ${id(8, 'w')}, ${id(1, 'u')},
      (${textArray(WISHLIST_NAMES)})[1 + k % ${sql.lit(WISHLIST_NAMES.length)}]
        || case when k >= ${sql.lit(WISHLIST_NAMES.length)} then ' (' || (1 + k / ${sql.lit(WISHLIST_NAMES.length)}) || ')' else '' end,
      -- 43 base64url characters, as a link token is; the heavy guest's full list is shared.
      case when (u = ${sql.lit(heavy)} and k = 0) or ${sql.raw(rnd('w', 63))} < 0.2
        then rtrim(translate(encode(sha256(convert_to('seed-wishlist-' || w, 'UTF8')), 'base64'), '+/', '-_'), '=') end,
      created, date_trunc('milliseconds', created + (now() - created) * 0.9)
    from seed_wishlist
  `.execute(trx);
  // Added one after another between the list's creation and its last change.
  const items = await sql`
    insert into wishlist_items (wishlist_id, property_id, added_at)
    select ${id(8, 'w')}, ${id(2, `((hashint8(w) & 2147483647) + i * 197) % ${size.properties}`)},
      date_trunc('milliseconds', created + (now() - created) * 0.9 * (i + 1) / items)
    from seed_wishlist, generate_series(0, items - 1) i
  `.execute(trx);
  return { wishlists: Number(wishlists.numAffectedRows ?? 0), items: Number(items.numAffectedRows ?? 0) };
}
