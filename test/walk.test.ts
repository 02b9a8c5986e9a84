/**
 * A new user's first walk through the API, step by step as the README tells it:
 * register a host and a guest, sign in, list a property, find it by city and price,
 * update it, sign out. At each step the bad inputs a real client sends by mistake
 * are tried too: each gets a 4xx problem and changes nothing.
 * Runs on PostgreSQL (npm test) and on the embedded PGlite (npm run test:embedded).
 */
import { describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import type { Property } from '../generated/client/types.gen.js';
import { propertyInput, uniqueEmail } from './support/factories.js';
import { useTestApp } from './support/app.js';

const { server } = useTestApp();

/** A 4xx problem with this code, and the same number of rows in `table` as before. */
async function refused<T extends { response: Response; error?: unknown }>(
  table: 'users' | 'properties' | 'sessions',
  call: () => Promise<T>,
  status: number,
  code: string,
) {
  const count = async () => Number((await server.deps.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
  const before = await count();
  const { response, error } = await call();
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(error).toMatchObject({ status, code });
  expect(await count()).toBe(before);
  return error as { errors?: { path: string }[] };
}

describe('a new user walks through the API', () => {
  const city = `Walkton-${Date.now().toString(36)}`;
  const host = { email: uniqueEmail('walk-host'), password: 'host password 1' };
  const guest = { email: uniqueEmail('walk-guest'), password: 'guest password 1' };
  let hostToken = '';
  let guestToken = '';
  let listing: Property;

  it('1. registers a host and a guest', async () => {
    const bad = await refused('users', () => api.registerUser({ client: server.client, body: { email: host.email, name: 'Hosta' } as never }), 400, 'validation_failed');
    expect(bad.errors?.map((e) => e.path)).toEqual(['body.password']);
    await refused('users', () => api.registerUser({ client: server.client, body: { ...host, name: 'Hosta', role: 'admin' } as never }), 400, 'validation_failed');

    const created = await api.registerUser({ client: server.client, body: { ...host, name: 'Hosta', role: 'host' } });
    expect(created.response.status).toBe(201);
    expect(created.data).toMatchObject({ role: 'host', name: 'Hosta', email: host.email });
    const registeredGuest = await api.registerUser({ client: server.client, body: { ...guest, name: 'Gus' } });
    expect(registeredGuest.data?.role).toBe('guest');

    await refused('users', () => api.registerUser({ client: server.client, body: { ...guest, email: guest.email.toUpperCase(), name: 'Gus again' } }), 409, 'email_taken');
  });

  it('2. signs in, and a wrong password is refused', async () => {
    await refused('sessions', () => api.login({ client: server.client, body: { email: host.email, password: 'not the password' } }), 401, 'invalid_credentials');
    const hostSession = await api.login({ client: server.client, body: host });
    const guestSession = await api.login({ client: server.client, body: guest });
    expect(hostSession.data?.token_type).toBe('Bearer');
    hostToken = hostSession.data!.access_token;
    guestToken = guestSession.data!.access_token;
    const me = await api.getCurrentUser({ client: server.client, auth: hostToken });
    expect(me.data).toMatchObject({ email: host.email, role: 'host' });
  });

  it('3. the host lists a property; bad listings and a guest are refused', async () => {
    const floatPrice = await refused('properties', () =>
      api.createProperty({ client: server.client, auth: hostToken, body: propertyInput({ city, price_per_night: 99.5 }) }), 400, 'validation_failed');
    expect(floatPrice.errors?.map((e) => e.path)).toContain('body.price_per_night');
    await refused('properties', () =>
      api.createProperty({ client: server.client, auth: hostToken, body: { ...propertyInput({ city }), host_id: '00000000-0000-4000-8000-000000000000' } as never }), 400, 'validation_failed');
    await refused('properties', () => api.createProperty({ client: server.client, auth: guestToken, body: propertyInput({ city }) }), 403, 'forbidden');
    await refused('properties', () => api.createProperty({ client: server.client, body: propertyInput({ city }) }), 401, 'unauthenticated');

    const created = await api.createProperty({ client: server.client, auth: hostToken, body: propertyInput({ city, price_per_night: 15000 }) });
    expect(created.response.status).toBe(201);
    listing = created.data!;
    expect(listing).toMatchObject({ city, price_per_night: 15000, currency: 'EUR', rating_average: null, review_count: 0 });
  });

  it('4. the guest finds it by city and price', async () => {
    const found = await api.listProperties({ client: server.client, query: { city: city.toLowerCase(), min_price: 10000, max_price: 20000 } });
    expect(found.data?.data.map((p) => p.id)).toEqual([listing.id]);
    const tooCheap = await api.listProperties({ client: server.client, query: { city, max_price: 14999 } });
    expect(tooCheap.data?.data).toEqual([]);
    const bad = await refused('properties', () => api.listProperties({ client: server.client, query: { city, min_price: 'cheap' as never } }), 400, 'validation_failed');
    expect(bad.errors?.map((e) => e.path)).toEqual(['query.min_price']);
  });

  it('5. the host updates it; the guest and bad fields are refused and change nothing', async () => {
    await refused('properties', () =>
      api.updateProperty({ client: server.client, auth: guestToken, path: { property_id: listing.id }, body: { price_per_night: 1 } }), 403, 'forbidden');
    await refused('properties', () =>
      api.updateProperty({ client: server.client, auth: hostToken, path: { property_id: listing.id }, body: { rating_average: 5 } as never }), 400, 'validation_failed');
    const unchanged = await server.deps.db.selectFrom('properties').selectAll().where('id', '=', listing.id).executeTakeFirstOrThrow();
    expect(unchanged.price_per_night).toBe(15000);
    expect(unchanged.review_count).toBe(0);

    const updated = await api.updateProperty({ client: server.client, auth: hostToken, path: { property_id: listing.id }, body: { price_per_night: 18000 } });
    expect(updated.response.status).toBe(200);
    expect(updated.data?.price_per_night).toBe(18000);
    const found = await api.listProperties({ client: server.client, query: { city, min_price: 17000 } });
    expect(found.data?.data.map((p) => [p.id, p.price_per_night])).toEqual([[listing.id, 18000]]);
  });

  it('6. signs out; the old token is refused everywhere and changes nothing', async () => {
    const out = await api.logout({ client: server.client, auth: hostToken });
    expect(out.response.status).toBe(204);
    await refused('properties', () =>
      api.updateProperty({ client: server.client, auth: hostToken, path: { property_id: listing.id }, body: { price_per_night: 1 } }), 401, 'unauthenticated');
    const row = await server.deps.db.selectFrom('properties').select('price_per_night').where('id', '=', listing.id).executeTakeFirstOrThrow();
    expect(row.price_per_night).toBe(18000);
    // The guest's session is untouched by the host's logout.
    expect((await api.getCurrentUser({ client: server.client, auth: guestToken })).response.status).toBe(200);
  });
});
