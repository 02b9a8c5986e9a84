/**
 * The GraphQL schema a person would have written, made from the one Mesh's OpenAPI
 * loader derives. The loader stays the derivation (every type, field and link comes
 * from the spec); this step only renames and tightens what it leaves loader-shaped:
 *
 * - input types lose the loader's `_Input` suffix (`BookingInput_Input` → `BookingInput`,
 *   the spec's component name);
 * - enums the loader names after the place it met them (`queryInput_listProperties_sort`,
 *   `Bearer_const`) take the spec's component name when one with the same values exists
 *   (`CancellationPolicy`), else a name from where they are used (`PropertySort`);
 * - HTTP headers are not arguments: `Idempotency-Key` becomes `idempotencyKey`,
 *   `If-None-Match` is dropped (a conditional read has no meaning for one field of a
 *   GraphQL answer), and the payment provider's webhook is not exposed at all;
 * - `input` is non-null where REST requires the body, and list items are non-null
 *   (no REST array of this API holds null);
 * - scalars say how they are serialised.
 *
 * It runs before resolve.ts wires the resolvers: those read the loader's directives
 * (`@httpOperation`, `@linkResolver`, `@oas_link`) from each field's AST node, which
 * mapSchema carries over untouched; header arguments are looked up through
 * `HEADER_ARGUMENTS` below, since the directives still name the loader's arguments.
 */
import {
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLScalarType,
  GraphQLSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  specifiedDirectives,
  valueFromASTUntyped,
  type GraphQLField,
  type GraphQLFieldConfig,
  type GraphQLNamedType,
  type GraphQLType,
} from 'graphql';
import { MapperKind, mapSchema, pruneSchema } from '@graphql-tools/utils';
import type { Document } from 'openapi-backend';

/**
 * What becomes of each HTTP header the spec declares as a parameter: the argument that
 * carries it in GraphQL, or null when GraphQL has none.
 */
export const HEADER_ARGUMENTS: Record<string, string | null> = {
  'idempotency-key': 'idempotencyKey',
  'if-none-match': null,
  'stripe-signature': null,
  'last-event-id': null,
};

/**
 * Operations GraphQL does not expose: the webhook is called by the payment provider with a
 * signature, never by clients; the live events stream (text/event-stream) never ends, so it
 * has no single answer a query field could return (clients open it over REST).
 */
export const NOT_EXPOSED = new Set(['handlePaymentWebhook', 'streamEvents']);

/** Names derived from where an enum is used, where a shorter one reads better. */
const ENUM_NAMES: Record<string, string> = {
  ListPropertiesSort: 'PropertySort',
  ListBookingsRole: 'BookingRoleFilter',
  RegisterUserRole: 'RegistrationRole',
  SessionTokenType: 'TokenType',
  AvailabilityNightStatus: 'NightStatus',
  BookingRefundStatus: 'RefundStatus',
  PaymentRefundStatus: 'RefundStatus',
  PaymentRefundReason: 'RefundReason',
  PaymentProvider: 'PaymentProvider',
};

/** How each scalar reaches a client and is sent back. */
const SCALAR_DESCRIPTIONS: Record<string, string> = {
  UUID: 'A UUID, serialised as its lowercase hyphenated string (`3f2b…-…`).',
  DateTime: 'An instant, serialised as an RFC 3339 date-time string in UTC (`2027-05-01T12:00:00.000Z`).',
  EmailAddress: 'An e-mail address, serialised as a string.',
  BigInt: 'A whole number beyond 32 bits, serialised as a JSON number.',
  NonNegativeFloat: 'A number of 0 or more, serialised as a JSON number (a distance or a coordinate, never money).',
  PositiveFloat: 'A number greater than 0, serialised as a JSON number (never money: amounts are Int minor units).',
  JSON: 'Any JSON value, serialised as itself.',
  Void: 'No value: always null.',
  ObjMap: 'A JSON object; used only by the directives the server reads internally, never by a field.',
};

const LOADER_NAMED = /^(query|mutation)(Input)?_|_const$/;
const pascal = (name: string) => name.replace(/(^|_)(\w)/g, (_, __, c: string) => c.toUpperCase());
const valuesOf = (type: GraphQLEnumType) => type.getValues().map((v) => v.name).sort().join('|');

/** The schema with names and nullability a client would expect (see the header). */
export function shapeSchema(loaded: GraphQLSchema, spec: Document): GraphQLSchema {
  const bodyRequired = new Set<string>();
  for (const item of Object.values(spec.paths ?? {})) {
    for (const op of Object.values(item ?? {}) as { operationId?: string; requestBody?: { required?: boolean } }[]) {
      if (op?.operationId && op.requestBody?.required) bodyRequired.add(op.operationId);
    }
  }

  // 1. Drop what GraphQL does not expose, then prune what only it used (WebhookEvent_Input…).
  let schema = pruneSchema(mapSchema(loaded, {
    [MapperKind.MUTATION_ROOT_FIELD]: (field, name) => (NOT_EXPOSED.has(name) ? null : field),
    [MapperKind.QUERY_ROOT_FIELD]: (field, name) => (NOT_EXPOSED.has(name) ? null : field),
  }));

  // 2. Enum names: where each loader-named enum is used decides its name.
  const renames = enumRenames(schema);

  // 3. Types: non-null list items, required bodies, header arguments.
  const tighten = <T extends GraphQLType>(type: T): T => {
    if (isNonNullType(type)) return new GraphQLNonNull(tighten(type.ofType) as never) as unknown as T;
    if (isListType(type)) {
      const item = tighten(type.ofType as GraphQLType);
      return new GraphQLList(isNonNullType(item) ? item : new GraphQLNonNull(item as never)) as T;
    }
    const merged = renames.get((type as GraphQLNamedType).name);
    return (merged?.into ? schema.getType(merged.into) ?? type : type) as T;
  };
  const mergedAway = new Set([...renames].filter(([, r]) => r.into).map(([name]) => name));
  schema = mapSchema(schema, {
    [MapperKind.FIELD]: (field) => ({ ...field, type: tighten(field.type) }) as typeof field,
    [MapperKind.ARGUMENT]: (argument) => ({ ...argument, type: tighten(argument.type) }),
    [MapperKind.ROOT_FIELD]: (field, name) => {
      const args: typeof field.args = {};
      for (const [argName, arg] of Object.entries(field.args ?? {})) {
        const header = headerOf(field.astNode, argName);
        if (header !== undefined) {
          const renamed = HEADER_ARGUMENTS[header];
          if (renamed === undefined) throw new Error(`GraphQL: header ${header} of ${name} has no mapping in HEADER_ARGUMENTS.`);
          if (renamed) args[renamed] = { ...arg, description: IDEMPOTENCY_DESCRIPTION };
          continue;
        }
        const type = tighten(arg.type);
        args[argName] = { ...arg, type: argName === 'input' && bodyRequired.has(name) && !isNonNullType(type) ? new GraphQLNonNull(type) : type };
      }
      return { ...field, type: tighten(field.type), args };
    },
  });

  // 4. Names and descriptions of the named types, after every use points where it should.
  schema = mapSchema(schema, {
    [MapperKind.ENUM_TYPE]: (type) => {
      const rename = renames.get(type.name);
      if (rename?.into || mergedAway.has(type.name)) return null;
      return rename ? new GraphQLEnumType({ ...type.toConfig(), name: rename.name }) : type;
    },
    [MapperKind.INPUT_OBJECT_TYPE]: (type) =>
      type.name.endsWith('_Input') ? new GraphQLInputObjectType({ ...type.toConfig(), name: type.name.slice(0, -'_Input'.length) }) : type,
    [MapperKind.SCALAR_TYPE]: (type) =>
      SCALAR_DESCRIPTIONS[type.name] ? new GraphQLScalarType({ ...type.toConfig(), description: SCALAR_DESCRIPTIONS[type.name] }) : type,
  });
  return schema;
}

const IDEMPOTENCY_DESCRIPTION =
  'The REST `Idempotency-Key`: a retry with the same key answers as the first request did, and never acts twice (see the field\'s description).';

/** The header a root field's argument carries, from the loader's `@httpOperation(operationSpecificHeaders:)`. */
function headerOf(astNode: GraphQLField<unknown, unknown>['astNode'] | GraphQLFieldConfig<unknown, unknown>['astNode'], argName: string): string | undefined {
  const directive = astNode?.directives?.find((d) => d.name.value === 'httpOperation');
  const node = directive?.arguments?.find((a) => a.name.value === 'operationSpecificHeaders')?.value;
  if (!node) return undefined;
  const value = valueFromASTUntyped(node);
  // Mesh prints its ObjMap arguments as JSON strings (as resolve.ts reads them too).
  const pairs = (typeof value === 'string' ? JSON.parse(value) : value) as [string, string][];
  return pairs.find(([, template]) => template === `{args.${argName}}`)?.[0].toLowerCase();
}

interface EnumRename { name: string; into?: string }

/**
 * Names for loader-named enums: the spec component with the same values and the
 * field's name (`cancellation_policy` → `CancellationPolicy`), else the owner and
 * field (`Booking.refund_status` → `BookingRefundStatus`, `listProperties(sort:)` →
 * `ListPropertiesSort`), shortened by ENUM_NAMES. Two loader enums reaching one name
 * must hold the same values and become one.
 */
function enumRenames(schema: GraphQLSchema): Map<string, EnumRename> {
  const uses = new Map<string, string>();
  const use = (enumType: GraphQLNamedType, owner: string, field: string) => {
    if (isEnumType(enumType) && LOADER_NAMED.test(enumType.name) && !uses.has(enumType.name)) uses.set(enumType.name, `${owner}\u0000${field}`);
  };
  const roots = [schema.getQueryType(), schema.getMutationType()];
  for (const type of Object.values(schema.getTypeMap()).sort((a, b) => a.name.localeCompare(b.name))) {
    if (type.name.startsWith('__')) continue;
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
      const owner = type.name.replace(/(Input)?_Input$|Input$/, '');
      for (const field of Object.values(type.getFields())) {
        if (roots.includes(type as never)) {
          for (const arg of (field as { args: { name: string; type: GraphQLType }[] }).args) use(getNamedType(arg.type), field.name, arg.name);
        }
        use(getNamedType(field.type as never) as unknown as GraphQLNamedType, owner, field.name);
      }
    }
  }
  const result = new Map<string, EnumRename>();
  const firstOfName = new Map<string, string>();
  for (const [loaderName, where] of uses) {
    const [owner, field] = where.split('\u0000') as [string, string];
    const type = schema.getType(loaderName) as GraphQLEnumType;
    const component = schema.getType(pascal(field));
    if (component && isEnumType(component) && !LOADER_NAMED.test(component.name) && valuesOf(component) === valuesOf(type)) {
      result.set(loaderName, { name: component.name, into: component.name });
      continue;
    }
    const derived = `${pascal(owner)}${pascal(field)}`;
    const name = ENUM_NAMES[derived] ?? derived;
    const existing = schema.getType(name);
    if (existing && !uses.has(existing.name)) throw new Error(`GraphQL: enum ${loaderName} would be named ${name}, which the spec already uses.`);
    const first = firstOfName.get(name);
    if (first) {
      if (valuesOf(schema.getType(first) as GraphQLEnumType) !== valuesOf(type)) throw new Error(`GraphQL: enums ${first} and ${loaderName} both want the name ${name}.`);
      result.set(loaderName, { name, into: first });
    } else {
      firstOfName.set(name, loaderName);
      result.set(loaderName, { name });
    }
  }
  return result;
}

/** The schema as published (generated/schema.graphql): without the loader's directives and the types only they use. */
export function publishedSchema(schema: GraphQLSchema): GraphQLSchema {
  return pruneSchema(new GraphQLSchema({ ...schema.toConfig(), directives: [...specifiedDirectives] }));
}
