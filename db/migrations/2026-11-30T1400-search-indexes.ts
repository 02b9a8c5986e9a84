/**
 * Indexes for the served query shapes at scale (issue 14), each proven by
 * `npm run explain` on the large seed, and the seed's marker row.
 *
 * - properties_price_id_idx replaces properties_price_idx: price sorts order by
 *   (price_per_night, id), so a page and its cursor are read off the index.
 * - properties_city_price_idx: the commonest search, a city with a price range,
 *   sorted by price, without visiting the city's other listings.
 * - properties_point_idx: `near` as a GiST box search over point(longitude,
 *   latitude) (core PostgreSQL, no extension, so PGlite runs it too); the btree
 *   over (latitude, longitude) could only use its first column's range.
 * - seed_marker: one row that `npm run db:seed -- --size` writes, so a second
 *   run knows what the database holds (scripts/seed-scale.ts).
 * Frozen in time: raw SQL against Kysely<any>, no application imports.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index properties_price_id_idx on properties (price_per_night, id) where deleted_at is null`.execute(db);
  await sql`drop index properties_price_idx`.execute(db);
  await sql`create index properties_city_price_idx on properties (lower(city), price_per_night, id) where deleted_at is null`.execute(db);
  await sql`create index properties_point_idx on properties using gist (point(longitude, latitude)) where deleted_at is null`.execute(db);
  await sql`drop index properties_location_idx`.execute(db);

  await sql`
    create table seed_marker (
      only_row boolean primary key default true constraint seed_marker_only_row_check check (only_row),
      size text not null,
      version integer not null,
      counts jsonb not null,
      seeded_at timestamptz not null default date_trunc('milliseconds', now())
    )
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table seed_marker`.execute(db);
  await sql`create index properties_location_idx on properties (latitude, longitude) where deleted_at is null`.execute(db);
  await sql`drop index properties_point_idx`.execute(db);
  await sql`drop index properties_city_price_idx`.execute(db);
  await sql`create index properties_price_idx on properties (price_per_night) where deleted_at is null`.execute(db);
  await sql`drop index properties_price_id_idx`.execute(db);
}
