/**
 * GraphQL at /graphql, derived from spec/openapi.yaml by GraphQL Mesh's OpenAPI
 * loader and served by graphql-yoga. Nothing about the API is written twice: every
 * operation of the spec becomes a field named after its operationId (GETs as
 * queries, the rest as mutations), the spec's response `links` become nested
 * fields, and each field calls the REST layer in process through the same
 * `dispatch` the Koa app uses (server/graphql/resolve.ts), so routing, validation,
 * authentication, authorization and business rules are the REST ones by
 * construction. The schema is built once per process and spec; each request brings
 * the server's dispatch in its context. Names and nullability are reshaped after the
 * loader (server/graphql/shape.ts); costs are counted before running
 * (server/graphql/cost.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { Middleware } from 'koa';
import {
  GraphQLError,
  GraphQLScalarType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLString,
  isListType,
  isScalarType,
  isNonNullType,
  Kind,
  lexicographicSortSchema,
  NoSchemaIntrospectionCustomRule,
  printSchema,
  type GraphQLNamedType,
  type GraphQLSchema,
  type GraphQLType,
} from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { loadGraphQLSchemaFromOpenAPI } from '@omnigraph/openapi';
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import type { Document } from 'openapi-backend';
import type { Config } from './config.js';
import { ApiError } from './errors.js';
import { costLimitPlugin } from './graphql/cost.js';
import { publishedSchema, shapeSchema } from './graphql/shape.js';
import { wireResolvers, type GraphQLContext, type RestAccess } from './graphql/resolve.js';

export const GRAPHQL_PATH = '/graphql';

/** The loader builds URLs from an endpoint; none is ever built, as the resolvers dispatch in process. */
const IN_PROCESS_ENDPOINT = 'http://rest.in-process';

/**
 * Schemas built in this process, by spec: building one (the loader reading the whole
 * spec) costs about a second, and nothing in it depends on a server, whose dispatch
 * travels in each request's context instead. A test process starting several servers
 * on one spec builds it once.
 */
const schemas = new Map<string, Promise<GraphQLSchema>>();

/** The schema of a spec, built on first use and shared by every server of the process. */
export function loadGraphQLSchema(spec: Document): Promise<GraphQLSchema> {
  const key = JSON.stringify(spec);
  let schema = schemas.get(key);
  if (!schema) {
    schema = buildGraphQLSchema(spec);
    // A spec that failed to build is not remembered: the next start reports it again.
    schema.catch(() => schemas.delete(key));
    schemas.set(key, schema);
  }
  return schema;
}

async function buildGraphQLSchema(spec: Document): Promise<GraphQLSchema> {
  const loaded = await loadGraphQLSchemaFromOpenAPI('staybook', {
    // The loader mutates the document it is given (titles for untitled schemas).
    source: structuredClone(spec) as unknown as string,
    endpoint: IN_PROCESS_ENDPOINT,
    // Error responses become GraphQL errors (resolve.ts) rather than a `Problem` member of
    // a union per operation, which clients would have to remember to ask for.
    ignoreErrorResponses: true,
    getScalarForFormat: (format) => (format === 'date' ? calendarDate : undefined),
    fetch: (() => {
      throw new Error('GraphQL fields dispatch to REST in process (server/graphql/resolve.ts), never through fetch.');
    }) as never,
  });
  // Names and nullability a person would have written (server/graphql/shape.ts).
  const schema = shapeSchema(withPlainStrings(loaded), spec);
  // Last, on the schema as served: resolvers and the cost estimator know fields by identity, and
  // read the loader's directives (any later renaming of types must come before this, keeping them).
  wireResolvers(schema);
  return schema;
}

/**
 * The loader makes a custom scalar of every string the spec constrains (a pattern
 * or a length), named after the first place it met it:
 * `queryInput_listProperties_city`, `query_listBookings_data_items_cancellation_reason`.
 * Clients would have to write those names in their variable declarations, and
 * they move whenever an operation is added before them. They are plain strings to
 * GraphQL; REST, behind every field, still checks each pattern and length and
 * answers `validation_failed` naming the field. Named formats (UUID, DateTime,
 * EmailAddress, CalendarDate) stay scalars of their own.
 */
function withPlainStrings(schema: GraphQLSchema): GraphQLSchema {
  const isPlaceNamed = (type: GraphQLNamedType) => isScalarType(type) && /^(query|mutation)(Input)?_|_parameter$/.test(type.name);
  const plain = <T extends GraphQLType>(type: T): T => {
    if (isNonNullType(type)) return new GraphQLNonNull(plain(type.ofType)) as T;
    if (isListType(type)) return new GraphQLList(plain(type.ofType)) as T;
    return (isPlaceNamed(type as GraphQLNamedType) ? GraphQLString : type) as T;
  };
  // Every use first, then the scalars themselves, which nothing refers to any more.
  const rewired = mapSchema(schema, {
    [MapperKind.FIELD]: (field) => ({ ...field, type: plain(field.type) }) as typeof field,
    [MapperKind.ARGUMENT]: (argument) => ({ ...argument, type: plain(argument.type) }),
  });
  return mapSchema(rewired, { [MapperKind.SCALAR_TYPE]: (type) => (isPlaceNamed(type) ? null : type) });
}

/** The SDL clients see, sorted so that it is stable, without the loader's directives, for generated/schema.graphql. */
export function printGraphQLSchema(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(publishedSchema(schema)))}\n`;
}

/**
 * Stay dates are calendar dates. The loader's default `Date` scalar turns them into
 * JavaScript Dates, which reach REST as timestamps; this one keeps `YYYY-MM-DD` as
 * sent and leaves impossible dates (2027-02-30) to the REST validator. Its name must
 * not be one of graphql-scalars' (Date, LocalDate, …): Mesh swaps those in by name.
 */
const calendarDate = new GraphQLScalarType<string, string>({
  name: 'CalendarDate',
  description: 'A calendar date, `YYYY-MM-DD` (RFC 3339 full-date).',
  serialize: (value) => asCalendarDate(value),
  parseValue: (value) => asCalendarDate(value),
  parseLiteral: (node) => asCalendarDate(node.kind === Kind.STRING ? node.value : undefined),
});

function asCalendarDate(value: unknown): string {
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  throw new GraphQLError('A Date is a string YYYY-MM-DD.');
}


/** Refuses introspection queries when the deployment turns introspection off. */
const noIntrospection: Plugin = {
  onValidate({ addValidationRule }) {
    addValidationRule(NoSchemaIntrospectionCustomRule);
  },
};

/** graphql-js's hints: `Did you mean "name"?`, `Did you mean the enum value "wifi"?`. */
const SUGGESTION = /\s*Did you mean [^?]*\?/g;

/**
 * Drops graphql-js's "Did you mean …" hints from every error, which would otherwise
 * spell out the schema that turning introspection off hides. It works on the finished
 * result, so it also covers variables refused during execution; graphql-armor's
 * block-field-suggestions only sees validation errors and misses "Did you mean the
 * enum value …", which is why it is not used.
 */
const noSuggestions: Plugin = {
  onResultProcess({ result, setResult }) {
    const hide = (one: unknown) => {
      const errors = (one as { errors?: GraphQLError[] }).errors;
      if (!errors?.some((error) => SUGGESTION.test(error.message))) return one;
      return {
        ...(one as object),
        errors: errors.map((error) => new GraphQLError(error.message.replace(SUGGESTION, ''), {
          nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, originalError: error.originalError, extensions: error.extensions,
        })),
      };
    };
    if (Array.isArray(result)) setResult(result.map(hide) as typeof result);
    else if (typeof result === 'object' && result !== null && !(Symbol.asyncIterator in result)) setResult(hide(result) as typeof result);
  },
};

/**
 * Gives a variable graphql-js refuses (`Variable "$input" got invalid value …`, before any
 * resolver runs; yoga answers HTTP 400) the problem code REST uses for bad input, so that
 * clients branch on `extensions.code` for every refusal.
 */
const invalidVariableCode: Plugin = {
  onResultProcess({ result, setResult }) {
    const coded = (one: unknown) => {
      const errors = (one as { errors?: GraphQLError[] }).errors;
      if (!errors?.some((error) => isVariableError(error))) return one;
      return {
        ...(one as object),
        errors: errors.map((error) => (isVariableError(error)
          ? new GraphQLError(error.message, {
            nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, originalError: error.originalError,
            extensions: { ...error.extensions, code: 'validation_failed', status: 400 },
          })
          : error)),
      };
    };
    if (Array.isArray(result)) setResult(result.map(coded) as typeof result);
    else if (typeof result === 'object' && result !== null && !(Symbol.asyncIterator in result)) setResult(coded(result) as typeof result);
  },
};

function isVariableError(error: GraphQLError): boolean {
  return error.extensions?.code === undefined && error.message.startsWith('Variable "$');
}

/**
 * The Koa middleware serving GET and POST /graphql (and the GraphiQL page) with the
 * deployment's limits; every field calls `rest.dispatch`, the server's REST layer.
 */
export function graphqlMiddleware(schema: GraphQLSchema, spec: Document, rest: RestAccess): Middleware {
  const { config } = rest.deps;
  const yoga = createYoga<{ requestId: string }, GraphQLContext>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    graphiql: config.graphqlGraphiql ? { title: 'Staybook GraphQL', defaultQuery: GRAPHIQL_DEFAULT_QUERY } : false,
    // The page and its scripts come from the package, so GraphiQL works offline (yoga's default loads a CDN).
    renderGraphiQL,
    landingPage: false,
    // Unexpected resolver errors are masked; problem errors are GraphQLErrors and pass through.
    maskedErrors: true,
    logging: false,
    multipart: false,
    context: ({ request, requestId }) => ({ requestId, authorization: request.headers.get('authorization') ?? undefined, rest }),
    plugins: [
      maxDepthPlugin({ n: config.graphqlMaxDepth, exposeLimits: true }),
      maxAliasesPlugin({ n: config.graphqlMaxAliases, exposeLimits: true }),
      costLimitPlugin(spec, config.graphqlMaxCost, {
        'WishlistWithItems.items': config.maxWishlistItems,
        'SharedWishlist.items': config.maxWishlistItems,
      }),
      invalidVariableCode,
      ...(config.graphqlIntrospection ? [] : [noIntrospection]),
      ...(config.nodeEnv === 'production' ? [noSuggestions] : []),
    ],
  });

  return async (ctx) => {
    const hasBody = ctx.method !== 'GET' && ctx.method !== 'HEAD';
    const body = hasBody ? await readBody(ctx.req, config.bodyLimitBytes) : undefined;
    const response = await yoga.fetch(
      new URL(ctx.originalUrl, 'http://graphql.local'),
      { method: ctx.method, headers: ctx.headers as Record<string, string>, body: body as BodyInit | undefined },
      { requestId: ctx.state.requestId as string },
    );
    ctx.status = response.status;
    response.headers.forEach((value, name) => {
      if (name !== 'content-length') ctx.set(name, value);
    });
    ctx.body = Buffer.from(await response.arrayBuffer());
  };
}

/** The raw request body, refused with 413 as soon as it passes the limit the REST API has. */
async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limit) throw new ApiError('payload_too_large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ApiError('payload_too_large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const GRAPHIQL_DEFAULT_QUERY = `# Sign in with the login mutation, then add the header
#   { "Authorization": "Bearer <access_token>" }
# in the Headers tab below for operations that need it.
query SearchLisbon {
  listProperties(city: "Lisbon", limit: 3) {
    data {
      id
      name
      price_per_night
      currency
      host { name }
    }
    next_cursor
  }
}
`;
