/**
 * Properties: listings owned by hosts, and the search guests use to find them.
 * Only the owning host or an admin changes a listing.
 *
 * getProperty, listProperties and getPropertyAvailability answer the same to every
 * caller, so they are read through the cache (server/cache.ts); every write here bumps
 * what it changed once its transaction has committed.
 */
import {
  blockNights,
  findBlockedNights,
  findHeldStays,
  hasUpcomingStays,
  lockListing,
  unblockNights,
} from '../db/bookings.js';
import type { Db, Tx } from '../db/index.js';
import {
  findPropertyById,
  insertProperty,
  searchProperties,
  sortValueOf,
  updateProperty,
  withdrawProperty,
  type PropertySearchRow,
} from '../db/properties.js';
import type { Availability } from '../generated/client/types.gen.js';
import { daysBetween, nightsOf, utcToday } from '../server/dates.js';
import { cachedReply } from '../server/cache.js';
import { ApiError, invalidFields, type FieldError } from '../server/errors.js';
import { caller, type ResourceHandlers } from '../server/operations.js';
import { decodeCursor, page } from '../server/pagination.js';
import { mayListProperty, mayManageProperty, permit } from './access.js';
import { propertyRowToProperty } from './presenters.js';

const MAX_CALENDAR_NIGHTS = 366;

/** A calendar window [from, to): `to` after `from`, at most 366 nights. */
function assertCalendarWindow(from: string, to: string, location: 'query' | 'body'): void {
  const nights = daysBetween(from, to);
  if (nights < 1) throw invalidFields([{ path: `${location}.to`, message: 'must be after from' }]);
  if (nights > MAX_CALENDAR_NIGHTS) throw invalidFields([{ path: `${location}.to`, message: `must be at most ${MAX_CALENDAR_NIGHTS} days after from` }]);
}

/** Each night of [from, to): past nights and nights the host blocked are blocked, held ones booked. */
async function calendar(db: Db | Tx, propertyId: string, from: string, to: string): Promise<Availability> {
  return (await calendarUntilChanged(db, propertyId, from, to)).availability;
}

/**
 * The calendar, and for how long it stays right by itself: a pending hold frees its
 * nights when it lapses, which no write announces, so a cached calendar lives no longer.
 */
async function calendarUntilChanged(db: Db | Tx, propertyId: string, from: string, to: string) {
  const held = await findHeldStays(db, propertyId, from, to);
  const lapses = held.flatMap((stay) => (stay.expires_at ? [stay.expires_at.getTime()] : []));
  const ttlMs = lapses.length > 0 ? Math.max(0, Math.min(...lapses) - Date.now()) : undefined;
  const blocked = new Set(await findBlockedNights(db, propertyId, from, to));
  const today = utcToday();
  const nights = nightsOf(from, to).map((date) => {
    const status: 'free' | 'booked' | 'blocked' =
      date < today || blocked.has(date) ? 'blocked' : held.some((stay) => stay.check_in <= date && date < stay.check_out) ? 'booked' : 'free';
    return { date, status };
  });
  return { availability: { property_id: propertyId, from, to, nights } satisfies Availability, ttlMs };
}

/** check_in and check_out of a search: both or neither, in order, not in the past. */
function searchedStay(query: { check_in?: string; check_out?: string }, problems: FieldError[]) {
  const { check_in: checkIn, check_out: checkOut } = query;
  if (checkIn === undefined && checkOut === undefined) return undefined;
  if (checkIn === undefined) problems.push({ path: 'query.check_in', message: 'is required with check_out' });
  if (checkOut === undefined) problems.push({ path: 'query.check_out', message: 'is required with check_in' });
  if (checkIn === undefined || checkOut === undefined) return undefined;
  if (checkOut <= checkIn) problems.push({ path: 'query.check_out', message: 'must be after check_in' });
  if (checkIn < utcToday()) problems.push({ path: 'query.check_in', message: 'must not be in the past' });
  return { checkIn, checkOut, nights: daysBetween(checkIn, checkOut) };
}

/** Refuses min_nights above max_nights, naming the field the client sent (max_nights when it sent both). */
function assertNightLimits(body: { min_nights?: number; max_nights?: number }, current: { min_nights: number; max_nights: number }): void {
  const minNights = body.min_nights ?? current.min_nights;
  const maxNights = body.max_nights ?? current.max_nights;
  if (minNights <= maxNights) return;
  const problem =
    body.max_nights !== undefined
      ? { path: 'body.max_nights', message: `must be at least min_nights (${minNights})` }
      : { path: 'body.min_nights', message: `must be at most max_nights (${maxNights})` };
  throw invalidFields([problem], 'min_nights cannot be more than max_nights.');
}

/** "lat,lng" as the spec's pattern admits it, checked for range. */
function parseNear(near: string): { latitude: number; longitude: number } {
  const [latitude, longitude] = near.split(',').map(Number) as [number, number];
  if (!(Math.abs(latitude) <= 90) || !(Math.abs(longitude) <= 180)) {
    throw invalidFields(
      [{ path: 'query.near', message: 'latitude must be within -90..90 and longitude within -180..180' }],
      'near must be "latitude,longitude" within -90..90 and -180..180.',
    );
  }
  return { latitude, longitude };
}

export const propertyHandlers: ResourceHandlers<
  | 'listProperties'
  | 'createProperty'
  | 'getProperty'
  | 'updateProperty'
  | 'deleteProperty'
  | 'getPropertyAvailability'
  | 'updatePropertyAvailability'
> = {
  async listProperties({ query }, ctx) {
    const problems: FieldError[] = [];
    const stay = searchedStay(query, problems);
    if (query.min_price !== undefined && query.max_price !== undefined && query.min_price > query.max_price) {
      problems.push({ path: 'query.max_price', message: 'must not be less than min_price' });
    }
    const sort = query.sort ?? 'newest';
    if (!query.near && sort === 'distance') problems.push({ path: 'query.near', message: 'is required to sort by distance' });
    if (problems.length > 0) throw invalidFields(problems);

    const limit = query.limit ?? 20;
    const after = decodeCursor(query.cursor, [sort === 'newest' ? 'timestamp' : sort === 'price_asc' || sort === 'price_desc' ? 'integer' : 'number', 'uuid']);
    // Free-dates searches also move with every booking; the others only with listings and ratings.
    const scope = stay ? { search: true as const, stays: true as const } : { search: true as const };
    const answer = await ctx.deps.cache.read('listProperties', scope, { ...query, sort, limit }, async () => {
      const rows = await searchProperties(ctx.deps.db, {
      city: query.city,
      country: query.country,
      guests: query.guests,
      minPrice: query.min_price,
      maxPrice: query.max_price,
      amenities: query.amenities,
      near: query.near ? { ...parseNear(query.near), radiusKm: query.radius_km ?? 25 } : undefined,
      stay,
      sort,
      after: after as [number | string, string] | undefined,
      limit,
      });
      return { body: page(rows, limit, propertyRowToProperty, (row: PropertySearchRow) => [sortValueOf(row, sort), row.id]) };
    });
    return cachedReply(answer, ctx.auth, ctx.deps.config.cacheMaxAgeSeconds);
  },

  async createProperty({ body }, ctx) {
    const auth = permit(mayListProperty(caller(ctx)));
    assertNightLimits(body, { min_nights: 1, max_nights: 365 });
    const row = await insertProperty(ctx.deps.db, { ...body, host_id: auth.id });
    await ctx.deps.cache.bump({ search: true });
    return { status: 201, body: propertyRowToProperty(row), headers: { Location: `/properties/${row.id}` } };
  },

  async getProperty({ path }, ctx) {
    const answer = await ctx.deps.cache.read('getProperty', { property: path.property_id }, path.property_id, async () => {
      const row = await findPropertyById(ctx.deps.db, path.property_id);
      if (!row) throw new ApiError('not_found', 'No such property.');
      return { body: propertyRowToProperty(row) };
    });
    return cachedReply(answer, ctx.auth, ctx.deps.config.cacheMaxAgeSeconds);
  },

  async updateProperty({ path, body }, ctx) {
    const current = permit(mayManageProperty(caller(ctx), await findPropertyById(ctx.deps.db, path.property_id)));
    assertNightLimits(body, current);
    const row = await updateProperty(ctx.deps.db, current.id, body);
    if (!row) throw new ApiError('not_found', 'No such property.');
    await ctx.deps.cache.bump({ property: row.id, search: true });
    return { status: 200, body: propertyRowToProperty(row) };
  },

  async deleteProperty({ path }, ctx) {
    const auth = caller(ctx);
    await ctx.deps.db.transaction().execute(async (trx) => {
      // Locked, so no stay can be booked between the check and the withdrawal.
      const listing = permit(mayManageProperty(auth, await lockListing(trx, path.property_id)));
      if (await hasUpcomingStays(trx, listing.id)) {
        throw new ApiError('property_has_upcoming_stays', 'The property has pending or confirmed stays that have not ended; cancel them first.');
      }
      await withdrawProperty(trx, listing.id);
    });
    await ctx.deps.cache.bump({ property: path.property_id, search: true });
    return { status: 204 };
  },

  async getPropertyAvailability({ path, query }, ctx) {
    assertCalendarWindow(query.from, query.to, 'query');
    // Past nights read as blocked: the same window is another answer tomorrow.
    const key = { id: path.property_id, from: query.from, to: query.to, today: utcToday() };
    const answer = await ctx.deps.cache.read('getPropertyAvailability', { property: path.property_id }, key, async () => {
      const listing = await findPropertyById(ctx.deps.db, path.property_id);
      if (!listing) throw new ApiError('not_found', 'No such property.');
      const { availability, ttlMs } = await calendarUntilChanged(ctx.deps.db, listing.id, query.from, query.to);
      return { body: availability, ttlMs };
    });
    return cachedReply(answer, ctx.auth, ctx.deps.config.cacheMaxAgeSeconds);
  },

  async updatePropertyAvailability({ path, body }, ctx) {
    const auth = caller(ctx);
    assertCalendarWindow(body.from, body.to, 'body');
    if (body.from < utcToday()) throw invalidFields([{ path: 'body.from', message: 'must not be in the past' }], 'Past nights cannot be changed.');
    const reply = await ctx.deps.db.transaction().execute(async (trx) => {
      // Locked like createBooking locks it, so a night cannot be booked and blocked at once.
      const listing = permit(mayManageProperty(auth, await lockListing(trx, path.property_id)));
      if (body.blocked) {
        const held = await findHeldStays(trx, listing.id, body.from, body.to);
        if (held.length > 0) {
          const stays = held.map((stay) => `${stay.check_in} to ${stay.check_out}`).join(', ');
          throw new ApiError('dates_unavailable', `Booked nights cannot be blocked (stays ${stays}); cancel those bookings first.`);
        }
        await blockNights(trx, listing.id, nightsOf(body.from, body.to));
      } else {
        await unblockNights(trx, listing.id, body.from, body.to);
      }
      return { status: 200 as const, body: await calendar(trx, listing.id, body.from, body.to) };
    });
    await ctx.deps.cache.bump({ property: path.property_id, stays: true });
    return reply;
  },
};
