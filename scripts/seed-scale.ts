/**
 * Data at scale for benchmarks and the EXPLAIN check (issue 14): users, listings
 * over ~50 real cities, stays over two past years and the next one, reviews of
 * past stays and payments of the paid ones, generated inside PostgreSQL by
 * INSERT … SELECT over generate_series (nothing crosses the wire but the
 * statements), in chunks so a progress bar can show rows/s and an ETA.
 *
 * Deterministic: every "random" choice is a hash of the row's ordinal
 * (hashint8), so two runs of a size produce the same rows, ids included
 * (`5eed000K-0000-4000-8000-<ordinal>`, K = 1 users, 2 listings, 3 stays,
 * 4 reviews, 5 payments).
 *
 * Constraints stay on and valid: stays of a listing are laid in disjoint slots
 * of the calendar, so the exclusion constraint never refuses one; prices follow
 * handlers/bookings/rules.ts (subtotal = nights × rate, the service fee's
 * rounding); a review is of a completed stay, one per stay, by its guest. The
 * one shortcut: the ratings trigger is disabled while reviews are inserted (it
 * would update a listing once per review) and the aggregates are written once
 * afterwards, all in the same transaction, so nobody sees them disagree.
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
export const SEED_VERSION = 1;

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

/** The generated user who hosts every 100th listing (10k stays at large) and the guest of every 100th stay. */
export const HEAVY_HOST_ORDINAL = 0;
export const heavyGuestOrdinal = (size: ScaleSize) => size.users / 10;
export const seedId = (kind: 1 | 2 | 3 | 4 | 5, ordinal: number) => `5eed000${kind}-0000-4000-8000-${ordinal.toString(16).padStart(12, '0')}`;

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

const textArray = (values: string[]) => sql`array[${sql.join(values.map((v) => sql.lit(v)))}]::text[]`;

export interface ScaleProgress {
  /** Rows the whole seed will insert, about. */
  start(totalRows: number): void;
  advance(rows: number, phase: string): void;
  stop(): void;
}

export interface ScaleResult {
  counts: Record<'users' | 'properties' | 'bookings' | 'payments' | 'reviews', number>;
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
  progress?.start(size.users + size.properties + stays * 2 + size.reviews);

  const counts = { users: 0, properties: 0, bookings: 0, payments: 0, reviews: 0 };
  await db.transaction().execute(async (trx) => {
    // The planner's estimates for these statements are huge, so PostgreSQL would JIT-compile
    // each one: measured, that took 20 s a statement and the insert itself 4 s.
    await sql`set local jit = off`.execute(trx);
    await sql`create temporary table seed_city (n int primary key, city text, country text, currency text, latitude float8, longitude float8, base int) on commit drop`.execute(trx);
    await sql`insert into seed_city values ${sql.join(
      CITIES.map(([city, country, currency, lat, lon, base], n) => sql`(${sql.lit(n)}, ${sql.lit(city)}, ${sql.lit(country)}, ${sql.lit(currency)}, ${sql.lit(lat)}, ${sql.lit(lon)}, ${sql.lit(base)})`),
    )}`.execute(trx);
    await sql`alter table reviews disable trigger reviews_keep_property_ratings`.execute(trx);

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
    }

    await sql`alter table reviews enable trigger reviews_keep_property_ratings`.execute(trx);
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
