/**
 * Queries on properties, including the search behind listProperties. Filters are
 * answered by indexed SQL (see the properties migration), never by scanning in JS.
 */
import { sql, type Expression, type Insertable, type RawBuilder, type Selectable, type SqlBool, type Updateable } from 'kysely';
import type { Db, Tx } from './index.js';
import type { Properties } from '../generated/db.js';
import { isFreeFor } from './bookings.js';

export type PropertyRow = Selectable<Properties>;
export type PropertySearchRow = PropertyRow & { distance_km: number | null };
export type NewProperty = Insertable<Properties>;

export async function insertProperty(db: Db | Tx, row: Insertable<Properties>): Promise<PropertyRow> {
  return db.insertInto('properties').values(row).returningAll().executeTakeFirstOrThrow();
}

/** Several listings at once (the demo data and generated benchmark listings). */
export async function insertProperties(db: Db | Tx, rows: NewProperty[]): Promise<PropertyRow[]> {
  if (rows.length === 0) return [];
  return db.insertInto('properties').values(rows).returningAll().execute();
}

/** How many listings a host has, withdrawn ones included. */
export async function countPropertiesOfHost(db: Db | Tx, hostId: string): Promise<number> {
  const { count } = await db
    .selectFrom('properties')
    .select((eb) => eb.cast<number>(eb.fn.countAll(), 'integer').as('count'))
    .where('host_id', '=', hostId)
    .executeTakeFirstOrThrow();
  return count;
}

/** A listed (not deleted) property by id. */
export async function findPropertyById(db: Db | Tx, id: string): Promise<PropertyRow | undefined> {
  return db.selectFrom('properties').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
}

/** Listed properties by id, in one query (GraphQL's batched links); ids with no listed property are simply absent. */
export async function findPropertiesByIds(db: Db | Tx, ids: readonly string[]): Promise<PropertyRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('properties').selectAll().where('id', 'in', ids).where('deleted_at', 'is', null).execute();
}

export async function updateProperty(db: Db | Tx, id: string, changes: Updateable<Properties>): Promise<PropertyRow | undefined> {
  return db.updateTable('properties').set(changes).where('id', '=', id).where('deleted_at', 'is', null).returningAll().executeTakeFirst();
}

export async function withdrawProperty(db: Db | Tx, id: string): Promise<boolean> {
  const result = await db
    .updateTable('properties')
    .set({ deleted_at: new Date() })
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

export type PropertySort = 'price_asc' | 'price_desc' | 'rating' | 'newest' | 'distance';

export interface PropertySearch {
  city?: string;
  country?: string;
  guests?: number;
  minPrice?: number;
  maxPrice?: number;
  amenities?: string[];
  near?: { latitude: number; longitude: number; radiusKm: number };
  /** Only listings free for the whole stay, and whose night limits allow its length. */
  stay?: { checkIn: string; checkOut: string; nights: number };
  sort: PropertySort;
  /** The sort key and id of the last row of the previous page. */
  after?: [number | string, string];
  limit: number;
}

const EARTH_RADIUS_KM = 6371;

/** Great-circle distance in km from a point to each property (haversine). */
function distanceKm(latitude: number, longitude: number): RawBuilder<number> {
  return sql<number>`(${EARTH_RADIUS_KM} * 2 * asin(sqrt(
    power(sin(radians(latitude - ${latitude}) / 2), 2) +
    cos(radians(${latitude})) * cos(radians(latitude)) * power(sin(radians(longitude - ${longitude}) / 2), 2)
  )))`;
}

/** The smallest latitude/longitude box that holds every point within `radiusKm` of a point. */
function boundingBox(latitude: number, longitude: number, radiusKm: number) {
  const degrees = (radians: number) => (radians * 180) / Math.PI;
  const SLACK = 1e-6;
  const angle = radiusKm / EARTH_RADIUS_KM;
  const latDelta = degrees(angle) + SLACK;
  const box: { minLatitude: number; maxLatitude: number; minLongitude?: number; maxLongitude?: number } = {
    minLatitude: latitude - latDelta,
    maxLatitude: latitude + latDelta,
  };
  if (box.maxLatitude >= 90 || box.minLatitude <= -90) return box;
  // The widest longitude the circle reaches (at a latitude slightly poleward of the centre).
  const lngDelta = degrees(Math.asin(Math.sin(angle) / Math.cos((latitude * Math.PI) / 180))) + SLACK;
  if (longitude - lngDelta <= -180 || longitude + lngDelta >= 180) return box;
  return { ...box, minLongitude: longitude - lngDelta, maxLongitude: longitude + lngDelta };
}

/** Average rating used for sorting; listings without reviews sort last. */
const ratingKey = sql<number>`(case when review_count > 0 then rating_sum::float8 / review_count else 0 end)`;

/** The sort key of each order, with its direction; ties are broken by id in the same direction. */
function sortKey(search: PropertySearch): { key: Expression<unknown>; direction: 'asc' | 'desc' } {
  switch (search.sort) {
    case 'price_asc':
      return { key: sql`price_per_night`, direction: 'asc' };
    case 'price_desc':
      return { key: sql`price_per_night`, direction: 'desc' };
    case 'rating':
      return { key: ratingKey, direction: 'desc' };
    case 'distance':
      if (!search.near) throw new Error('sort=distance needs near');
      return { key: distanceKm(search.near.latitude, search.near.longitude), direction: 'asc' };
    case 'newest':
      return { key: sql`created_at`, direction: 'desc' };
  }
}

export async function searchProperties(db: Db, search: PropertySearch): Promise<PropertySearchRow[]> {
  const { key, direction } = sortKey(search);
  const near = search.near;
  let query = db
    .selectFrom('properties')
    .selectAll()
    .select(near ? distanceKm(near.latitude, near.longitude).as('distance_km') : sql<null>`null`.as('distance_km'))
    .where('deleted_at', 'is', null);

  if (search.city) query = query.where(sql<SqlBool>`lower(city) = ${search.city.toLowerCase()}`);
  if (search.country) query = query.where('country', '=', search.country);
  if (search.guests !== undefined) query = query.where('max_guests', '>=', search.guests);
  if (search.minPrice !== undefined) query = query.where('price_per_night', '>=', search.minPrice);
  if (search.maxPrice !== undefined) query = query.where('price_per_night', '<=', search.maxPrice);
  if (search.amenities && search.amenities.length > 0) {
    query = query.where(sql<SqlBool>`amenities @> ${sql.val(search.amenities)}::text[]`);
  }
  if (near) {
    // A bounding box first, so the GiST index over point(longitude, latitude) narrows the
    // rows the exact distance is computed for. It must contain the whole circle: its
    // half-widths are the exact spherical ones (with a hair of slack for rounding), and a
    // circle that reaches a pole or crosses the antimeridian is not narrowed by longitude.
    const box = boundingBox(near.latitude, near.longitude, near.radiusKm);
    const minLongitude = box.minLongitude ?? -180;
    const maxLongitude = box.maxLongitude ?? 180;
    query = query.where(
      sql<SqlBool>`point(longitude, latitude) <@ box(point(${minLongitude}::float8, ${box.minLatitude}::float8), point(${maxLongitude}::float8, ${box.maxLatitude}::float8))`,
    );
    query = query.where(sql<SqlBool>`${distanceKm(near.latitude, near.longitude)} <= ${near.radiusKm}`);
  }
  if (search.stay) {
    const { checkIn, checkOut, nights } = search.stay;
    query = query.where('min_nights', '<=', nights).where('max_nights', '>=', nights).where(isFreeFor(checkIn, checkOut));
  }
  if (search.after) {
    const [afterKey, afterId] = search.after;
    const value = search.sort === 'newest' ? new Date(afterKey) : afterKey;
    const op = direction === 'asc' ? sql`>` : sql`<`;
    query = query.where(sql<SqlBool>`(${key}, id) ${op} (${value}, ${afterId})`);
  }
  return query
    .orderBy(key, direction)
    .orderBy('id', direction)
    .limit(search.limit + 1)
    .execute() as Promise<PropertySearchRow[]>;
}

/** The value of the sort key of a row, as the cursor keeps it. */
export function sortValueOf(row: PropertySearchRow, sort: PropertySort): number | string {
  switch (sort) {
    case 'price_asc':
    case 'price_desc':
      return row.price_per_night;
    case 'rating':
      return row.review_count > 0 ? row.rating_sum / row.review_count : 0;
    case 'distance':
      return row.distance_km ?? 0;
    case 'newest':
      return row.created_at.toISOString();
  }
}
