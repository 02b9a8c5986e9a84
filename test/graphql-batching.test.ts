/**
 * GraphQL's links are batched per request: a search page of 100 properties with their
 * hosts reads the page and then every host in one query, not one REST call (and one
 * query) per property; identical reads within one request are made once. The batched
 * answers are the ones getUser and getProperty give, private fields included only for
 * whom REST shows them. SQL statements are counted with a Kysely plugin on the
 * server's own database handle (every handler and batch read uses `deps.db`).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { insertProperties } from '../db/properties.js';
import { insertUsers } from '../db/users.js';
import { graphqlRequest } from '../scripts/walk-graphql.js';
import { createBooking, createHost, createProperty, createUser, fromToday, insertPastStay, uniqueEmail } from './support/factories.js';
import { useTestApp } from './support/app.js';
import { countStatementsOf, type StatementCounter } from './support/statements.js';

const { server } = useTestApp();

let counter: StatementCounter;
const countStatements = <T>(run: () => Promise<T>) => counter.count(run);

const city = `Batchton-${Date.now().toString(36)}`;
let hosts: { id: string; name: string }[] = [];

beforeAll(async () => {
  counter = countStatementsOf(server);
  // 100 hosts with one listing each, written directly: the test is about reading them.
  hosts = await insertUsers(
    server.deps.db,
    Array.from({ length: 100 }, (_, i) => ({ email: uniqueEmail(`batch-host-${i}`), password_hash: 'unused', role: 'host' as const, name: `Batch Host ${i}` })),
  );
  await insertProperties(
    server.deps.db,
    hosts.map((host, i) => ({
      host_id: host.id,
      name: `Batch listing ${i}`,
      description: 'A listing of the batching test.',
      city,
      country: 'PT',
      latitude: 38.7,
      longitude: -9.1,
      price_per_night: 5000 + i,
      currency: 'EUR',
      max_guests: 2,
      bedrooms: 1,
      photos: [],
    })),
  );
});

const gql = <T>(query: string, variables: Record<string, unknown> = {}, token?: string) => graphqlRequest<T>(server.url, query, variables, token);

describe('a search page of 100 properties with their hosts', () => {
  const pageQuery = (withHosts: boolean) =>
    `query ($city: String) { listProperties(city: $city, sort: price_asc, limit: 100) { data { id name ${withHosts ? 'host { id name }' : ''} } } }`;

  it('reads all 100 hosts with two more queries than the page alone (their profiles, their response numbers)', async () => {
    const page = await countStatements(() => gql<{ listProperties: { data: { id: string }[] } }>(pageQuery(false), { city }));
    expect(page.result.errors).toBeUndefined();
    expect(page.result.data!.listProperties.data).toHaveLength(100);

    const withHosts = await countStatements(() => gql<{ listProperties: { data: { name: string; host: { id: string; name: string } }[] } }>(pageQuery(true), { city }));
    expect(withHosts.result.errors).toBeUndefined();
    const data = withHosts.result.data!.listProperties.data;
    expect(data).toHaveLength(100);
    // Each listing has its own host, in the page's order.
    expect(data.map((property) => property.host)).toEqual(hosts.map(({ id, name }) => ({ id, name })));
    // Before batching this was the page plus one getUser per property (101 statements for 100 hosts).
    console.log(`SQL statements: page alone ${page.statements}, page with 100 hosts ${withHosts.statements}`);
    // One query for the 100 profiles, one for the 100 hosts' response numbers (host_response), whatever the page size.
    expect(withHosts.statements).toBe(page.statements + 2);
  });

  it('gives each host the public profile getUser gives, without contact details', async () => {
    const reply = await gql<{ listProperties: { data: { host: Record<string, unknown> }[] } }>(
      'query ($city: String) { listProperties(city: $city, sort: price_asc, limit: 1) { data { host { id name bio avatar_url role created_at updated_at email phone host_response { conversations response_rate median_response_minutes } } } } }',
      { city },
    );
    expect(reply.errors).toBeUndefined();
    const host = reply.data!.listProperties.data[0]!.host;
    const rest = await api.getUser({ client: server.client, path: { user_id: host.id as string } });
    expect(host).toEqual({ email: null, phone: null, ...rest.data });
  });
});

describe('links one level deeper', () => {
  it('booking → property → host and booking → guest: one query per link level', async () => {
    const host = await createHost(server.client);
    const property = await createProperty(server.client, host);
    const guest = await createUser(server.client);
    for (const days of [30, 40, 50]) await createBooking(server.client, { property, guest, stay: { check_in: fromToday(days), check_out: fromToday(days + 2) } });
    const { result, statements: used } = await countStatements(() =>
      gql<{ listBookings: { data: { property: { host: { id: string; email: string } }; guest: { id: string; email: string } }[] } }>(
        '{ listBookings { data { id property { name host { id email } } guest { id email } } } }',
        {},
        guest.token,
      ),
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.listBookings.data).toHaveLength(3);
    // The guest sees their own email (as getUser shows it to them), and the host's public profile only.
    for (const booking of result.data!.listBookings.data) {
      expect(booking.guest).toEqual({ id: guest.id, email: guest.email });
      expect(booking.property.host).toEqual({ id: host.id, email: null });
    }
    // Authentication of the REST call and of the batch reads, the bookings page, then one query per
    // link level (properties and guests at the first, hosts at the second), however many bookings there are.
    console.log(`SQL statements for 3 bookings with property, host and guest: ${used}`);
    expect(used).toBeLessThanOrEqual(7);
  });
});

describe('identical reads within one request', () => {
  it('are made once: two aliases of the same getProperty read it once', async () => {
    const property = await createProperty(server.client);
    const once = await countStatements(() => gql(`{ a: getProperty(property_id: "${property.id}") { id } }`));
    const twice = await countStatements(() => gql(`{ a: getProperty(property_id: "${property.id}") { id } b: getProperty(property_id: "${property.id}") { name } }`));
    expect(twice.result.errors).toBeUndefined();
    expect(twice.result.data).toEqual({ a: { id: property.id }, b: { name: property.name } });
    expect(twice.statements).toBe(once.statements);
  });
});

describe('reads after a change in the same request', () => {
  it('a mutation\'s links read afresh: a listing renamed between two mutations shows its new name', async () => {
    const property = await createProperty(server.client, undefined, { name: 'Name before' });
    const guest = await createUser(server.client);
    const booking_id = await insertPastStay(server, { guest, property, checkIn: fromToday(-4), checkOut: fromToday(-2) });
    const { data: review } = await api.createReview({ client: server.client, auth: guest.token, body: { booking_id, rating: 5, comment: 'Lovely.' } });
    const reply = await gql<{ first: { property: { name: string } }; second: { property: { name: string } } }>(
      `mutation ($review: UUID!, $property: UUID!) {
        first: replyToReview(review_id: $review, input: { comment: "Thanks!" }) { property { name } }
        rename: updateProperty(property_id: $property, input: { name: "Name after" }) { id }
        second: replyToReview(review_id: $review, input: { comment: "Thanks again!" }) { property { name } }
      }`,
      { review: review!.id, property: property.id },
      property.host.token,
    );
    expect(reply.errors).toBeUndefined();
    expect(reply.data!.first.property.name).toBe('Name before');
    expect(reply.data!.second.property.name).toBe('Name after');
  });
});
