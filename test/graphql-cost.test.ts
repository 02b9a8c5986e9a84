/**
 * A GraphQL query is costed before anything runs, pages counted `limit` times: the
 * 15-alias fan-out of issue 13 (15 × listProperties(limit: 100) { data { host { name } } },
 * ~1,500 internal calls on main) is refused with `query_too_costly` and runs no SQL at
 * all, while a normal page with its hosts and today's walks pass. In production the
 * errors do not suggest field or enum names ("Did you mean …").
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { graphqlRequest, type GraphQLReply } from '../scripts/walk-graphql.js';
import { loadConfig } from '../server/config.js';
import { REST_CALL_COST } from '../server/graphql/cost.js';
import { createProperty } from './support/factories.js';
import type { TestServer } from './support/server.js';
import { useTestApp } from './support/app.js';
import { countStatementsOf, type StatementCounter } from './support/statements.js';

const { env, server } = useTestApp();

let counter: StatementCounter;

beforeAll(() => {
  counter = countStatementsOf(server);
});

const gql = <T = Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}, on: TestServer = server) =>
  graphqlRequest<T>(on.url, query, variables);

type CostError = { message: string; extensions: { code: string; status: number; cost: number; limit: number } };

function expectTooCostly(reply: GraphQLReply, limit: number): CostError['extensions'] {
  // As for the depth and alias limits (and every validation error), the HTTP answer is 200 with `errors` and no `data`.
  expect(reply.status).toBe(200);
  expect(reply.data ?? undefined).toBeUndefined();
  expect(reply.errors).toHaveLength(1);
  const error = reply.errors![0] as unknown as CostError;
  expect(error.extensions).toMatchObject({ code: 'query_too_costly', status: 400, limit });
  expect(error.extensions.cost).toBeGreaterThan(limit);
  expect(error.message).toMatch(/cost/i);
  return error.extensions;
}

const fanOut = Array.from({ length: 15 }, (_, i) => `a${i}: listProperties(limit: 100) { data { host { name } } }`).join(' ');

describe('the cost limit', () => {
  it('refuses the 15-alias fan-out with query_too_costly before any SQL runs', async () => {
    await createProperty(server.client);
    const { result: reply, statements } = await counter.count(() => gql(`{ ${fanOut} }`));
    const { cost } = expectTooCostly(reply, loadConfig({}).graphqlMaxCost);
    // name 1; host 1 + a REST call; data 1; each page 1 + a REST call + 100 × its children.
    const page = 1 + REST_CALL_COST + 100 * (1 + (1 + REST_CALL_COST + 1));
    expect(cost).toBe(15 * page);
    expect(statements).toBe(0);
  });

  it('allows a page of 100 properties with their hosts, and a default page with every field', async () => {
    const hundred = await gql('{ listProperties(limit: 100) { data { id name city price_per_night currency host { id name bio } } next_cursor } }');
    expect(hundred.errors).toBeUndefined();
    const everything = await gql(`{ listProperties {
      data { id host_id name description city country latitude longitude price_per_night currency cleaning_fee max_guests bedrooms
             amenities photos cancellation_policy min_nights max_nights rating_average review_count created_at updated_at
             host { id name bio avatar_url role created_at updated_at } }
      next_cursor } }`);
    expect(everything.errors).toBeUndefined();
  });

  it('counts the limit a page asks for, as a literal, a variable or the spec\'s default (20)', async () => {
    const strict = await env.start({ graphqlMaxCost: 100 });
    const page = (limit: number) => 1 + REST_CALL_COST + limit * (1 + 1); // listProperties { data { id } }
    const query = 'query ($n: Int) { listProperties(limit: $n) { data { id } } }';

    expect((await gql(query, { n: 10 }, strict)).errors).toBeUndefined(); // 31
    expect(expectTooCostly(await gql(query, { n: 50 }, strict), 100).cost).toBe(page(50));
    expect(expectTooCostly(await gql('{ listProperties(limit: 50) { data { id } } }', {}, strict), 100).cost).toBe(page(50));
    // No limit: the spec's default page of 20, cost 51.
    expect((await gql('{ listProperties { data { id } } }', {}, strict)).errors).toBeUndefined();
    const cheaper = await env.start({ graphqlMaxCost: 50 });
    expect(expectTooCostly(await gql('{ listProperties { data { id } } }', {}, cheaper), 50).cost).toBe(page(20));
  });

  it('counts a link to a paged operation (property → reviews) as that operation\'s default page', async () => {
    const strict = await env.start({ graphqlMaxCost: 60 });
    const property = await createProperty(strict.client);
    const reply = await gql(`{ getProperty(property_id: "${property.id}") { reviews { data { id } } } }`, {}, strict);
    // getProperty 1 + call + (reviews 1 + call + 20 × (data 1 + id 1)).
    expect(expectTooCostly(reply, 60).cost).toBe(1 + REST_CALL_COST + (1 + REST_CALL_COST + 20 * 2));
  });

  it('counts a wishlist\'s items by the most a list may hold (MAX_WISHLIST_ITEMS) once they reach a link: 15 aliases of a full list\'s hosts are refused', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const one = `getWishlist(wishlist_id: "${id}") { items { property { host { name } } } }`;
    // getWishlist 1 + call + (items 1 + 100 × (property 1 + (host 1 + call + name 1))).
    const list = 1 + REST_CALL_COST + (1 + 100 * (1 + (1 + REST_CALL_COST + 1)));
    const fanned = Array.from({ length: 15 }, (_, i) => `w${i}: ${one}`).join(' ');
    const { result: reply, statements } = await counter.count(() => gql(`{ ${fanned} }`));
    expect(expectTooCostly(reply, loadConfig({}).graphqlMaxCost).cost).toBe(15 * list);
    expect(statements).toBe(0);
    // A tighter bound of the server's counts instead of the spec's maxItems (1000).
    const small = await env.start({ maxWishlistItems: 10, graphqlMaxCost: 100 });
    expect(expectTooCostly(await gql(`{ ${one} }`, {}, small), 100).cost).toBe(1 + REST_CALL_COST + (1 + 10 * (1 + (1 + REST_CALL_COST + 1))));
    // Items without links cost what they read: no multiplying.
    const plain = await gql(`{ getWishlist(wishlist_id: "${id}") { items { property { name } } } }`, {}, small);
    expect(plain.errors?.map((e) => (e.extensions as { code?: string } | undefined)?.code)).not.toContain('query_too_costly');
  });

  it('counts fragments and every alias', async () => {
    const strict = await env.start({ graphqlMaxCost: 100 });
    const reply = await gql('fragment Ids on PropertyList { data { id } } { a: listProperties(limit: 20) { ...Ids } b: listProperties(limit: 20) { ...Ids } }', {}, strict);
    expect(expectTooCostly(reply, 100).cost).toBe(2 * (1 + REST_CALL_COST + 20 * 2));
  });
});

describe('suggestions', () => {
  const typo = '{ listProperties { data { nme } } }';
  const badEnum = ['query ($a: [Amenity!]) { listProperties(amenities: $a) { data { id } } }', { a: ['wiif'] }] as const;

  it('are given in development and test', async () => {
    expect((await gql(typo)).errors![0]!.message).toMatch(/Did you mean "name"\?/);
    expect((await gql(...badEnum)).errors![0]!.message).toMatch(/Did you mean the enum value "wifi"\?/);
  });

  it('are not given in production, for fields, arguments and enum values alike', async () => {
    // The local payment provider is refused in production unless allowed, as a demo would.
    const production = await env.start({ nodeEnv: 'production', allowLocalPaymentsInProduction: true });
    const field = await gql(typo, {}, production);
    expect(field.errors![0]!.message).toBe('Cannot query field "nme" on type "Property".');
    const argument = await gql('{ listProperties(limt: 5) { data { id } } }', {}, production);
    expect(argument.errors![0]!.message).not.toMatch(/Did you mean/);
    const enumValue = await gql(...badEnum, production);
    expect(enumValue.errors![0]!.message).toMatch(/wiif/);
    expect(enumValue.errors![0]!.message).not.toMatch(/Did you mean|wifi/);
  });
});
