/**
 * GraphQL at /graphql is the REST API under another name: for each resource that has
 * landed, the same read and the same write through GraphQL and through REST give the
 * same result and the same refusals, and the database holds the same afterwards.
 * Links join resources in one query; the limits, the body size and introspection
 * follow the configuration; and a new user's walk works through GraphQL alone.
 */
import { readFile } from 'node:fs/promises';
import { buildClientSchema, getIntrospectionQuery, type IntrospectionQuery } from 'graphql';
import { describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import type { Problem } from '../generated/client/types.gen.js';
import { seedDemoData } from '../server/demo-data.js';
import { graphqlRequest, walkGraphQL, type GraphQLReply } from '../scripts/walk-graphql.js';
import { loadConfig } from '../server/config.js';
import { printGraphQLSchema } from '../server/graphql.js';
import { NOT_EXPOSED } from '../server/graphql/shape.js';
import { loadSpec } from '../server/server.js';
import { createAdmin, createBooking, createHost, createProperty, createUser, fromToday, insertPastStay, propertyInput, uniqueEmail } from './support/factories.js';
import type { TestServer } from './support/server.js';
import { useTestApp } from './support/app.js';

const { env, server } = useTestApp();

const someId = '00000000-0000-4000-8000-000000000000';

function gql<T = Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}, token?: string, on: TestServer = server) {
  return graphqlRequest<T>(on.url, query, variables, token);
}

/** The error a REST problem becomes: null data for the field, the problem's code, status and field errors. */
function expectGraphQLProblem(reply: GraphQLReply, field: string, status: number, code: string) {
  expect(reply.data?.[field as never] ?? null).toBeNull();
  expect(reply.errors).toHaveLength(1);
  const error = reply.errors![0]!;
  expect(error.path).toEqual([field]);
  expect(error.extensions).toMatchObject({ code, status });
  return error as { message: string; extensions: { code: string; status: number; errors?: { path: string; message: string }[] } };
}

/** The same refusal: REST's problem and GraphQL's error agree on code, status, message and invalid fields. */
function expectSameRefusal(rest: { response: Response; error?: unknown }, reply: GraphQLReply, field: string, status: number, code: string) {
  expect(rest.response.status).toBe(status);
  const problem = rest.error as Problem;
  expect(problem).toMatchObject({ status, code });
  const error = expectGraphQLProblem(reply, field, status, code);
  expect(error.message).toBe(problem.detail);
  expect(error.extensions.errors).toEqual(problem.errors);
}

/** A GraphQL selection of exactly the fields a REST body has, so both answers can be compared whole. */
/** Object-typed fields (which a selection must open, even when their value is null) with their subfields. */
const NESTED: Record<string, string> = { host_response: 'host_response { conversations response_rate median_response_minutes }' };
const selectionOf = (body: object) => Object.keys(body).map((key) => NESTED[key] ?? key).join(' ');

const count = async (table: 'users' | 'properties') =>
  Number((await server.deps.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);

describe('the schema', () => {
  it('has every REST operation, named after its operationId: GETs as queries, the others as mutations', async () => {
    const spec = (await loadSpec()) as unknown as { paths: Record<string, Record<string, { operationId?: string }>> };
    const byMethod = (get: boolean) =>
      Object.values(spec.paths)
        .flatMap((item) => Object.entries(item).filter(([method]) => (method === 'get') === get).map(([, operation]) => operation.operationId))
        .filter(Boolean)
        // The payment provider's webhook is not a client operation: GraphQL does not expose it.
        .filter((operationId) => !NOT_EXPOSED.has(operationId!))
        .sort();
    const reply = await gql<{ __schema: { queryType: { fields: { name: string }[] }; mutationType: { fields: { name: string }[] } } }>(
      '{ __schema { queryType { fields { name } } mutationType { fields { name } } } }',
    );
    expect(reply.data!.__schema.queryType.fields.map((field) => field.name).sort()).toEqual(byMethod(true));
    expect(reply.data!.__schema.mutationType.fields.map((field) => field.name).sort()).toEqual(byMethod(false));
  });

  it('is the schema generated/schema.graphql holds', async () => {
    const reply = await gql<IntrospectionQuery>(getIntrospectionQuery({ specifiedByUrl: true }));
    const served = printGraphQLSchema(buildClientSchema(reply.data!));
    const artifact = await readFile(new URL('../generated/schema.graphql', import.meta.url), 'utf8');
    // Introspection does not carry directive definitions the way SDL does, so compare the types.
    const types = (sdl: string) => sdl.split('\n\n').filter((block) => !block.startsWith('directive') && !block.startsWith('#'));
    expect(types(served)).toEqual(types(artifact));
  });
});

describe('users through GraphQL and REST', () => {
  const registration = (email: string) => ({ email, password: 'correct horse battery', name: 'Ana Pereira', bio: 'Slow traveller.' });

  it('registerUser creates the same user either way, and the database holds both', async () => {
    const viaRest = await api.registerUser({ client: server.client, body: registration(uniqueEmail('rest')) });
    expect(viaRest.response.status).toBe(201);
    const email = uniqueEmail('graphql');
    const reply = await gql<{ registerUser: Record<string, unknown> }>(
      `mutation ($input: RegisterUserInput!) { registerUser(input: $input) { ${selectionOf(viaRest.data!)} } }`,
      { input: registration(email) },
    );
    expect(reply.errors).toBeUndefined();
    const created = reply.data!.registerUser;
    const comparable = ({ id: _id, email: _email, created_at: _c, updated_at: _u, ...rest }: Record<string, unknown>) => rest;
    expect(comparable(created)).toEqual(comparable(viaRest.data!));
    expect(created.email).toBe(email);
    const row = await server.deps.db.selectFrom('users').selectAll().where('id', '=', created.id as string).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ email, role: 'guest', name: 'Ana Pereira', bio: 'Slow traveller.' });
    expect(row.password_hash).toMatch(/^\$argon2id\$/);
  });

  it('registerUser refuses a short password the same way, and creates nothing', async () => {
    const before = await count('users');
    const body = { ...registration(uniqueEmail('short')), password: 'short' };
    const rest = await api.registerUser({ client: server.client, body });
    const reply = await gql('mutation ($input: RegisterUserInput!) { registerUser(input: $input) { id } }', { input: body });
    expectSameRefusal(rest, reply, 'registerUser', 400, 'validation_failed');
    expect(reply.errors![0]!.extensions).toMatchObject({ errors: [{ path: 'body.password' }] });
    expect(await count('users')).toBe(before);
  });

  it('registerUser refuses a taken email with 409 email_taken either way', async () => {
    const taken = await createUser(server.client);
    const body = registration(taken.email.toUpperCase());
    const rest = await api.registerUser({ client: server.client, body });
    const reply = await gql('mutation ($input: RegisterUserInput!) { registerUser(input: $input) { id } }', { input: body });
    expectSameRefusal(rest, reply, 'registerUser', 409, 'email_taken');
  });

  it('getUser reads the same public profile, and the owner sees the same private fields', async () => {
    const user = await createUser(server.client, { phone: '+351912345678' });
    const publicRest = await api.getUser({ client: server.client, path: { user_id: user.id } });
    const publicReply = await gql<{ getUser: object }>(`query ($id: UUID!) { getUser(user_id: $id) { ${selectionOf(publicRest.data!)} } }`, { id: user.id });
    expect(publicReply.data!.getUser).toEqual(publicRest.data);
    expect(publicRest.data).not.toHaveProperty('email');

    const ownRest = await api.getUser({ client: server.client, auth: user.token, path: { user_id: user.id } });
    const ownReply = await gql<{ getUser: object }>(`query ($id: UUID!) { getUser(user_id: $id) { ${selectionOf(ownRest.data!)} } }`, { id: user.id }, user.token);
    expect(ownReply.data!.getUser).toEqual(ownRest.data);
    expect(ownReply.data!.getUser).toMatchObject({ email: user.email, phone: '+351912345678' });
  });

  it('getUser answers an unknown user with 404 not_found either way, never empty data', async () => {
    const rest = await api.getUser({ client: server.client, path: { user_id: someId } });
    const reply = await gql('query ($id: UUID!) { getUser(user_id: $id) { id } }', { id: someId });
    expectSameRefusal(rest, reply, 'getUser', 404, 'not_found');
  });

  it('getCurrentUser without credentials is 401 unauthenticated either way', async () => {
    const rest = await api.getCurrentUser({ client: server.client });
    const reply = await gql('{ getCurrentUser { id } }');
    expectSameRefusal(rest, reply, 'getCurrentUser', 401, 'unauthenticated');
  });

  it('updateUser changes the caller\'s profile the same way, and the database follows', async () => {
    const viaRest = await createUser(server.client);
    const viaGraphql = await createUser(server.client);
    const rest = await api.updateUser({ client: server.client, auth: viaRest.token, path: { user_id: viaRest.id }, body: { name: 'Renamed', bio: null } });
    const reply = await gql<{ updateUser: Record<string, unknown> }>(
      `mutation ($id: UUID!, $input: UpdateUserInput!) { updateUser(user_id: $id, input: $input) { ${selectionOf(rest.data!)} } }`,
      { id: viaGraphql.id, input: { name: 'Renamed', bio: null } },
      viaGraphql.token,
    );
    expect(reply.errors).toBeUndefined();
    expect(reply.data!.updateUser).toMatchObject({ id: viaGraphql.id, name: 'Renamed', bio: null, email: viaGraphql.email });
    const row = await server.deps.db.selectFrom('users').selectAll().where('id', '=', viaGraphql.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ name: 'Renamed', bio: null });
  });

  it('updateUser refuses another user\'s profile with 403 forbidden either way, and changes nothing', async () => {
    const [caller, other] = await Promise.all([createUser(server.client), createUser(server.client, { name: 'Untouched' })]);
    const rest = await api.updateUser({ client: server.client, auth: caller.token, path: { user_id: other.id }, body: { name: 'Hijacked' } });
    const reply = await gql(
      'mutation ($id: UUID!, $input: UpdateUserInput!) { updateUser(user_id: $id, input: $input) { id } }',
      { id: other.id, input: { name: 'Hijacked' } },
      caller.token,
    );
    expectSameRefusal(rest, reply, 'updateUser', 403, 'forbidden');
    expect((await server.deps.db.selectFrom('users').select('name').where('id', '=', other.id).executeTakeFirstOrThrow()).name).toBe('Untouched');
  });

  it('listUsers is for admins: a guest gets 403 forbidden either way, an admin the same page', async () => {
    const [guest, admin] = await Promise.all([createUser(server.client), createAdmin(server)]);
    const rest = await api.listUsers({ client: server.client, auth: guest.token });
    const reply = await gql('{ listUsers { next_cursor } }', {}, guest.token);
    expectSameRefusal(rest, reply, 'listUsers', 403, 'forbidden');

    const page = await api.listUsers({ client: server.client, auth: admin.token, query: { limit: 5 } });
    const pageReply = await gql<{ listUsers: { data: { id: string }[]; next_cursor: string | null } }>(
      '{ listUsers(limit: 5) { data { id } next_cursor } }',
      {},
      admin.token,
    );
    expect(pageReply.data!.listUsers).toEqual({ data: page.data!.data.map(({ id }) => ({ id })), next_cursor: page.data!.next_cursor });
  });
});

describe('auth through GraphQL and REST', () => {
  it('login gives a token that works on REST, and a wrong password is 401 invalid_credentials either way', async () => {
    const user = await createUser(server.client);
    const reply = await gql<{ login: { access_token: string; token_type: string; user: { id: string } } }>(
      'mutation ($input: LoginInput!) { login(input: $input) { access_token token_type expires_at user { id } } }',
      { input: { email: user.email, password: user.password } },
    );
    expect(reply.data!.login).toMatchObject({ token_type: 'Bearer', user: { id: user.id } });
    const me = await api.getCurrentUser({ client: server.client, auth: reply.data!.login.access_token });
    expect(me.data?.id).toBe(user.id);

    const body = { email: user.email, password: 'not the password' };
    const rest = await api.login({ client: server.client, body });
    const wrong = await gql('mutation ($input: LoginInput!) { login(input: $input) { access_token } }', { input: body });
    expectSameRefusal(rest, wrong, 'login', 401, 'invalid_credentials');
  });

  it('logout revokes the token it was sent with, for REST as well', async () => {
    const user = await createUser(server.client);
    const reply = await gql('mutation { logout }', {}, user.token);
    expect(reply.errors).toBeUndefined();
    expect((await api.getCurrentUser({ client: server.client, auth: user.token })).response.status).toBe(401);
    const again = await gql('mutation { logout }', {}, user.token);
    expectGraphQLProblem(again, 'logout', 401, 'unauthenticated');
  });

  it('a revoked or made-up token is refused even on public operations, as on REST', async () => {
    const rest = await api.getProperty({ client: server.client, auth: 'sbt_made_up', path: { property_id: someId } });
    const reply = await gql('query ($id: UUID!) { getProperty(property_id: $id) { id } }', { id: someId }, 'sbt_made_up');
    expectSameRefusal(rest, reply, 'getProperty', 401, 'unauthenticated');
  });
});

describe('properties through GraphQL and REST', () => {
  it('getProperty reads the same listing', async () => {
    const property = await createProperty(server.client);
    const rest = await api.getProperty({ client: server.client, path: { property_id: property.id } });
    const reply = await gql<{ getProperty: object }>(`query ($id: UUID!) { getProperty(property_id: $id) { ${selectionOf(rest.data!)} } }`, { id: property.id });
    expect(reply.errors).toBeUndefined();
    expect(reply.data!.getProperty).toEqual(rest.data);
  });

  it('listProperties finds the same listings in the same order, filters and pages included', async () => {
    const city = `Graphqlton-${Date.now().toString(36)}`;
    const host = await createHost(server.client);
    for (const price of [9000, 12000, 15000]) await createProperty(server.client, host, { city, price_per_night: price, amenities: ['wifi', 'kitchen'] });
    const rest = await api.listProperties({ client: server.client, query: { city, amenities: ['wifi', 'kitchen'], sort: 'price_desc', limit: 2 } });
    const reply = await gql<{ listProperties: { data: { id: string; price_per_night: number }[]; next_cursor: string | null } }>(
      `{ listProperties(city: ${JSON.stringify(city)}, amenities: [wifi, kitchen], sort: price_desc, limit: 2) { data { id price_per_night } next_cursor } }`,
    );
    expect(reply.data!.listProperties).toEqual({
      data: rest.data!.data.map(({ id, price_per_night }) => ({ id, price_per_night })),
      next_cursor: rest.data!.next_cursor,
    });
    expect(reply.data!.listProperties.data.map((p) => p.price_per_night)).toEqual([15000, 12000]);
  });

  it('createProperty makes the same listing, owned by the caller, and the database holds it', async () => {
    const host = await createHost(server.client);
    const input = propertyInput({ name: 'Listed through GraphQL' });
    const rest = await api.createProperty({ client: server.client, auth: host.token, body: input });
    expect(rest.response.status).toBe(201);
    const reply = await gql<{ createProperty: Record<string, unknown> }>(
      `mutation ($input: PropertyInput!) { createProperty(input: $input) { ${selectionOf(rest.data!)} } }`,
      { input },
      host.token,
    );
    expect(reply.errors).toBeUndefined();
    const comparable = ({ id: _id, created_at: _c, updated_at: _u, ...rest }: Record<string, unknown>) => rest;
    expect(comparable(reply.data!.createProperty)).toEqual(comparable(rest.data!));
    const row = await server.deps.db.selectFrom('properties').selectAll().where('id', '=', reply.data!.createProperty.id as string).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ host_id: host.id, name: 'Listed through GraphQL', price_per_night: 12000 });
  });

  it('createProperty refuses a guest (403), no credentials (401) and bad input (400) either way, and creates nothing', async () => {
    const guest = await createUser(server.client);
    const before = await count('properties');
    const mutation = 'mutation ($input: PropertyInput!) { createProperty(input: $input) { id } }';

    expectSameRefusal(
      await api.createProperty({ client: server.client, auth: guest.token, body: propertyInput() }),
      await gql(mutation, { input: propertyInput() }, guest.token),
      'createProperty', 403, 'forbidden',
    );
    expectSameRefusal(
      await api.createProperty({ client: server.client, body: propertyInput() }),
      await gql(mutation, { input: propertyInput() }),
      'createProperty', 401, 'unauthenticated',
    );
    const host = await createHost(server.client);
    const bad = propertyInput({ price_per_night: -5, max_guests: 0 });
    expectSameRefusal(
      await api.createProperty({ client: server.client, auth: host.token, body: bad }),
      await gql(mutation, { input: bad }, host.token),
      'createProperty', 400, 'validation_failed',
    );
    expect(await count('properties')).toBe(before);
  });

  it('refuses input that does not fit the GraphQL types before it reaches REST', async () => {
    const host = await createHost(server.client);
    const before = await count('properties');
    // An unknown field (REST would say 400 too) and a malformed id: no resolver runs, so there is no data at all.
    const unknownField = await gql('mutation ($input: PropertyInput!) { createProperty(input: $input) { id } }', { input: { ...propertyInput(), host_id: host.id } }, host.token);
    expect(unknownField.data).toBeUndefined();
    expect(unknownField.errors![0]!.message).toMatch(/host_id/);
    expect(unknownField.errors![0]!.extensions).toMatchObject({ code: 'validation_failed', status: 400 });
    const badId = await gql('{ getProperty(property_id: "not-a-uuid") { id } }');
    expect(badId.data).toBeUndefined();
    expect(badId.errors![0]!.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(await count('properties')).toBe(before);
  });

  it('updateProperty changes the host\'s listing and refuses another host\'s with 403 either way', async () => {
    const property = await createProperty(server.client);
    const reply = await gql<{ updateProperty: { price_per_night: number } }>(
      'mutation ($id: UUID!, $input: PropertyUpdate!) { updateProperty(property_id: $id, input: $input) { price_per_night } }',
      { id: property.id, input: { price_per_night: 13500 } },
      property.host.token,
    );
    expect(reply.data!.updateProperty.price_per_night).toBe(13500);

    const intruder = await createHost(server.client);
    const rest = await api.updateProperty({ client: server.client, auth: intruder.token, path: { property_id: property.id }, body: { price_per_night: 1 } });
    const refused = await gql(
      'mutation ($id: UUID!, $input: PropertyUpdate!) { updateProperty(property_id: $id, input: $input) { id } }',
      { id: property.id, input: { price_per_night: 1 } },
      intruder.token,
    );
    expectSameRefusal(rest, refused, 'updateProperty', 403, 'forbidden');
    const row = await server.deps.db.selectFrom('properties').select('price_per_night').where('id', '=', property.id).executeTakeFirstOrThrow();
    expect(row.price_per_night).toBe(13500);
  });

  it('deleteProperty withdraws the listing; afterwards both APIs answer 404', async () => {
    const property = await createProperty(server.client);
    const reply = await gql('mutation ($id: UUID!) { deleteProperty(property_id: $id) }', { id: property.id }, property.host.token);
    expect(reply.errors).toBeUndefined();
    const rest = await api.getProperty({ client: server.client, path: { property_id: property.id } });
    const after = await gql('query ($id: UUID!) { getProperty(property_id: $id) { id } }', { id: property.id });
    expectSameRefusal(rest, after, 'getProperty', 404, 'not_found');
    const row = await server.deps.db.selectFrom('properties').selectAll().where('id', '=', property.id).executeTakeFirstOrThrow();
    expect(row.deleted_at).not.toBeNull();
  });
});

describe('links between types', () => {
  it('property → host in one query gives the host\'s public profile, as getUser does', async () => {
    const property = await createProperty(server.client);
    const host = await api.getUser({ client: server.client, path: { user_id: property.host_id } });
    const reply = await gql<{ getProperty: { name: string; host: object } }>(
      `query ($id: UUID!) { getProperty(property_id: $id) { name host { ${selectionOf(host.data!)} } } }`,
      { id: property.id },
    );
    expect(reply.errors).toBeUndefined();
    expect(reply.data!.getProperty).toEqual({ name: property.name, host: host.data });
  });

  it('follows the host link from every listing of a search page too', async () => {
    const city = `Linkton-${Date.now().toString(36)}`;
    const [first, second] = [await createHost(server.client, { name: 'First Host' }), await createHost(server.client, { name: 'Second Host' })];
    await createProperty(server.client, first, { city, price_per_night: 1000 });
    await createProperty(server.client, second, { city, price_per_night: 2000 });
    const reply = await gql<{ listProperties: { data: { host: { id: string; name: string } }[] } }>(
      `{ listProperties(city: ${JSON.stringify(city)}, sort: price_asc) { data { host { id name } } } }`,
    );
    expect(reply.errors).toBeUndefined();
    expect(reply.data!.listProperties.data.map((p) => p.host)).toEqual([{ id: first.id, name: 'First Host' }, { id: second.id, name: 'Second Host' }]);
  });

  it('property → reviews gives the listing\'s reviews as listReviews does, and review → property its new average', async () => {
    const property = await createProperty(server.client);
    for (const [rating, checkOut] of [[5, -3], [2, -1]] as const) {
      const guest = await createUser(server.client);
      const booking_id = await insertPastStay(server, { guest, property, checkIn: fromToday(checkOut - 2), checkOut: fromToday(checkOut) });
      await api.createReview({ client: server.client, auth: guest.token, body: { booking_id, rating, comment: `Rated ${rating}.` } });
    }
    const rest = await api.listReviews({ client: server.client, query: { property_id: property.id } });
    const reply = await gql<{ getProperty: { id: string; reviews: { data: object[] } } }>(
      `query ($id: UUID!) { getProperty(property_id: $id) { id reviews { data { ${selectionOf(rest.data!.data[0]!).replace('host_reply', '')} } } } }`,
      { id: property.id },
    );
    expect(reply.errors).toBeUndefined();
    expect(reply.data!.getProperty.reviews.data).toEqual(rest.data!.data.map(({ host_reply: _reply, ...review }) => review));

    const review = await gql<{ getReview: { rating: number; property: { rating_average: number; review_count: number } } }>(
      'query ($id: UUID!) { getReview(review_id: $id) { rating property { rating_average review_count } } }',
      { id: rest.data!.data[0]!.id },
    );
    expect(review.errors).toBeUndefined();
    expect(review.data!.getReview).toEqual({ rating: 2, property: { rating_average: 3.5, review_count: 2 } });
  });

  it('replyToReview lets the listing\'s host reply, and refuses another user with 403 forbidden as REST does', async () => {
    const property = await createProperty(server.client);
    const guest = await createUser(server.client);
    const booking_id = await insertPastStay(server, { guest, property, checkIn: fromToday(-4), checkOut: fromToday(-2) });
    const { data: review } = await api.createReview({ client: server.client, auth: guest.token, body: { booking_id, rating: 4, comment: 'Nice.' } });
    const mutation = 'mutation ($id: UUID!, $input: HostReplyInput!) { replyToReview(review_id: $id, input: $input) { id host_reply { comment } } }';
    const input = { comment: 'Thank you!' };

    const refused = await gql(mutation, { id: review!.id, input }, guest.token);
    const rest = await api.replyToReview({ client: server.client, auth: guest.token, path: { review_id: review!.id }, body: input });
    expectSameRefusal(rest, refused, 'replyToReview', 403, 'forbidden');

    const replied = await gql<{ replyToReview: object }>(mutation, { id: review!.id, input }, property.host.token);
    expect(replied.errors).toBeUndefined();
    expect(replied.data!.replyToReview).toEqual({ id: review!.id, host_reply: { comment: 'Thank you!' } });
    const row = await server.deps.db.selectFrom('reviews').select('host_reply').where('id', '=', review!.id).executeTakeFirstOrThrow();
    expect(row.host_reply).toBe('Thank you!');
  });

  it('booking → property → host and booking → guest in one query', async () => {
    const host = await createHost(server.client, { name: 'Linked Host' });
    const property = await createProperty(server.client, host, { name: 'Linked listing' });
    const booking = await createBooking(server.client, { property });
    const reply = await gql<{ getBooking: { id: string; property: { name: string; host: { id: string; name: string } }; guest: { id: string } } }>(
      'query ($id: UUID!) { getBooking(booking_id: $id) { id property { name host { id name } } guest { id } } }',
      { id: booking.id },
      booking.guest.token,
    );
    expect(reply.errors).toBeUndefined();
    expect(reply.data!.getBooking).toEqual({
      id: booking.id,
      property: { name: 'Linked listing', host: { id: host.id, name: 'Linked Host' } },
      guest: { id: booking.guest.id },
    });
  });
});

describe('bookings through GraphQL and REST', () => {
  const bookMutation = 'mutation ($input: BookingInput!) { createBooking(input: $input) { id status price { nights total currency } } }';

  it('getBooking and listBookings read the same bookings', async () => {
    const booking = await createBooking(server.client);
    const rest = await api.getBooking({ client: server.client, auth: booking.guest.token, path: { booking_id: booking.id } });
    const { price, refund: _refund, ...scalars } = rest.data!;
    const reply = await gql<{ getBooking: Record<string, unknown> }>(
      `query ($id: UUID!) { getBooking(booking_id: $id) { ${selectionOf(scalars)} price { ${selectionOf(price)} } } }`,
      { id: booking.id },
      booking.guest.token,
    );
    expect(reply.errors).toBeUndefined();
    expect(reply.data!.getBooking).toEqual({ ...scalars, price });
    const list = await gql<{ listBookings: { data: { id: string }[] } }>('{ listBookings { data { id } next_cursor } }', {}, booking.guest.token);
    expect(list.data!.listBookings.data).toEqual([{ id: booking.id }]);
  });

  it('createBooking books the same stay at the same price, and the database holds it', async () => {
    const property = await createProperty(server.client);
    const guest = await createUser(server.client);
    const input = { property_id: property.id, check_in: fromToday(30), check_out: fromToday(33), guests: 2 };
    const reply = await gql<{ createBooking: { id: string; status: string; price: { nights: number; total: number; currency: string } } }>(bookMutation, { input }, guest.token);
    expect(reply.errors).toBeUndefined();
    const rest = await api.getBooking({ client: server.client, auth: guest.token, path: { booking_id: reply.data!.createBooking.id } });
    expect(reply.data!.createBooking).toEqual({ id: rest.data!.id, status: 'pending', price: { nights: 3, total: rest.data!.price.total, currency: 'EUR' } });
    const row = await server.deps.db.selectFrom('bookings').selectAll().where('id', '=', rest.data!.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ guest_id: guest.id, check_in: fromToday(30), status: 'pending', total: rest.data!.price.total });
  });

  it('refuses an overlapping stay (409), no credentials (401) and another guest\'s booking (404) either way', async () => {
    const booking = await createBooking(server.client, { stay: { check_in: fromToday(40), check_out: fromToday(43) } });
    const other = await createUser(server.client);
    const overlap = { property_id: booking.property_id, check_in: fromToday(41), check_out: fromToday(44), guests: 1 };
    expectSameRefusal(
      await api.createBooking({ client: server.client, auth: other.token, body: overlap }),
      await gql(bookMutation, { input: overlap }, other.token),
      'createBooking', 409, 'dates_unavailable',
    );
    expectSameRefusal(
      await api.createBooking({ client: server.client, body: overlap }),
      await gql(bookMutation, { input: overlap }),
      'createBooking', 401, 'unauthenticated',
    );
    expectSameRefusal(
      await api.getBooking({ client: server.client, auth: other.token, path: { booking_id: booking.id } }),
      await gql('query ($id: UUID!) { getBooking(booking_id: $id) { id } }', { id: booking.id }, other.token),
      'getBooking', 404, 'not_found',
    );
    const rows = await server.deps.db.selectFrom('bookings').select('id').where('property_id', '=', booking.property_id).execute();
    expect(rows).toEqual([{ id: booking.id }]);
  });

  it('cancelBooking cancels the same way and frees the nights', async () => {
    const booking = await createBooking(server.client);
    const reply = await gql<{ cancelBooking: { status: string; cancelled_by: string; refund: null } }>(
      'mutation ($id: UUID!) { cancelBooking(booking_id: $id, input: { reason: "Changed plans" }) { status cancelled_by cancellation_reason refund { amount } } }',
      { id: booking.id },
      booking.guest.token,
    );
    expect(reply.errors).toBeUndefined();
    expect(reply.data!.cancelBooking).toEqual({ status: 'cancelled', cancelled_by: booking.guest.id, cancellation_reason: 'Changed plans', refund: null });
    const row = await server.deps.db.selectFrom('bookings').selectAll().where('id', '=', booking.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'cancelled', cancellation_reason: 'Changed plans' });
  });
});

describe('problems as GraphQL errors', () => {
  it('carry the request id of the GraphQL request, which every REST call of it shares', async () => {
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Request-Id': 'gql-req-7' },
      body: JSON.stringify({ query: '{ getCurrentUser { id } }' }),
    });
    expect(response.headers.get('x-request-id')).toBe('gql-req-7');
    const reply = (await response.json()) as GraphQLReply;
    expect(reply.errors![0]!.extensions).toMatchObject({ code: 'unauthenticated', request_id: 'gql-req-7' });
  });

  it('has no conditional reads: If_None_Match is not an argument, and asking for it changes nothing', async () => {
    const property = await createProperty(server.client);
    const reply = await gql('query ($id: UUID!) { getProperty(property_id: $id, If_None_Match: "x") { id } }', { id: property.id });
    expect(reply.data).toBeUndefined();
    expect(reply.errors![0]!.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});

describe('strings the spec constrains', () => {
  it('are plain String in the schema, so clients can declare variables without generated type names', async () => {
    const schema = await readFile(new URL('../generated/schema.graphql', import.meta.url), 'utf8');
    expect(schema).not.toMatch(/^scalar (query|mutation)/m);
    const reply = await gql<{ listProperties: { data: unknown[] } }>('query ($city: String, $country: String) { listProperties(city: $city, country: $country) { data { id } } }', {
      city: 'Lisbon',
      country: 'PT',
    });
    expect(reply.errors).toBeUndefined();
  });

  it('are still checked against their pattern by REST, which names the field', async () => {
    const rest = await api.listProperties({ client: server.client, query: { country: 'pt' } });
    const reply = await gql('query ($country: String) { listProperties(country: $country) { data { id } } }', { country: 'pt' });
    expectSameRefusal(rest, reply, 'listProperties', 400, 'validation_failed');
    expect((rest.error as Problem).errors?.map((e) => e.path)).toEqual(['query.country']);
  });
});

describe('safety', () => {
  it('refuses a query deeper than GRAPHQL_MAX_DEPTH before running it', async () => {
    const shallow = await env.start({ graphqlMaxDepth: 2 });
    const property = await createProperty(shallow.client);
    const reply = await gql(`{ getProperty(property_id: "${property.id}") { host { name } } }`, {}, undefined, shallow);
    expect(reply.data).toBeUndefined();
    expect(reply.errors![0]!.message).toMatch(/depth/i);
    const allowed = await gql(`{ getProperty(property_id: "${property.id}") { name } }`, {}, undefined, shallow);
    expect(allowed.errors).toBeUndefined();
  });

  it('refuses a query costlier than GRAPHQL_MAX_COST before running it', async () => {
    const cheap = await env.start({ graphqlMaxCost: 20 });
    const reply = await gql('{ listProperties { data { id name city country price_per_night currency host { id name bio } } } }', {}, undefined, cheap);
    expect(reply.data).toBeUndefined();
    expect(reply.errors![0]!.message).toMatch(/cost/i);
  });

  it('refuses more aliases than GRAPHQL_MAX_ALIASES (each could be one more REST call)', async () => {
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: getProperty(property_id: "${someId}") { id }`).join(' ');
    const reply = await gql(`{ ${aliases} }`);
    expect(reply.data).toBeUndefined();
    expect(reply.errors![0]!.message).toMatch(/alias/i);
  });

  it('refuses a body over BODY_LIMIT_BYTES with 413 payload_too_large problem details', async () => {
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }', variables: { padding: 'x'.repeat(200_000) } }),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await response.json()).toMatchObject({ code: 'payload_too_large', status: 413 });
  });

  it('serves GraphiQL from the package in development and test', async () => {
    const response = await fetch(`${server.url}/graphql`, { headers: { Accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('Staybook GraphQL');
    expect(html).not.toMatch(/<script[^>]+src="https?:/);
  });

  it('turns introspection and GraphiQL off in production by default, and still answers queries', async () => {
    const production = loadConfig({ NODE_ENV: 'production' });
    expect(production).toMatchObject({ graphqlIntrospection: false, graphqlGraphiql: false });
    expect(loadConfig({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true' }).graphqlIntrospection).toBe(true);

    const prod = await env.start({ graphqlIntrospection: production.graphqlIntrospection, graphqlGraphiql: production.graphqlGraphiql });
    const introspection = await gql('{ __schema { queryType { name } } }', {}, undefined, prod);
    expect(introspection.data).toBeUndefined();
    expect(introspection.errors![0]!.message).toMatch(/introspection/i);
    const page = await fetch(`${prod.url}/graphql`, { headers: { Accept: 'text/html' } });
    expect(page.headers.get('content-type') ?? '').not.toMatch(/^text\/html/);
    const property = await createProperty(prod.client);
    const reply = await gql(`{ getProperty(property_id: "${property.id}") { id host { name } } }`, {}, undefined, prod);
    expect(reply.errors).toBeUndefined();
  });
});

describe('a new user walks through GraphQL only', () => {
  it('signs in as the demo guest, searches Lisbon, reads a property with its host, books it, pays it and reads the booking with its property and host', async () => {
    await seedDemoData(server.deps.db, { bookings: server.deps.config });
    const steps = await walkGraphQL(server.url);
    expect(steps.slice(0, 3)).toEqual([
      expect.objectContaining({ step: 'sign in', outcome: 'ok' }),
      expect.objectContaining({ step: 'search properties in Lisbon', outcome: 'ok' }),
      expect.objectContaining({ step: 'read the property with its host in one query', outcome: 'ok' }),
    ]);
    expect(steps.slice(3)).toEqual([
      expect.objectContaining({ step: 'book the property', outcome: 'ok' }),
      expect.objectContaining({ step: 'pay the booking', outcome: 'ok', data: { payment: 'succeeded' } }),
      expect.objectContaining({ step: 'read the booking with its property and host in one query', outcome: 'ok', data: expect.objectContaining({ status: 'confirmed' }) }),
    ]);
  });
});
