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
 * - bookings.host_id, copied from the stay's listing by a BEFORE trigger (so no
 *   writer has to know it) and held equal to it by a foreign key to properties
 *   (id, host_id), with bookings_host_idx: listBookings as a host is then one
 *   index range like the guest's. Through `property_id in (the host's listings)`
 *   PostgreSQL read a host of 1,000 listings and 10k stays by a parallel
 *   sequential scan of properties and a sort (75-146 ms on the large seed).
 *   The column is nullable for Kysely's insert types (the trigger fills it) and a
 *   CHECK, evaluated after the trigger, keeps it set.
 * - properties_host_id_id_key (unique (host_id, id)) replaces properties_host_id_idx:
 *   the target of that foreign key, and still a host's listings.
 * - properties_city_newest_idx: a city search in the default order (newest) walks the
 *   city's listings newest first and stops at a page, instead of reading them all and
 *   sorting; with free dates that is one stay probe per listing on the page, not one per
 *   listing of the city (93 ms for Paris at a median price on the large seed, 0.3 ms after).
 * - bookings_live_stays_idx: that stay probe ("does a live stay overlap these dates?")
 *   as a btree range over a listing's live stays by check-out, a few buffers each, where
 *   the exclusion constraint's GiST index read about 35.
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
  await sql`create unique index properties_host_id_id_key on properties (host_id, id)`.execute(db);
  await sql`drop index properties_host_id_idx`.execute(db);
  await sql`create index properties_city_newest_idx on properties (lower(city), created_at desc, id desc) where deleted_at is null`.execute(db);
  await sql`
    create index bookings_live_stays_idx on bookings (property_id, check_out) include (check_in)
    where status in ('pending', 'confirmed')
  `.execute(db);
  await sql`alter table bookings add column host_id uuid`.execute(db);
  await sql`update bookings set host_id = properties.host_id from properties where properties.id = bookings.property_id`.execute(db);
  await sql`
    alter table bookings add constraint bookings_host_fkey foreign key (property_id, host_id) references properties (id, host_id)
  `.execute(db);
  await sql`alter table bookings add constraint bookings_host_id_check check (host_id is not null)`.execute(db);
  await sql`
    create function bookings_set_host_id() returns trigger
    language plpgsql as $$
    begin
      -- On insert only when not given (the seed gives it; the foreign key checks it either way).
      if tg_op = 'UPDATE' or new.host_id is null then
        new.host_id := (select host_id from properties where id = new.property_id);
      end if;
      return new;
    end;
    $$
  `.execute(db);
  await sql`
    create trigger bookings_set_host_id before insert or update of property_id on bookings
    for each row execute function bookings_set_host_id()
  `.execute(db);
  await sql`create index bookings_host_idx on bookings (host_id, created_at desc, id desc)`.execute(db);

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
  await sql`drop trigger bookings_set_host_id on bookings`.execute(db);
  await sql`drop function bookings_set_host_id()`.execute(db);
  await sql`alter table bookings drop column host_id`.execute(db);
  await sql`drop index bookings_live_stays_idx`.execute(db);
  await sql`drop index properties_city_newest_idx`.execute(db);
  await sql`create index properties_host_id_idx on properties (host_id)`.execute(db);
  await sql`drop index properties_host_id_id_key`.execute(db);
  await sql`create index properties_location_idx on properties (latitude, longitude) where deleted_at is null`.execute(db);
  await sql`drop index properties_point_idx`.execute(db);
  await sql`drop index properties_city_price_idx`.execute(db);
  await sql`create index properties_price_idx on properties (price_per_night) where deleted_at is null`.execute(db);
  await sql`drop index properties_price_id_idx`.execute(db);
}
