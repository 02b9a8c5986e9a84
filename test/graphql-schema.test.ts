/**
 * The GraphQL schema as a person would have written it (issue 15, server/graphql/shape.ts):
 * names from the spec's components and none of the loader's, no HTTP header as an
 * argument, non-null where REST requires, list items non-null (checked on the types
 * @graphql-codegen generates), idempotency through `idempotencyKey`, and a bad
 * variable refused with a problem code.
 */
import { readFile } from 'node:fs/promises';
import {
  getNamedType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  parse,
  type GraphQLArgument,
  type GraphQLSchema,
  type GraphQLType,
} from 'graphql';
import { codegen } from '@graphql-codegen/core';
import * as typescriptPlugin from '@graphql-codegen/typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { graphqlRequest } from '../scripts/walk-graphql.js';
import { loadGraphQLSchema, printGraphQLSchema } from '../server/graphql.js';
import { loadSpec } from '../server/server.js';
import { createProperty, createUser, fromToday } from './support/factories.js';
import { useTestApp } from './support/app.js';

const { server } = useTestApp();

interface SpecSchema { required?: string[]; properties?: Record<string, { default?: unknown }> }
interface SpecOperation { operationId: string; requestBody?: { required?: boolean }; parameters?: { in: string; name: string }[] }

let schema: GraphQLSchema;
let sdl: string;
let spec: { paths: Record<string, Record<string, SpecOperation>>; components: { schemas: Record<string, SpecSchema> } };
beforeAll(async () => {
  spec = (await loadSpec()) as never;
  schema = await loadGraphQLSchema(spec as never);
  sdl = await readFile(new URL('../generated/schema.graphql', import.meta.url), 'utf8');
});

const operations = () => Object.values(spec.paths).flatMap((item) => Object.values(item).filter((op) => op.operationId));

/** Every type position of the schema: fields, their arguments and input fields. */
function positions(): { where: string; type: GraphQLType }[] {
  const found: { where: string; type: GraphQLType }[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        found.push({ where: `${type.name}.${field.name}`, type: field.type });
        for (const arg of ('args' in field ? field.args : []) as GraphQLArgument[]) found.push({ where: `${type.name}.${field.name}(${arg.name})`, type: arg.type });
      }
    }
  }
  return found;
}

describe('generated/schema.graphql', () => {
  it('is the schema the server builds, without the loader\'s directives', () => {
    expect(sdl).toContain(printGraphQLSchema(schema));
    expect(sdl).not.toMatch(/^directive @/m);
    expect(sdl).not.toMatch(/@(httpOperation|linkResolver|oas_link|transport|resolveRoot)\b/);
  });

  it('has no type named by the loader (query_, mutation_, _Input, _const)', () => {
    const names = [...sdl.matchAll(/^(?:type|input|enum|scalar|interface|union) (\w+)/gm)].map((m) => m[1]!);
    expect(names.length).toBeGreaterThan(20);
    expect(names.filter((name) => /query_|mutation_|Input_Input|_Input$|_const|^queryInput|^mutationInput/.test(name))).toEqual([]);
    // The spec's component names are the GraphQL names.
    for (const name of ['Property', 'Booking', 'BookingStatus', 'BookingInput', 'PropertyInput', 'CancellationPolicy', 'UserRole']) {
      expect(names).toContain(name);
    }
  });

  it('takes no HTTP header as an argument and does not expose the payment webhook', () => {
    const headers = new Set(operations().flatMap((op) => (op.parameters ?? []).filter((p) => p.in === 'header').map((p) => p.name.replace(/-/g, '_'))));
    expect(headers.size).toBeGreaterThan(0);
    const args = positions().filter((p) => p.where.includes('(')).map((p) => p.where.slice(p.where.indexOf('(') + 1, -1));
    expect(args.filter((arg) => headers.has(arg) || /^(If_None_Match|Idempotency_Key|Stripe_Signature)$/.test(arg))).toEqual([]);
    expect(schema.getMutationType()!.getFields().handlePaymentWebhook).toBeUndefined();
    expect(sdl).not.toMatch(/handlePaymentWebhook|WebhookEvent/);
    expect(schema.getMutationType()!.getFields().createPayment!.args.find((a) => a.name === 'idempotencyKey')!.type.toString()).toBe('String!');
  });

  it('makes `input` non-null wherever REST requires the body, and required input fields non-null', () => {
    const mutations = schema.getMutationType()!.getFields();
    const required = operations().filter((op) => op.requestBody?.required && mutations[op.operationId]);
    expect(required.length).toBeGreaterThan(10);
    for (const op of required) {
      const input = mutations[op.operationId]!.args.find((arg) => arg.name === 'input');
      expect(input && isNonNullType(input.type), `${op.operationId}(input:)`).toBe(true);
    }
    for (const type of Object.values(schema.getTypeMap())) {
      const component = spec.components.schemas[type.name];
      if (!isInputObjectType(type) || !component) continue;
      for (const name of component.required ?? []) {
        if (component.properties?.[name]?.default !== undefined) continue;
        expect(isNonNullType(type.getFields()[name]!.type), `${type.name}.${name}`).toBe(true);
      }
    }
  });

  it('has no list whose items may be null', () => {
    const nullableItems = positions().filter(({ type }) => {
      const unwrapped = isNonNullType(type) ? type.ofType : type;
      return isListType(unwrapped) && !isNonNullType(unwrapped.ofType);
    });
    expect(nullableItems.map((p) => p.where)).toEqual([]);
  });

  it('documents how each custom scalar is serialised', () => {
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || ['String', 'Int', 'Float', 'Boolean', 'ID'].includes(type.name) || !isScalarType(type)) continue;
      expect(type.description, type.name).toBeTruthy();
    }
  });

  it('gives a @graphql-codegen client Array<T>, never Array<Maybe<T>>', async () => {
    const output = await codegen({
      schema: parse(sdl),
      documents: [],
      filename: 'schema.ts',
      config: {},
      plugins: [{ typescript: {} }],
      pluginMap: { typescript: typescriptPlugin },
    });
    expect(output).toMatch(/data: Array<Property>;/);
    expect(output).toMatch(/nights: Array<AvailabilityNight>;/);
    expect(output).not.toMatch(/Array<Maybe</);
    expect(output).not.toMatch(/Array<InputMaybe</);
    expect(output).toMatch(/export type BookingInput = \{/);
    expect(output).not.toMatch(/If_None_Match|Idempotency_Key/);
  });
});

describe('through the served schema', () => {
  const book = 'mutation ($key: String, $input: BookingInput!) { createBooking(idempotencyKey: $key, input: $input) { id } }';

  it('createBooking with the same idempotencyKey books once and answers the first booking again', async () => {
    const property = await createProperty(server.client);
    const guest = await createUser(server.client);
    const input = { property_id: property.id, check_in: fromToday(40), check_out: fromToday(42), guests: 1 };
    const key = `gql-idem-${property.id}`;
    const first = await graphqlRequest<{ createBooking: { id: string } }>(server.url, book, { key, input }, guest.token);
    const again = await graphqlRequest<{ createBooking: { id: string } }>(server.url, book, { key, input }, guest.token);
    expect(first.errors).toBeUndefined();
    expect(again.errors).toBeUndefined();
    expect(again.data!.createBooking.id).toBe(first.data!.createBooking.id);
    const rows = await server.deps.db.selectFrom('bookings').select('id').where('property_id', '=', property.id).execute();
    expect(rows).toHaveLength(1);
  });

  it('refuses a missing required input and an invalid variable with validation_failed, booking nothing', async () => {
    const guest = await createUser(server.client);
    const missing = await graphqlRequest(server.url, book, { key: 'k' }, guest.token);
    expect(missing.data).toBeUndefined();
    expect(missing.errors![0]!.extensions).toMatchObject({ code: 'validation_failed', status: 400 });
    const wrongType = await graphqlRequest(server.url, book, { input: { property_id: 'x', check_in: 'soon', check_out: fromToday(2), guests: 'two' } }, guest.token);
    expect(wrongType.errors![0]!.extensions).toMatchObject({ code: 'validation_failed', status: 400 });
    const rows = await server.deps.db.selectFrom('bookings').select('id').where('guest_id', '=', guest.id).execute();
    expect(rows).toHaveLength(0);
  });
});
