/**
 * Properties: hosts list, change and withdraw their listings; anyone reads and
 * searches them. Every test goes through the generated client (raw fetch only for
 * bodies the client cannot send) and checks what the database holds afterwards.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import type { ListPropertiesData, Property, PropertyInput } from '../generated/client/types.gen.js';
import {
  createAdmin,
  createBooking,
  createHost,
  createProperty,
  createReview,
  createUser,
  fromToday,
  insertPastStay,
  payStay,
  propertyInput,
  type Account,
} from './support/factories.js';
import { expectProblem } from './support/problems.js';
import { useTestApp } from './support/app.js';

const { server } = useTestApp();

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

function unique(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

function propertyRow(id: string) {
  return server.deps.db.selectFrom('properties').selectAll().where('id', '=', id).executeTakeFirst();
}

async function propertyCount(): Promise<number> {
  const { count } = await server.deps.db
    .selectFrom('properties')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .executeTakeFirstOrThrow();
  return Number(count);
}

/** Sends a body the typed client would refuse to build. */
function rawPost(path: string, body: string, headers: Record<string, string>, token?: string): Promise<Response> {
  return fetch(server.url + path, {
    method: 'POST',
    headers: { ...headers, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body,
  });
}

const EARTH_RADIUS_KM = 6371;
const rad = (degrees: number) => (degrees * Math.PI) / 180;
const deg = (radians: number) => (radians * 180) / Math.PI;

interface Point {
  latitude: number;
  longitude: number;
}

/** Great-circle distance (haversine), computed independently of the server. */
function haversineKm(a: Point, b: Point): number {
  const h =
    Math.sin(rad(b.latitude - a.latitude) / 2) ** 2 +
    Math.cos(rad(a.latitude)) * Math.cos(rad(b.latitude)) * Math.sin(rad(b.longitude - a.longitude) / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.sqrt(h));
}

/** The point `km` away from `from` on the initial bearing `bearing` (degrees clockwise from north). */
function destination(from: Point, bearing: number, km: number): Point {
  const d = km / EARTH_RADIUS_KM;
  const lat1 = rad(from.latitude);
  const lat2 = Math.asin(Math.sin(lat1) * Math.cos(d) + Math.cos(lat1) * Math.sin(d) * Math.cos(rad(bearing)));
  const lng2 =
    rad(from.longitude) +
    Math.atan2(Math.sin(rad(bearing)) * Math.sin(d) * Math.cos(lat1), Math.cos(d) - Math.sin(lat1) * Math.sin(lat2));
  return { latitude: deg(lat2), longitude: deg(lng2) };
}

describe('createProperty', () => {
  let host: Account;
  let guest: Account;
  let admin: Account;

  beforeAll(async () => {
    [host, guest, admin] = await Promise.all([createHost(server.client), createUser(server.client), createAdmin(server)]);
  });

  /** Asserts a 400 validation_failed naming `path`, and that no listing was written. */
  async function expectRefused(body: unknown, path: string): Promise<void> {
    const before = await propertyCount();
    const { data, error, response } = await api.createProperty({ client: server.client, auth: host.token, body: body as never });
    expect(response.status).toBe(400);
    expect(data).toBeUndefined();
    expect(error?.code).toBe('validation_failed');
    expect(error?.errors?.map((e) => e.path)).toContain(path);
    expect(await propertyCount()).toBe(before);
  }

  it('lists a property for a host with 201, a Location header and the caller as host', async () => {
    const input = propertyInput({ name: unique('Loft'), amenities: ['wifi', 'kitchen', 'pool'] });
    const { data, response } = await api.createProperty({ client: server.client, auth: host.token, body: input });

    expect(response.status).toBe(201);
    expect(data).toMatchObject({ ...input, host_id: host.id, rating_average: null, review_count: 0 });
    expect(data?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers.get('location')).toBe(`/properties/${data?.id}`);

    const row = await propertyRow(data!.id);
    expect(row).toMatchObject({
      host_id: host.id,
      name: input.name,
      city: 'Lisbon',
      country: 'PT',
      latitude: 38.7077,
      longitude: -9.1365,
      price_per_night: 12000,
      currency: 'EUR',
      cleaning_fee: 3000,
      max_guests: 4,
      bedrooms: 2,
      amenities: ['wifi', 'kitchen', 'pool'],
      photos: ['https://images.example.com/loft-1.jpg'],
      cancellation_policy: 'moderate',
      min_nights: 1,
      max_nights: 30,
      rating_sum: 0,
      review_count: 0,
      deleted_at: null,
    });
    // Money is kept in integer minor units, never as a float.
    expect(Number.isInteger(row?.price_per_night)).toBe(true);
    expect(Number.isInteger(row?.cleaning_fee)).toBe(true);
    expect(row?.created_at.toISOString()).toBe(data?.created_at);
  });

  it('applies the defaults of every optional field that is omitted', async () => {
    const { cleaning_fee, amenities, photos, cancellation_policy, min_nights, max_nights, ...required } = propertyInput({
      name: unique('Bare room'),
    });
    const { data, response } = await api.createProperty({ client: server.client, auth: host.token, body: required });

    expect(response.status).toBe(201);
    const defaults = { cleaning_fee: 0, amenities: [], photos: [], cancellation_policy: 'moderate', min_nights: 1, max_nights: 365 };
    expect(data).toMatchObject({ ...required, ...defaults, host_id: host.id, rating_average: null, review_count: 0 });
    expect(await propertyRow(data!.id)).toMatchObject({ ...defaults, price_per_night: required.price_per_night });
  });

  it('lets an admin list a property, owned by the admin', async () => {
    const input = propertyInput({ name: unique('Admin listing') });
    const { data, response } = await api.createProperty({ client: server.client, auth: admin.token, body: input });

    expect(response.status).toBe(201);
    expect(data?.host_id).toBe(admin.id);
    expect(await propertyRow(data!.id)).toMatchObject({ host_id: admin.id, name: input.name });
  });

  it('refuses a guest with 403 forbidden and writes nothing', async () => {
    const before = await propertyCount();
    const { data, error, response } = await api.createProperty({ client: server.client, auth: guest.token, body: propertyInput() });

    expect(response.status).toBe(403);
    expect(data).toBeUndefined();
    expect(error?.code).toBe('forbidden');
    expect(await propertyCount()).toBe(before);
  });

  it('refuses a request without a token with 401 unauthenticated and writes nothing', async () => {
    const before = await propertyCount();
    const { error, response } = await api.createProperty({ client: server.client, body: propertyInput() });

    expect(response.status).toBe(401);
    expect(error?.code).toBe('unauthenticated');
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(await propertyCount()).toBe(before);
  });

  it('refuses an unknown token with 401 unauthenticated and writes nothing', async () => {
    const before = await propertyCount();
    const { error, response } = await api.createProperty({ client: server.client, auth: 'not-a-session-token', body: propertyInput() });

    expect(response.status).toBe(401);
    expect(error?.code).toBe('unauthenticated');
    expect(await propertyCount()).toBe(before);
  });

  it.each([
    ['host_id', () => randomUUID()],
    ['rating_average', () => 5],
    ['review_count', () => 100],
    ['id', () => randomUUID()],
  ])('refuses a body that sets %s (mass assignment) with 400 validation_failed and writes nothing', async (field, value) => {
    await expectRefused({ ...propertyInput(), [field]: value() }, `body.${field}`);
  });

  it.each([
    ['a lower-case country code', { country: 'pt' }, 'body.country'],
    ['a three-letter country code', { country: 'PRT' }, 'body.country'],
    ['a latitude above 90', { latitude: 91 }, 'body.latitude'],
    ['a longitude below -180', { longitude: -181 }, 'body.longitude'],
    ['a price with a fraction (money is never a float)', { price_per_night: 120.5 }, 'body.price_per_night'],
    ['a price sent as a string', { price_per_night: '12000' }, 'body.price_per_night'],
    ['a price of 0', { price_per_night: 0 }, 'body.price_per_night'],
    ['a negative price', { price_per_night: -100 }, 'body.price_per_night'],
    ['a negative cleaning fee', { cleaning_fee: -1 }, 'body.cleaning_fee'],
    ['a two-letter currency', { currency: 'EU' }, 'body.currency'],
    ['a currency outside the list', { currency: 'XYZ' }, 'body.currency'],
    ['an amenity outside the enum', { amenities: ['wifi', 'helipad'] }, 'body.amenities.1'],
    ['a photo that is not a URL', { photos: ['not a url'] }, 'body.photos.0'],
    ['max_guests of 0', { max_guests: 0 }, 'body.max_guests'],
    ['an unknown cancellation policy', { cancellation_policy: 'lenient' }, 'body.cancellation_policy'],
  ])('refuses %s with 400 validation_failed naming the field and writes nothing', async (_, overrides, path) => {
    await expectRefused({ ...propertyInput(), ...overrides }, path);
  });

  it('refuses min_nights above max_nights with 400 validation_failed at body.max_nights and writes nothing', async () => {
    await expectRefused(propertyInput({ min_nights: 10, max_nights: 5 }), 'body.max_nights');
  });

  it('refuses an empty object with 400 validation_failed naming each required field', async () => {
    const before = await propertyCount();
    const { error, response } = await api.createProperty({ client: server.client, auth: host.token, body: {} as never });

    expect(response.status).toBe(400);
    expect(error?.code).toBe('validation_failed');
    expect(error?.errors?.map((e) => e.path)).toEqual(
      expect.arrayContaining(['body.name', 'body.description', 'body.city', 'body.country', 'body.latitude', 'body.longitude',
        'body.price_per_night', 'body.currency', 'body.max_guests', 'body.bedrooms']),
    );
    expect(await propertyCount()).toBe(before);
  });

  it('refuses a request without a body with 400 validation_failed', async () => {
    const before = await propertyCount();
    const response = await fetch(`${server.url}/properties`, { method: 'POST', headers: { Authorization: `Bearer ${host.token}` } });
    const problem = await response.json();

    expect(response.status).toBe(400);
    expect(problem.code).toBe('validation_failed');
    expect(await propertyCount()).toBe(before);
  });

  it('refuses malformed JSON with 400 malformed_json', async () => {
    const before = await propertyCount();
    const response = await rawPost('/properties', '{"name": "Loft",', { 'Content-Type': 'application/json' }, host.token);
    const problem = await response.json();

    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(problem.code).toBe('malformed_json');
    expect(await propertyCount()).toBe(before);
  });

  it('refuses a text/plain body with 415 unsupported_media_type', async () => {
    const before = await propertyCount();
    const response = await rawPost('/properties', JSON.stringify(propertyInput()), { 'Content-Type': 'text/plain' }, host.token);
    const problem = await response.json();

    expect(response.status).toBe(415);
    expect(problem.code).toBe('unsupported_media_type');
    expect(await propertyCount()).toBe(before);
  });

  it('refuses a body over 100 KiB with 413 payload_too_large', async () => {
    const before = await propertyCount();
    const body = JSON.stringify(propertyInput({ description: 'x'.repeat(101 * 1024) }));
    const response = await rawPost('/properties', body, { 'Content-Type': 'application/json' }, host.token);
    const problem = await response.json();

    expect(response.status).toBe(413);
    expect(problem.code).toBe('payload_too_large');
    expect(await propertyCount()).toBe(before);
  });
});

describe('getProperty', () => {
  let host: Account;

  beforeAll(async () => {
    host = await createHost(server.client);
  });

  it('shows a listing to anyone with 200 and an ETag', async () => {
    const property = await createProperty(server.client, host, { name: unique('Visible loft') });
    const { data, response } = await api.getProperty({ client: server.client, path: { property_id: property.id } });

    expect(response.status).toBe(200);
    const { host: _owner, ...listed } = property;
    expect(data).toEqual(listed);
    expect(response.headers.get('etag')).toMatch(/^"[^"]+"$/);
    expect(await propertyRow(property.id)).toMatchObject({ id: property.id, deleted_at: null });
  });

  it('answers If-None-Match with the current ETag with 304 and no body', async () => {
    const property = await createProperty(server.client, host);
    const first = await api.getProperty({ client: server.client, path: { property_id: property.id } });
    const etag = first.response.headers.get('etag')!;

    const response = await fetch(`${server.url}/properties/${property.id}`, { headers: { 'If-None-Match': etag } });

    expect(response.status).toBe(304);
    expect(response.headers.get('etag')).toBe(etag);
    expect(await response.text()).toBe('');
  });

  it('answers an ETag from before an update with 200 and a new ETag', async () => {
    const property = await createProperty(server.client, host, { price_per_night: 12000 });
    const first = await api.getProperty({ client: server.client, path: { property_id: property.id } });
    const oldEtag = first.response.headers.get('etag')!;
    await api.updateProperty({ client: server.client, auth: host.token, path: { property_id: property.id }, body: { price_per_night: 13500 } });

    const { data, response } = await api.getProperty({
      client: server.client,
      path: { property_id: property.id },
      headers: { 'If-None-Match': oldEtag },
    });

    expect(response.status).toBe(200);
    expect(data?.price_per_night).toBe(13500);
    expect(response.headers.get('etag')).toMatch(/^"[^"]+"$/);
    expect(response.headers.get('etag')).not.toBe(oldEtag);
    expect((await propertyRow(property.id))?.price_per_night).toBe(13500);
  });

  it('answers an unknown id with 404 not_found', async () => {
    const { error, response } = await api.getProperty({ client: server.client, path: { property_id: UNKNOWN_ID } });

    expect(response.status).toBe(404);
    expect(error?.code).toBe('not_found');
    expect(await propertyRow(UNKNOWN_ID)).toBeUndefined();
  });

  it('refuses a malformed id with 400 validation_failed at path.property_id', async () => {
    const { error, response } = await api.getProperty({ client: server.client, path: { property_id: 'not-a-uuid' } });

    expect(response.status).toBe(400);
    expect(error?.code).toBe('validation_failed');
    expect(error?.errors?.map((e) => e.path)).toContain('path.property_id');
  });

  it('answers a withdrawn listing with 404 not_found although its row is kept', async () => {
    const property = await createProperty(server.client, host);
    await api.deleteProperty({ client: server.client, auth: host.token, path: { property_id: property.id } });

    const { error, response } = await api.getProperty({ client: server.client, path: { property_id: property.id } });

    expect(response.status).toBe(404);
    expect(error?.code).toBe('not_found');
    expect((await propertyRow(property.id))?.deleted_at).toBeInstanceOf(Date);
  });
});

describe('updateProperty', () => {
  let host: Account;
  let otherHost: Account;
  let guest: Account;
  let admin: Account;

  beforeAll(async () => {
    [host, otherHost, guest, admin] = await Promise.all([
      createHost(server.client),
      createHost(server.client),
      createUser(server.client),
      createAdmin(server),
    ]);
  });

  /** A listing of `host` whose updated_at lies in the past, so any change to it shows. */
  async function listing(overrides: Partial<PropertyInput> = {}) {
    const property = await createProperty(server.client, host, overrides);
    // Set directly so "updated_at moves" does not depend on how fast the test runs.
    await server.deps.db
      .updateTable('properties')
      .set({ updated_at: new Date('2026-01-01T00:00:00.000Z') })
      .where('id', '=', property.id)
      .execute();
    return (await propertyRow(property.id))!;
  }

  it('changes only the fields the owner sends, with 200, and moves updated_at', async () => {
    const before = await listing({ name: unique('Old name') });
    const { data, response } = await api.updateProperty({
      client: server.client,
      auth: host.token,
      path: { property_id: before.id },
      body: { price_per_night: 13500, amenities: ['wifi', 'kitchen', 'air_conditioning'] },
    });

    expect(response.status).toBe(200);
    expect(data).toMatchObject({ id: before.id, host_id: host.id, name: before.name, price_per_night: 13500 });
    expect(data?.amenities).toEqual(['wifi', 'kitchen', 'air_conditioning']);
    const after = await propertyRow(before.id);
    expect(after).toEqual({
      ...before,
      price_per_night: 13500,
      amenities: ['wifi', 'kitchen', 'air_conditioning'],
      updated_at: after?.updated_at,
    });
    expect(after!.updated_at.getTime()).toBeGreaterThan(before.updated_at.getTime());
    expect(data?.updated_at).toBe(after?.updated_at.toISOString());
    expect(data?.created_at).toBe(before.created_at.toISOString());
  });

  it('lets an admin change any listing with 200', async () => {
    const before = await listing();
    const { data, response } = await api.updateProperty({
      client: server.client,
      auth: admin.token,
      path: { property_id: before.id },
      body: { cancellation_policy: 'strict' },
    });

    expect(response.status).toBe(200);
    expect(data).toMatchObject({ host_id: host.id, cancellation_policy: 'strict' });
    expect(await propertyRow(before.id)).toMatchObject({ host_id: host.id, cancellation_policy: 'strict' });
  });

  it("refuses another host's update with 403 forbidden and changes nothing", async () => {
    const before = await listing();
    const { error, response } = await api.updateProperty({
      client: server.client,
      auth: otherHost.token,
      path: { property_id: before.id },
      body: { price_per_night: 1 },
    });

    expect(response.status).toBe(403);
    expect(error?.code).toBe('forbidden');
    expect(await propertyRow(before.id)).toEqual(before);
  });

  it("refuses a guest's update with 403 forbidden and changes nothing", async () => {
    const before = await listing();
    const { error, response } = await api.updateProperty({
      client: server.client,
      auth: guest.token,
      path: { property_id: before.id },
      body: { name: 'Taken over' },
    });

    expect(response.status).toBe(403);
    expect(error?.code).toBe('forbidden');
    expect(await propertyRow(before.id)).toEqual(before);
  });

  it('refuses an update without a token with 401 unauthenticated and changes nothing', async () => {
    const before = await listing();
    const { error, response } = await api.updateProperty({
      client: server.client,
      path: { property_id: before.id },
      body: { name: 'Anonymous edit' },
    });

    expect(response.status).toBe(401);
    expect(error?.code).toBe('unauthenticated');
    expect(await propertyRow(before.id)).toEqual(before);
  });

  it('refuses an update with an unknown token with 401 unauthenticated and changes nothing', async () => {
    const before = await listing();
    const { error, response } = await api.updateProperty({
      client: server.client,
      auth: 'not-a-session-token',
      path: { property_id: before.id },
      body: { name: 'Forged edit' },
    });

    expect(response.status).toBe(401);
    expect(error?.code).toBe('unauthenticated');
    expect(await propertyRow(before.id)).toEqual(before);
  });

  it('refuses an empty object with 400 validation_failed and changes nothing', async () => {
    const before = await listing();
    const { error, response } = await api.updateProperty({
      client: server.client,
      auth: host.token,
      path: { property_id: before.id },
      body: {},
    });

    expect(response.status).toBe(400);
    expect(error?.code).toBe('validation_failed');
    expect(await propertyRow(before.id)).toEqual(before);
  });

  it.each([
    ['host_id', () => otherHost.id],
    ['rating_average', () => 5],
    ['review_count', () => 100],
    ['id', () => randomUUID()],
  ])('refuses a body that sets %s with 400 validation_failed and changes nothing', async (field, value) => {
    const before = await listing();
    const { error, response } = await api.updateProperty({
      client: server.client,
      auth: host.token,
      path: { property_id: before.id },
      body: { name: 'Sneaky', [field]: value() } as never,
    });

    expect(response.status).toBe(400);
    expect(error?.code).toBe('validation_failed');
    expect(error?.errors?.map((e) => e.path)).toContain(`body.${field}`);
    expect(await propertyRow(before.id)).toEqual(before);
  });

  it('refuses an invalid field value with 400 validation_failed naming it and changes nothing', async () => {
    const before = await listing();
    const { error, response } = await api.updateProperty({
      client: server.client,
      auth: host.token,
      path: { property_id: before.id },
      body: { price_per_night: 99.99 },
    });

    expect(response.status).toBe(400);
    expect(error?.code).toBe('validation_failed');
    expect(error?.errors?.map((e) => e.path)).toContain('body.price_per_night');
    expect(await propertyRow(before.id)).toEqual(before);
  });

  it('refuses min_nights above the current max_nights with 400 validation_failed at body.min_nights and changes nothing', async () => {
    const before = await listing({ min_nights: 2, max_nights: 14 });
    const { error, response } = await api.updateProperty({
      client: server.client,
      auth: host.token,
      path: { property_id: before.id },
      body: { min_nights: 20 },
    });

    expect(response.status).toBe(400);
    expect(error?.code).toBe('validation_failed');
    // The field the client sent is the one at fault; max_nights was not part of the request.
    expect(error?.errors?.map((e) => e.path)).toEqual(['body.min_nights']);
    expect(await propertyRow(before.id)).toEqual(before);
  });

  it('refuses max_nights below the current min_nights with 400 validation_failed at body.max_nights and changes nothing', async () => {
    const before = await listing({ min_nights: 5, max_nights: 14 });
    const { error, response } = await api.updateProperty({
      client: server.client,
      auth: host.token,
      path: { property_id: before.id },
      body: { max_nights: 3 },
    });

    expect(response.status).toBe(400);
    expect(error?.code).toBe('validation_failed');
    expect(error?.errors?.map((e) => e.path)).toEqual(['body.max_nights']);
    expect(await propertyRow(before.id)).toEqual(before);
  });

  it('answers an unknown id with 404 not_found and writes nothing', async () => {
    const before = await propertyCount();
    const { error, response } = await api.updateProperty({
      client: server.client,
      auth: host.token,
      path: { property_id: UNKNOWN_ID },
      body: { name: 'Ghost' },
    });

    expect(response.status).toBe(404);
    expect(error?.code).toBe('not_found');
    expect(await propertyCount()).toBe(before);
  });

  it('answers a withdrawn listing with 404 not_found and changes nothing', async () => {
    const property = await createProperty(server.client, host);
    await api.deleteProperty({ client: server.client, auth: host.token, path: { property_id: property.id } });
    const before = await propertyRow(property.id);

    const { error, response } = await api.updateProperty({
      client: server.client,
      auth: host.token,
      path: { property_id: property.id },
      body: { name: 'Back from the dead' },
    });

    expect(response.status).toBe(404);
    expect(error?.code).toBe('not_found');
    expect(await propertyRow(property.id)).toEqual(before);
  });
});

describe('deleteProperty', () => {
  let host: Account;
  let otherHost: Account;
  let guest: Account;
  let admin: Account;
  const city = unique('Deleteville');

  beforeAll(async () => {
    [host, otherHost, guest, admin] = await Promise.all([
      createHost(server.client),
      createHost(server.client),
      createUser(server.client),
      createAdmin(server),
    ]);
  });

  async function listedIds(): Promise<string[]> {
    const { data } = await api.listProperties({ client: server.client, query: { city, limit: 100 } });
    return data!.data.map((property) => property.id);
  }

  it('withdraws the owner\'s listing with 204: 404 afterwards, gone from search, row kept with deleted_at', async () => {
    const property = await createProperty(server.client, host, { city });
    expect(await listedIds()).toContain(property.id);

    const { response } = await api.deleteProperty({ client: server.client, auth: host.token, path: { property_id: property.id } });

    expect(response.status).toBe(204);
    const fetched = await api.getProperty({ client: server.client, path: { property_id: property.id } });
    expect(fetched.response.status).toBe(404);
    expect(fetched.error?.code).toBe('not_found');
    expect(await listedIds()).not.toContain(property.id);
    const row = await propertyRow(property.id);
    expect(row).toMatchObject({ id: property.id, host_id: host.id, name: property.name });
    expect(row?.deleted_at).toBeInstanceOf(Date);
  });

  it('lets an admin withdraw any listing with 204', async () => {
    const property = await createProperty(server.client, host, { city });
    const { response } = await api.deleteProperty({ client: server.client, auth: admin.token, path: { property_id: property.id } });

    expect(response.status).toBe(204);
    expect((await propertyRow(property.id))?.deleted_at).toBeInstanceOf(Date);
    expect(await listedIds()).not.toContain(property.id);
  });

  it("refuses another host's delete with 403 forbidden and keeps the listing listed", async () => {
    const property = await createProperty(server.client, host, { city });
    const { error, response } = await api.deleteProperty({ client: server.client, auth: otherHost.token, path: { property_id: property.id } });

    expect(response.status).toBe(403);
    expect(error?.code).toBe('forbidden');
    expect((await propertyRow(property.id))?.deleted_at).toBeNull();
    expect(await listedIds()).toContain(property.id);
  });

  it("refuses a guest's delete with 403 forbidden and keeps the listing listed", async () => {
    const property = await createProperty(server.client, host, { city });
    const { error, response } = await api.deleteProperty({ client: server.client, auth: guest.token, path: { property_id: property.id } });

    expect(response.status).toBe(403);
    expect(error?.code).toBe('forbidden');
    expect((await propertyRow(property.id))?.deleted_at).toBeNull();
    expect(await listedIds()).toContain(property.id);
  });

  it('refuses a delete without a token with 401 unauthenticated and keeps the listing', async () => {
    const property = await createProperty(server.client, host, { city });
    const { error, response } = await api.deleteProperty({ client: server.client, path: { property_id: property.id } });

    expect(response.status).toBe(401);
    expect(error?.code).toBe('unauthenticated');
    expect((await propertyRow(property.id))?.deleted_at).toBeNull();
  });

  it('refuses a delete with an unknown token with 401 unauthenticated and keeps the listing', async () => {
    const property = await createProperty(server.client, host, { city });
    const { error, response } = await api.deleteProperty({
      client: server.client,
      auth: 'not-a-session-token',
      path: { property_id: property.id },
    });

    expect(response.status).toBe(401);
    expect(error?.code).toBe('unauthenticated');
    expect((await propertyRow(property.id))?.deleted_at).toBeNull();
  });

  it('refuses a malformed id with 400 validation_failed at path.property_id', async () => {
    const { error, response } = await api.deleteProperty({ client: server.client, auth: host.token, path: { property_id: 'nope' } });

    expect(response.status).toBe(400);
    expect(error?.code).toBe('validation_failed');
    expect(error?.errors?.map((e) => e.path)).toContain('path.property_id');
  });

  it('answers an unknown id with 404 not_found', async () => {
    const { error, response } = await api.deleteProperty({ client: server.client, auth: host.token, path: { property_id: UNKNOWN_ID } });

    expect(response.status).toBe(404);
    expect(error?.code).toBe('not_found');
    expect(await propertyRow(UNKNOWN_ID)).toBeUndefined();
  });

  it('answers a second delete of the same listing with 404 not_found and keeps the first deleted_at', async () => {
    const property = await createProperty(server.client, host, { city });
    await api.deleteProperty({ client: server.client, auth: host.token, path: { property_id: property.id } });
    const deletedAt = (await propertyRow(property.id))?.deleted_at;

    const { error, response } = await api.deleteProperty({ client: server.client, auth: host.token, path: { property_id: property.id } });

    expect(response.status).toBe(404);
    expect(error?.code).toBe('not_found');
    expect(deletedAt).toBeInstanceOf(Date);
    expect((await propertyRow(property.id))?.deleted_at).toEqual(deletedAt);
  });

  describe('with stays', () => {
    it('refuses a listing with a pending or a confirmed upcoming stay with 409, and keeps it listed', async () => {
      for (const confirmed of [false, true]) {
        const property = await createProperty(server.client);
        const booking = await createBooking(server.client, { property });
        if (confirmed) await payStay(server, booking);
        expectProblem(await api.deleteProperty({ client: server.client, auth: property.host.token, path: { property_id: property.id } }), 409, 'property_has_upcoming_stays');
        const row = await server.deps.db.selectFrom('properties').select('deleted_at').where('id', '=', property.id).executeTakeFirstOrThrow();
        expect(row.deleted_at).toBeNull();

        await api.cancelBooking({ client: server.client, auth: property.host.token, path: { booking_id: booking.id } });
        expect((await api.deleteProperty({ client: server.client, auth: property.host.token, path: { property_id: property.id } })).response.status).toBe(204);
      }
    });

    it('withdraws a listing whose stays are all in the past, keeping them on record', async () => {
      const property = await createProperty(server.client);
      const guest = await createUser(server.client);
      const past = await insertPastStay(server, { guest, property, checkIn: fromToday(-10), checkOut: fromToday(-7) });
      expect((await api.deleteProperty({ client: server.client, auth: admin.token, path: { property_id: property.id } })).response.status).toBe(204);
      expect((await api.getBooking({ client: server.client, auth: guest.token, path: { booking_id: past } })).data).toMatchObject({ status: 'completed' });
    });
  });
});

describe('listProperties', () => {
  type Key = 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'h' | 'gone';
  type Query = NonNullable<ListPropertiesData['query']>;

  // Names unique to this file's run, so nothing else in the database can match.
  const cityA = unique('Testville');
  const cityB = unique('Othertown');
  // The world lies in the Faroe Islands (FO) and Iceland (IS); every other test here lists in Lisbon (PT).
  const center: Point = { latitude: 62.01, longitude: -6.77 };
  const near = `${center.latitude},${center.longitude}`;
  const RADIUS_KM = 30;

  const world = {} as Record<Key, Property>;
  const keyOf = new Map<string, Key>();

  /** The keys of a page's listings, in order. */
  const keys = (items: Property[]) => items.map((item) => keyOf.get(item.id) ?? item.id);
  /** Two keys in order of their ids, the tie-breaker of every sort. */
  const byId = (x: Key, y: Key, direction: 'asc' | 'desc'): Key[] => {
    const ordered = world[x].id < world[y].id ? [x, y] : [y, x];
    return direction === 'asc' ? ordered : ordered.reverse();
  };

  async function search(query: Query): Promise<Property[]> {
    const { data, error, response } = await api.listProperties({ client: server.client, query: { limit: 100, ...query } });
    expect(response.status, JSON.stringify(error)).toBe(200);
    expect(data?.next_cursor).toBeNull();
    return data!.data;
  }

  /** Follows next_cursor from the first page to the last, `limit` at a time. */
  async function walk(query: Query, limit: number): Promise<Property[][]> {
    const pages: Property[][] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 20; i++) {
      const { data, error, response } = await api.listProperties({ client: server.client, query: { ...query, limit, cursor } });
      expect(response.status, JSON.stringify(error)).toBe(200);
      pages.push(data!.data);
      if (data!.next_cursor === null) return pages;
      expect(data!.data).toHaveLength(limit);
      cursor = data!.next_cursor;
    }
    throw new Error('pagination did not end');
  }

  beforeAll(async () => {
    const host = await createHost(server.client);
    const at = (bearing: number, km: number) => destination(center, bearing, km);
    const inputs: Record<Key, Partial<PropertyInput>> = {
      a: { city: cityA, country: 'FO', ...center, price_per_night: 10000, max_guests: 2, amenities: ['wifi', 'pool'] },
      b: { city: cityA, country: 'FO', ...at(0, 5), price_per_night: 15000, max_guests: 4, amenities: ['wifi'] },
      c: { city: cityA, country: 'FO', ...at(225, 12), price_per_night: 15000, max_guests: 6, amenities: ['wifi', 'pool', 'kitchen'] },
      // Just inside the radius, due east: the far edge of any bounding box around the circle.
      d: { city: cityA, country: 'FO', ...at(90, 29.98), price_per_night: 8000, max_guests: 1, amenities: ['pool'] },
      // Just outside the radius.
      e: { city: cityA, country: 'FO', ...at(270, 31), price_per_night: 20000, max_guests: 8, amenities: ['wifi', 'pool'] },
      f: { city: cityB, country: 'IS', latitude: 64.1466, longitude: -21.9426, price_per_night: 12000, max_guests: 3, amenities: ['wifi', 'pool'] },
      h: { city: cityB, country: 'IS', latitude: 64.15, longitude: -21.95, price_per_night: 9000, max_guests: 2, amenities: [] },
      // Matches nearly every filter, but is withdrawn below and must never appear.
      gone: { city: cityA, country: 'FO', ...at(180, 2), price_per_night: 11000, max_guests: 10, amenities: ['wifi', 'pool'] },
    };
    for (const [key, overrides] of Object.entries(inputs) as [Key, Partial<PropertyInput>][]) {
      const property = await createProperty(server.client, host, { name: `${key} ${cityA}`, ...overrides });
      world[key] = property;
      keyOf.set(property.id, key);
    }
    const withdrawn = await api.deleteProperty({ client: server.client, auth: host.token, path: { property_id: world.gone.id } });
    expect(withdrawn.response.status).toBe(204);

    // Reviews by three guests: c 4.67, b and d tie at 4.5, a 4.0, e has none.
    const reviewers = [await createUser(server.client), await createUser(server.client), await createUser(server.client)];
    const ratings: Partial<Record<Key, number[]>> = { a: [4], b: [5, 4], c: [5, 5, 4], d: [4, 5] };
    for (const [key, given] of Object.entries(ratings) as [Key, number[]][]) {
      for (const [i, rating] of given.entries()) await createReview(server, { guest: reviewers[i], property: world[key], rating });
    }
    // Fixed creation times, so `newest` has a known order, with c and d created in the same millisecond.
    const created: Partial<Record<Key, string>> = {
      a: '2026-01-05T10:00:00.000Z',
      b: '2026-01-04T10:00:00.000Z',
      c: '2026-01-03T10:00:00.123Z',
      d: '2026-01-03T10:00:00.123Z',
      e: '2026-01-01T10:00:00.000Z',
    };
    for (const [key, at] of Object.entries(created) as [Key, string][]) {
      await server.deps.db.updateTable('properties').set({ created_at: new Date(at) }).where('id', '=', world[key].id).execute();
    }
  });

  it('finds listings by city, case-insensitively and only on an exact match, with 200', async () => {
    expect(new Set(keys(await search({ city: cityA })))).toEqual(new Set(['a', 'b', 'c', 'd', 'e']));
    expect(new Set(keys(await search({ city: cityA.toUpperCase() })))).toEqual(new Set(['a', 'b', 'c', 'd', 'e']));
    expect(new Set(keys(await search({ city: cityB.toLowerCase() })))).toEqual(new Set(['f', 'h']));
    expect(await search({ city: cityA.slice(0, -1) })).toEqual([]);
    // The withdrawn listing is still in the database, just not listed.
    expect((await propertyRow(world.gone.id))?.city).toBe(cityA);
  });

  it('returns each listing in full, as getProperty shows it, with its rating_average and review_count', async () => {
    const { data, response } = await api.listProperties({ client: server.client, query: { city: cityA, sort: 'rating', limit: 1 } });
    const single = await api.getProperty({ client: server.client, path: { property_id: world.c.id } });

    expect(response.status).toBe(200);
    expect(data?.data).toEqual([single.data]);
    expect(data?.data[0]).toMatchObject({ name: world.c.name, rating_average: 4.67, review_count: 3, created_at: '2026-01-03T10:00:00.123Z' });
    expect(data?.data[0]).not.toHaveProperty('distance_km');
    expect(data?.next_cursor).toEqual(expect.any(String));
  });

  it('filters by country', async () => {
    expect(new Set(keys(await search({ country: 'IS' })))).toEqual(new Set(['f', 'h']));
    expect(new Set(keys(await search({ country: 'FO' })))).toEqual(new Set(['a', 'b', 'c', 'd', 'e']));
  });

  it('filters by guests: max_guests at least that many', async () => {
    expect(new Set(keys(await search({ city: cityA, guests: 4 })))).toEqual(new Set(['b', 'c', 'e']));
    expect(new Set(keys(await search({ city: cityA, guests: 8 })))).toEqual(new Set(['e']));
  });

  it('filters by min_price and max_price, both inclusive', async () => {
    expect(new Set(keys(await search({ city: cityA, min_price: 10000, max_price: 15000 })))).toEqual(new Set(['a', 'b', 'c']));
    expect(new Set(keys(await search({ city: cityA, min_price: 15000, max_price: 15000 })))).toEqual(new Set(['b', 'c']));
    expect(new Set(keys(await search({ city: cityA, min_price: 15001 })))).toEqual(new Set(['e']));
    expect(new Set(keys(await search({ city: cityA, max_price: 9999 })))).toEqual(new Set(['d']));
  });

  it('refuses min_price above max_price with 400 validation_failed', async () => {
    const { error, response } = await api.listProperties({ client: server.client, query: { city: cityA, min_price: 20000, max_price: 10000 } });

    expect(response.status).toBe(400);
    expect(error?.code).toBe('validation_failed');
    expect(error?.errors?.map((e) => e.path)).toContain('query.max_price');
  });

  it('filters by amenities, comma-separated, keeping listings that have all of them', async () => {
    const { data, response } = await api.listProperties({ client: server.client, query: { city: cityA, amenities: ['wifi', 'pool'], limit: 100 } });

    expect(new URL(response.url).searchParams.get('amenities')).toBe('wifi,pool');
    expect(new Set(keys(data!.data))).toEqual(new Set(['a', 'c', 'e']));
    expect(new Set(keys(await search({ city: cityA, amenities: ['kitchen'] })))).toEqual(new Set(['c']));
    expect(new Set(keys(await search({ city: cityB, amenities: ['pool'] })))).toEqual(new Set(['f']));
  });

  it('refuses an amenity outside the enum with 400 validation_failed at query.amenities', async () => {
    const response = await fetch(`${server.url}/properties?amenities=wifi,helipad`);
    const problem = await response.json();

    expect(response.status).toBe(400);
    expect(problem.code).toBe('validation_failed');
    expect(problem.errors.map((e: { path: string }) => e.path).join(' ')).toMatch(/query\.amenities/);
  });

  it('finds listings within radius_km of near, each with its great-circle distance_km', async () => {
    const found = await search({ near, radius_km: RADIUS_KM });

    expect(new Set(keys(found))).toEqual(new Set(['a', 'b', 'c', 'd']));
    for (const property of found) {
      const expected = haversineKm(center, property);
      expect(expected).toBeLessThanOrEqual(RADIUS_KM);
      expect(property.distance_km).toBeCloseTo(expected, 2);
    }
    // e lies just outside the circle; d just inside, at its eastern edge.
    expect(haversineKm(center, world.e)).toBeGreaterThan(RADIUS_KM);
    expect(haversineKm(center, world.d)).toBeGreaterThan(29.97);
    expect(new Set(keys(await search({ near, radius_km: 6 })))).toEqual(new Set(['a', 'b']));
  });

  it('finds listings across the pole and across the antimeridian', async () => {
    const host = await createHost(server.client);
    const place = async (name: string, point: Point) => {
      const property = await createProperty(server.client, host, { name, city: unique('Farpoint'), country: 'NO', ...point });
      return property.id;
    };
    // 86.5°N: 500 km reaches over the pole to the other side of the globe.
    const pole: Point = { latitude: 86.5, longitude: 0 };
    const overThePole = await place('Over the pole', { latitude: 89.5, longitude: 170 });
    const besideThePole = await place('Beside the pole', { latitude: 86.5, longitude: 5 });
    const beyondThePole = await place('Beyond the pole', { latitude: 86, longitude: 180 });
    // Fiji: 20 km either side of the 180th meridian.
    const westOfTheLine = await place('West of the line', { latitude: -16.5, longitude: 179.9 });
    const eastOfTheLine = await place('East of the line', { latitude: -16.5, longitude: -179.9 });

    const polar = await search({ near: '86.5,0', radius_km: 500 });
    expect(polar.map((p) => p.id).sort()).toEqual([overThePole, besideThePole].sort());
    expect(polar.map((p) => p.id)).not.toContain(beyondThePole);
    for (const property of polar) expect(property.distance_km).toBeCloseTo(haversineKm(pole, property), 2);

    const fiji = await search({ near: '-16.5,179.95', radius_km: 20 });
    expect(fiji.map((p) => p.id).sort()).toEqual([westOfTheLine, eastOfTheLine].sort());
    for (const property of fiji) expect(property.distance_km).toBeCloseTo(haversineKm({ latitude: -16.5, longitude: 179.95 }, property), 2);
  });

  it('sorts by distance, nearest first', async () => {
    const found = await search({ near, radius_km: RADIUS_KM, sort: 'distance' });

    expect(keys(found)).toEqual(['a', 'b', 'c', 'd']);
    const distances = found.map((property) => property.distance_km!);
    expect(distances).toEqual([...distances].sort((x, y) => x - y));
  });

  it('refuses sort=distance without near with 400 validation_failed at query.near', async () => {
    const { error, response } = await api.listProperties({ client: server.client, query: { city: cityA, sort: 'distance' } });

    expect(response.status).toBe(400);
    expect(error?.code).toBe('validation_failed');
    expect(error?.errors?.map((e) => e.path)).toEqual(['query.near']);
  });

  it('refuses a near point off the globe with 400 validation_failed at query.near', async () => {
    const { error, response } = await api.listProperties({ client: server.client, query: { near: '95,10' } });

    expect(response.status).toBe(400);
    expect(error?.code).toBe('validation_failed');
    expect(error?.errors?.map((e) => e.path)).toContain('query.near');
  });

  it('sorts by price_asc and price_desc, ties broken by id in the same direction', async () => {
    expect(keys(await search({ city: cityA, sort: 'price_asc' }))).toEqual(['d', 'a', ...byId('b', 'c', 'asc'), 'e']);
    expect(keys(await search({ city: cityA, sort: 'price_desc' }))).toEqual(['e', ...byId('b', 'c', 'desc'), 'a', 'd']);
  });

  it('sorts by newest by default, ties broken by id', async () => {
    const expected = ['a', 'b', ...byId('c', 'd', 'desc'), 'e'];
    expect(keys(await search({ city: cityA, sort: 'newest' }))).toEqual(expected);
    expect(keys(await search({ city: cityA }))).toEqual(expected);
  });

  it('sorts by rating, highest first and unrated listings last', async () => {
    // The guests' reviews of beforeAll.
    const found = await search({ city: cityA, sort: 'rating' });

    expect(keys(found)).toEqual(['c', ...byId('b', 'd', 'desc'), 'a', 'e']);
    expect(found.map((property) => property.rating_average)).toEqual([4.67, 4.5, 4.5, 4, null]);
    expect(found.map((property) => property.review_count)).toEqual([3, 2, 2, 1, 0]);
  });

  it.each<[string, Query]>([
    ['newest', { city: cityA, sort: 'newest' }],
    ['price_asc', { city: cityA, sort: 'price_asc' }],
    ['price_desc', { city: cityA, sort: 'price_desc' }],
    ['rating', { city: cityA, sort: 'rating' }],
    ['distance', { near, radius_km: RADIUS_KM, sort: 'distance' }],
    ['price_asc within a radius', { near, radius_km: RADIUS_KM, sort: 'price_asc' }],
  ])('walks every listing exactly once, in order, two at a time, sorted by %s', async (_, query) => {
    const everything = keys(await search(query));
    const pages = await walk(query, 2);

    expect(pages.map((page) => page.length)).toEqual(
      Array.from({ length: Math.ceil(everything.length / 2) }, (__, i) => Math.min(2, everything.length - 2 * i)),
    );
    expect(keys(pages.flat())).toEqual(everything);
    expect(new Set(everything).size).toBe(everything.length);
    expect(everything).not.toContain('gone');
  });

  it('refuses a cursor it did not give out with 400 validation_failed at query.cursor', async () => {
    for (const cursor of ['garbage', Buffer.from('["x"]').toString('base64url'), Buffer.from('[1,"id"]').toString('base64url')]) {
      const { error, response } = await api.listProperties({ client: server.client, query: { city: cityA, cursor } });
      expect(response.status).toBe(400);
      expect(error?.code).toBe('validation_failed');
      expect(error?.errors?.map((e) => e.path)).toEqual(['query.cursor']);
    }
  });

  it.each([0, 101])('refuses limit=%i with 400 validation_failed at query.limit', async (limit) => {
    const { error, response } = await api.listProperties({ client: server.client, query: { city: cityA, limit } });

    expect(response.status).toBe(400);
    expect(error?.code).toBe('validation_failed');
    expect(error?.errors?.map((e) => e.path)).toContain('query.limit');
  });

  it('refuses an unknown query parameter with 400 validation_failed', async () => {
    const { error, response } = await api.listProperties({ client: server.client, query: { city: cityA, colour: 'blue' } as never });

    expect(response.status).toBe(400);
    expect(error?.code).toBe('validation_failed');
    expect(error?.errors?.map((e) => e.path)).toContain('query.colour');
  });

  it('gives the same results to a signed-in caller and refuses an unknown token with 401', async () => {
    const guest = await createUser(server.client);
    const { data, response } = await api.listProperties({ client: server.client, auth: guest.token, query: { city: cityA, limit: 100 } });
    expect(response.status).toBe(200);
    expect(new Set(keys(data!.data))).toEqual(new Set(['a', 'b', 'c', 'd', 'e']));

    const refused = await api.listProperties({ client: server.client, auth: 'not-a-session-token', query: { city: cityA } });
    expect(refused.response.status).toBe(401);
    expect(refused.error?.code).toBe('unauthenticated');
  });

  describe('with check_in and check_out', () => {
    const city = `Datetown-${randomUUID().slice(0, 8)}`;
    const listings: Record<string, Property> = {};
    beforeAll(async () => {
      const host = await createHost(server.client);
      for (const name of ['free', 'booked', 'backToBack', 'blocked', 'cancelled', 'tooShort', 'confirmed']) {
        listings[name] = await createProperty(server.client, host, { city, name: `Listing ${name}`, min_nights: name === 'tooShort' ? 5 : 1 });
      }
      const stay = (property: Property, from: number, to: number) => createBooking(server.client, { property, stay: { check_in: fromToday(from), check_out: fromToday(to) } });
      await stay(listings.booked!, 21, 23);
      await stay(listings.backToBack!, 17, 20);
      await stay(listings.backToBack!, 23, 25);
      await api.updatePropertyAvailability({ client: server.client, auth: host.token, path: { property_id: listings.blocked!.id }, body: { from: fromToday(22), to: fromToday(23), blocked: true } });
      const cancelled = await stay(listings.cancelled!, 20, 23);
      await api.cancelBooking({ client: server.client, auth: cancelled.guest.token, path: { booking_id: cancelled.id } });
      const confirmed = await stay(listings.confirmed!, 22, 24);
      await payStay(server, confirmed);
    });

    it('finds only the listings free for every night of the stay, whose night limits allow it', async () => {
      const { data, response } = await api.listProperties({ client: server.client, query: { city, check_in: fromToday(20), check_out: fromToday(23), limit: 100 } });
      expect(response.status).toBe(200);
      const names = data!.data.map((p) => p.name).sort();
      expect(names).toEqual(['Listing backToBack', 'Listing cancelled', 'Listing free']);
    });

    it('finds everything for dates nobody holds', async () => {
      const { data } = await api.listProperties({ client: server.client, query: { city, check_in: fromToday(60), check_out: fromToday(65), limit: 100 } });
      expect(data!.data).toHaveLength(7);
    });

    it('refuses half a stay, reversed dates and a past check-in with 400', async () => {
      expectProblem(await api.listProperties({ client: server.client, query: { city, check_in: fromToday(20) } }), 400, 'validation_failed', 'query.check_out');
      expectProblem(await api.listProperties({ client: server.client, query: { city, check_out: fromToday(20) } }), 400, 'validation_failed', 'query.check_in');
      expectProblem(await api.listProperties({ client: server.client, query: { city, check_in: fromToday(20), check_out: fromToday(20) } }), 400, 'validation_failed', 'query.check_out');
      expectProblem(await api.listProperties({ client: server.client, query: { city, check_in: fromToday(-3), check_out: fromToday(2) } }), 400, 'validation_failed', 'query.check_in');
    });
  });
});

describe('getPropertyAvailability', () => {
  it('reports each night free, booked or blocked', async () => {
    const property = await createProperty(server.client);
    await createBooking(server.client, { property, stay: { check_in: fromToday(3), check_out: fromToday(5) } });
    await api.updatePropertyAvailability({ client: server.client, auth: property.host.token, path: { property_id: property.id }, body: { from: fromToday(6), to: fromToday(7), blocked: true } });
    const cancelled = await createBooking(server.client, { property, stay: { check_in: fromToday(7), check_out: fromToday(8) } });
    await api.cancelBooking({ client: server.client, auth: cancelled.guest.token, path: { booking_id: cancelled.id } });

    const { data, response } = await api.getPropertyAvailability({ client: server.client, path: { property_id: property.id }, query: { from: fromToday(-1), to: fromToday(9) } });
    expect(response.status).toBe(200);
    expect(data).toEqual({
      property_id: property.id,
      from: fromToday(-1),
      to: fromToday(9),
      nights: [
        { date: fromToday(-1), status: 'blocked' }, // in the past
        { date: fromToday(0), status: 'free' },
        { date: fromToday(1), status: 'free' },
        { date: fromToday(2), status: 'free' },
        { date: fromToday(3), status: 'booked' },
        { date: fromToday(4), status: 'booked' },
        { date: fromToday(5), status: 'free' }, // check-out day of the stay
        { date: fromToday(6), status: 'blocked' }, // blocked by the host
        { date: fromToday(7), status: 'free' }, // its booking was cancelled
        { date: fromToday(8), status: 'free' },
      ],
    });
  });

  it('refuses a window that is empty, reversed or longer than 366 nights with 400, and an unknown listing with 404', async () => {
    const property = await createProperty(server.client);
    const call = (from: string, to: string) => api.getPropertyAvailability({ client: server.client, path: { property_id: property.id }, query: { from, to } });
    expectProblem(await call(fromToday(5), fromToday(5)), 400, 'validation_failed', 'query.to');
    expectProblem(await call(fromToday(5), fromToday(4)), 400, 'validation_failed', 'query.to');
    expectProblem(await call(fromToday(0), fromToday(367)), 400, 'validation_failed', 'query.to');
    expect((await call(fromToday(0), fromToday(366))).data!.nights).toHaveLength(366);
    expectProblem(await call('2027-02-30', '2027-03-08'), 400, 'validation_failed', 'query.from');
    expectProblem(await api.getPropertyAvailability({ client: server.client, path: { property_id: UNKNOWN_ID }, query: { from: fromToday(1), to: fromToday(2) } }), 404, 'not_found');
  });
});

describe('updatePropertyAvailability', () => {
  let admin: Account;
  beforeAll(async () => {
    admin = await createAdmin(server);
  });
  function book(guest: Account, propertyId: string, checkIn: string, checkOut: string) {
    return api.createBooking({ client: server.client, auth: guest.token, body: { property_id: propertyId, check_in: checkIn, check_out: checkOut, guests: 2 } });
  }
  const window = (from: number, to: number, blocked: boolean) => ({ from: fromToday(from), to: fromToday(to), blocked });
  const blockedRows = (propertyId: string) =>
    server.deps.db.selectFrom('blocked_nights').select('night').where('property_id', '=', propertyId).orderBy('night').execute().then((rows) => rows.map((r) => r.night));

  it('blocks nights so they cannot be booked or found, and unblocks any of them again', async () => {
    const property = await createProperty(server.client);
    const blocked = await api.updatePropertyAvailability({ client: server.client, auth: property.host.token, path: { property_id: property.id }, body: window(10, 14, true) });
    expect(blocked.response.status).toBe(200);
    expect(blocked.data!.nights.map((n) => n.status)).toEqual(['blocked', 'blocked', 'blocked', 'blocked']);
    expect(await blockedRows(property.id)).toEqual([fromToday(10), fromToday(11), fromToday(12), fromToday(13)]);

    // Blocking again changes nothing.
    await api.updatePropertyAvailability({ client: server.client, auth: property.host.token, path: { property_id: property.id }, body: window(10, 14, true) });
    expect(await blockedRows(property.id)).toHaveLength(4);

    const guest = await createUser(server.client);
    expectProblem(await book(guest, property.id, fromToday(12), fromToday(15)), 409, 'dates_unavailable');
    const search = await api.listProperties({ client: server.client, query: { city: property.city, check_in: fromToday(12), check_out: fromToday(15), limit: 100 } });
    expect(search.data!.data.map((p) => p.id)).not.toContain(property.id);

    const unblocked = await api.updatePropertyAvailability({ client: server.client, auth: property.host.token, path: { property_id: property.id }, body: window(12, 13, false) });
    expect(unblocked.data!.nights).toEqual([{ date: fromToday(12), status: 'free' }]);
    expect(await blockedRows(property.id)).toEqual([fromToday(10), fromToday(11), fromToday(13)]);
    expect((await book(guest, property.id, fromToday(12), fromToday(13))).response.status).toBe(201);
  });

  it('refuses to block booked nights with 409 dates_unavailable, blocking none of them', async () => {
    const property = await createProperty(server.client);
    await createBooking(server.client, { property, stay: { check_in: fromToday(20), check_out: fromToday(22) } });
    const problem = expectProblem(
      await api.updatePropertyAvailability({ client: server.client, auth: property.host.token, path: { property_id: property.id }, body: window(18, 21, true) }),
      409,
      'dates_unavailable',
    );
    expect(problem.detail).toContain(fromToday(20));
    expect(await blockedRows(property.id)).toEqual([]);
    // Nights up to the stay's check-in, and from its check-out, can be blocked.
    expect((await api.updatePropertyAvailability({ client: server.client, auth: property.host.token, path: { property_id: property.id }, body: window(18, 20, true) })).response.status).toBe(200);
    expect((await api.updatePropertyAvailability({ client: server.client, auth: property.host.token, path: { property_id: property.id }, body: window(22, 23, true) })).response.status).toBe(200);
  });

  it('lets only the listing\'s host or an admin change it', async () => {
    const property = await createProperty(server.client);
    const otherHost = await createHost(server.client);
    const guest = await createUser(server.client);
    for (const stranger of [otherHost, guest]) {
      expectProblem(await api.updatePropertyAvailability({ client: server.client, auth: stranger.token, path: { property_id: property.id }, body: window(5, 6, true) }), 403, 'forbidden');
    }
    expectProblem(await api.updatePropertyAvailability({ client: server.client, path: { property_id: property.id }, body: window(5, 6, true) }), 401, 'unauthenticated');
    expect(await blockedRows(property.id)).toEqual([]);
    expect((await api.updatePropertyAvailability({ client: server.client, auth: admin.token, path: { property_id: property.id }, body: window(5, 6, true) })).response.status).toBe(200);
    expect(await blockedRows(property.id)).toEqual([fromToday(5)]);
  });

  it('refuses past nights, reversed windows and unknown fields with 400, and an unknown listing with 404', async () => {
    const property = await createProperty(server.client);
    const call = (body: object) => api.updatePropertyAvailability({ client: server.client, auth: property.host.token, path: { property_id: property.id }, body: body as never });
    expectProblem(await call(window(-2, 1, true)), 400, 'validation_failed', 'body.from');
    expectProblem(await call(window(3, 2, true)), 400, 'validation_failed', 'body.to');
    expectProblem(await call({ from: fromToday(1), to: fromToday(2) }), 400, 'validation_failed', 'body.blocked');
    expectProblem(await call({ ...window(1, 2, true), reason: 'x' }), 400, 'validation_failed', 'body.reason');
    expect(await blockedRows(property.id)).toEqual([]);
    expectProblem(
      await api.updatePropertyAvailability({ client: server.client, auth: admin.token, path: { property_id: UNKNOWN_ID }, body: window(1, 2, true) }),
      404,
      'not_found',
    );
  });
});
