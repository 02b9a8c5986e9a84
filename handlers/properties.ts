/**
 * Properties: listings owned by hosts, and the search guests use to find them.
 * Only the owning host or an admin changes a listing.
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
  const held = await findHeldStays(db, propertyId, from, to);
  const blocked = new Set(await findBlockedNights(db, propertyId, from, to));
  const today = utcToday();
  const nights = nightsOf(from, to).map((date) => {
    const status: 'free' | 'booked' | 'blocked' =
      date < today || blocked.has(date) ? 'blocked' : held.some((stay) => stay.check_in <= date && date < stay.check_out) ? 'booked' : 'free';
    return { date, status };
  });
  return { property_id: propertyId, from, to, nights };
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
    return {
      status: 200,
      body: page(rows, limit, propertyRowToProperty, (row: PropertySearchRow) => [sortValueOf(row, sort), row.id]),
    };
  },

  async createProperty({ body }, ctx) {
    const auth = permit(mayListProperty(caller(ctx)));
    assertNightLimits(body, { min_nights: 1, max_nights: 365 });
    const row = await insertProperty(ctx.deps.db, { ...body, host_id: auth.id });
    return { status: 201, body: propertyRowToProperty(row), headers: { Location: `/properties/${row.id}` } };
  },

  async getProperty({ path }, ctx) {
    const row = await findPropertyById(ctx.deps.db, path.property_id);
    if (!row) throw new ApiError('not_found', 'No such property.');
    return { status: 200, body: propertyRowToProperty(row) };
  },

  async updateProperty({ path, body }, ctx) {
    const current = permit(mayManageProperty(caller(ctx), await findPropertyById(ctx.deps.db, path.property_id)));
    assertNightLimits(body, current);
    const row = await updateProperty(ctx.deps.db, current.id, body);
    if (!row) throw new ApiError('not_found', 'No such property.');
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
    return { status: 204 };
  },

  async getPropertyAvailability({ path, query }, ctx) {
    assertCalendarWindow(query.from, query.to, 'query');
    const listing = await findPropertyById(ctx.deps.db, path.property_id);
    if (!listing) throw new ApiError('not_found', 'No such property.');
    return { status: 200, body: await calendar(ctx.deps.db, listing.id, query.from, query.to) };
  },

  async updatePropertyAvailability({ path, body }, ctx) {
    const auth = caller(ctx);
    assertCalendarWindow(body.from, body.to, 'body');
    if (body.from < utcToday()) throw invalidFields([{ path: 'body.from', message: 'must not be in the past' }], 'Past nights cannot be changed.');
    return ctx.deps.db.transaction().execute(async (trx) => {
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
      return { status: 200, body: await calendar(trx, listing.id, body.from, body.to) };
    });
  },
};
