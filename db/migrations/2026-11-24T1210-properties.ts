/**
 * Properties (listings), with the invariants the database can keep itself and
 * the indexes behind the search filters of listProperties. Money is integer
 * minor units; amenities are checked against the fixed enum of the spec.
 * Frozen in time: raw SQL against Kysely<any>, no application imports.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table properties (
      id uuid primary key default gen_random_uuid(),
      host_id uuid not null references users (id),
      name text not null,
      description text not null,
      city text not null,
      country text not null constraint properties_country_check check (country ~ '^[A-Z]{2}$'),
      latitude double precision not null constraint properties_latitude_check check (latitude between -90 and 90),
      longitude double precision not null constraint properties_longitude_check check (longitude between -180 and 180),
      price_per_night integer not null constraint properties_price_per_night_check check (price_per_night > 0),
      currency text not null constraint properties_currency_check check (currency ~ '^[A-Z]{3}$'),
      cleaning_fee integer not null default 0 constraint properties_cleaning_fee_check check (cleaning_fee >= 0),
      max_guests integer not null constraint properties_max_guests_check check (max_guests between 1 and 50),
      bedrooms integer not null constraint properties_bedrooms_check check (bedrooms between 0 and 50),
      amenities text[] not null default '{}' constraint properties_amenities_check check (
        amenities <@ array[
          'wifi', 'kitchen', 'washer', 'dryer', 'air_conditioning', 'heating', 'tv', 'parking', 'pool',
          'hot_tub', 'gym', 'workspace', 'fireplace', 'pets_allowed', 'wheelchair_accessible', 'elevator',
          'bbq_grill', 'beach_access', 'ev_charger', 'crib'
        ]::text[]
      ),
      photos text[] not null default '{}' constraint properties_photos_check check (array_position(photos, null) is null),
      cancellation_policy text not null default 'moderate'
        constraint properties_cancellation_policy_check check (cancellation_policy in ('flexible', 'moderate', 'strict')),
      min_nights integer not null default 1 constraint properties_min_nights_check check (min_nights >= 1),
      max_nights integer not null default 365,
      -- Review aggregates, kept in step with the reviews (each rating is 1..5).
      rating_sum integer not null default 0,
      review_count integer not null default 0,
      created_at timestamptz not null default date_trunc('milliseconds', now()),
      updated_at timestamptz not null default date_trunc('milliseconds', now()),
      deleted_at timestamptz,
      constraint properties_max_nights_check check (max_nights >= min_nights),
      constraint properties_rating_check check (
        review_count >= 0 and rating_sum between review_count and 5 * review_count
      )
    )
  `.execute(db);

  await sql`
    create trigger properties_set_updated_at before update on properties
    for each row execute function set_updated_at()
  `.execute(db);

  // Search filters only ever look at listed (not deleted) properties.
  await sql`create index properties_city_idx on properties (lower(city)) where deleted_at is null`.execute(db);
  await sql`create index properties_country_idx on properties (country) where deleted_at is null`.execute(db);
  await sql`create index properties_price_idx on properties (price_per_night) where deleted_at is null`.execute(db);
  await sql`create index properties_amenities_idx on properties using gin (amenities) where deleted_at is null`.execute(db);
  await sql`create index properties_location_idx on properties (latitude, longitude) where deleted_at is null`.execute(db);
  await sql`create index properties_newest_idx on properties (created_at desc, id desc) where deleted_at is null`.execute(db);
  // Not partial: a host's own listings, and the foreign key check when a user goes.
  await sql`create index properties_host_id_idx on properties (host_id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table properties`.execute(db);
}
