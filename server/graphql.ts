/**
 * GraphQL at /graphql, derived from spec/openapi.yaml by GraphQL Mesh's OpenAPI
 * loader and served by graphql-yoga. Nothing about the API is written twice: every
 * operation of the spec becomes a field named after its operationId (GETs as
 * queries, the rest as mutations), the spec's response `links` become nested
 * fields, and each field calls the REST layer in process through the same
 * `dispatch` the Koa app uses, so routing, validation, authentication,
 * authorization and business rules are the REST ones by construction.
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
  isObjectType,
  Kind,
  lexicographicSortSchema,
  NoSchemaIntrospectionCustomRule,
  printSchema,
  type GraphQLField,
  type GraphQLFieldResolver,
  type GraphQLNamedType,
  type GraphQLSchema,
  type GraphQLType,
} from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { loadGraphQLSchemaFromOpenAPI } from '@omnigraph/openapi';
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import type { Document } from 'openapi-backend';
import type { Api, DispatchResult } from './api.js';
import type { Config } from './config.js';
import { ApiError, toApiError, toProblem, type Problem } from './errors.js';

export const GRAPHQL_PATH = '/graphql';

/** The loader builds URLs from an endpoint; this one is never resolved, as no request leaves the process. */
const IN_PROCESS_ENDPOINT = 'http://rest.in-process';

/** What each GraphQL request carries down to the REST calls it makes. */
interface GraphQLContext {
  requestId: string;
  authorization?: string;
}

type Dispatch = Api['dispatch'];
type Log = (line: Record<string, unknown>) => void;

/**
 * The schema, built from the spec with a fetch that hands each request to
 * `dispatch`. The shape does not depend on `dispatch`, so `npm run generate`
 * prints the same schema without a server.
 */
export async function loadGraphQLSchema(spec: Document, dispatch: Dispatch, log: Log = () => {}): Promise<GraphQLSchema> {
  const loaded = await loadGraphQLSchemaFromOpenAPI('staybook', {
    // The loader mutates the document it is given (titles for untitled schemas).
    source: structuredClone(spec) as unknown as string,
    endpoint: IN_PROCESS_ENDPOINT,
    // Error responses become GraphQL errors (below) rather than a `Problem` member of
    // a union per operation, which clients would have to remember to ask for.
    ignoreErrorResponses: true,
    getScalarForFormat: (format) => (format === 'date' ? calendarDate : undefined),
    operationHeaders: {
      Authorization: '{context.authorization}',
      'X-Request-Id': '{context.requestId}',
    },
    fetch: (async (url: string, init?: RequestInit, context?: GraphQLContext) =>
      toResponse(await dispatchInProcess(dispatch, url, init, context?.requestId ?? 'graphql', log))) as never,
  });
  const schema = withPlainStrings(loaded);
  for (const rootType of [schema.getQueryType(), schema.getMutationType()]) {
    for (const field of Object.values(rootType?.getFields() ?? {})) {
      // Links resolve through these same root fields, so nested calls get problem errors too.
      if (field.resolve) field.resolve = withProblemErrors(field, field.resolve);
    }
  }
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type)) continue;
    for (const field of Object.values(type.getFields())) {
      if (field.resolve && field.astNode?.directives?.some((directive) => directive.name.value === 'oas_link')) {
        field.resolve = withLinkSource(field.resolve);
      }
    }
  }
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

/** The SDL clients see, sorted so that it is stable for generated/schema.graphql. */
export function printGraphQLSchema(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

/** Turns a Mesh fetch into a REST dispatch, and anything it throws into the same problem the REST API answers. */
async function dispatchInProcess(dispatch: Dispatch, url: string, init: RequestInit | undefined, requestId: string, log: Log): Promise<DispatchResult> {
  const target = new URL(url);
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of target.searchParams) {
    const seen = query[name];
    query[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  const headers: Record<string, string> = {};
  new Headers(init?.headers).forEach((value, name) => {
    headers[name] = value;
  });
  const text = typeof init?.body === 'string' ? init.body : undefined;
  try {
    return await dispatch(
      { method: init?.method ?? 'GET', path: target.pathname, query, headers, body: text === undefined ? undefined : JSON.parse(text) },
      requestId,
    );
  } catch (err) {
    const { error, unexpected } = toApiError(err);
    if (unexpected) log({ level: 'error', request_id: requestId, message: 'unexpected error', error: String((err as Error)?.stack ?? err) });
    return { status: error.status, headers: error.headers, body: toProblem(error, requestId) };
  }
}

function toResponse(result: DispatchResult): Response {
  const empty = result.body === undefined || result.status === 204 || result.status === 304;
  const headers = new Headers(result.headers);
  if (!empty) headers.set('Content-Type', result.status >= 400 ? 'application/problem+json' : 'application/json');
  return new Response(empty ? null : JSON.stringify(result.body), { status: result.status, headers });
}

/**
 * Mesh reports a non-2xx answer as an error whose extensions hold the whole HTTP
 * exchange. Clients get the problem instead (see `problemError`). A call this layer
 * refuses itself is turned into a problem by the same `toProblem` REST answers with.
 */
function withProblemErrors(
  field: GraphQLField<unknown, GraphQLContext>,
  resolve: GraphQLFieldResolver<unknown, GraphQLContext>,
): GraphQLFieldResolver<unknown, GraphQLContext> {
  const required = field.args.filter((arg) => isNonNullType(arg.type)).map((arg) => arg.name);
  return async (root, args: Record<string, unknown>, context, info) => {
    // A link whose source field is absent would call another path (`/users/` instead of `/users/{user_id}`).
    const missing = required.filter((name) => args[name] === undefined || args[name] === null);
    if (missing.length > 0) {
      return problemError(toProblem(new ApiError('validation_failed', `${field.name} needs ${missing.join(', ')}.`), context.requestId));
    }
    const result = await resolve(root, args, context, info);
    if (!(result instanceof Error)) return result;
    const response = (result as GraphQLError).extensions?.response as { status?: number; body?: unknown } | undefined;
    if (typeof response?.status !== 'number') return result;
    // 304, the one bodiless non-2xx: If_None_Match matched the current ETag. Not a problem, so not a problem code.
    if (response.status === 304) {
      return new GraphQLError('The REST operation answered 304 without a body.', { extensions: { code: 'not_modified', status: 304 } });
    }
    // Every other REST refusal carries its problem (server/app.ts and dispatchInProcess answer every error with toProblem).
    if (isProblem(response.body)) return problemError(response.body);
    const error = new ApiError('internal_error', `The REST operation answered ${response.status} without a problem document.`);
    return problemError(toProblem(error, context.requestId));
  };
}

/**
 * A problem as GraphQL reports it: its `detail` as the message, and its `code`,
 * `status`, field `errors` and `request_id` as extensions. graphql-js adds the
 * field's location and path to a returned error.
 */
function problemError(problem: Problem): GraphQLError {
  return new GraphQLError(problem.detail, {
    extensions: {
      code: problem.code,
      status: problem.status,
      ...(problem.errors ? { errors: problem.errors } : {}),
      ...(problem.request_id ? { request_id: problem.request_id } : {}),
    },
  });
}

/**
 * Mesh reads a link's parameters (`$response.body#/host_id`) from metadata it puts
 * only on the object a REST call returned. A resource nested in a list page has
 * none, so it is given the same view of itself: the link then works on
 * `listProperties { data { host { name } } }` as on `getProperty { host { name } }`.
 */
function withLinkSource(resolve: GraphQLFieldResolver<unknown, GraphQLContext>): GraphQLFieldResolver<unknown, GraphQLContext> {
  return (root, args, context, info) => {
    if (typeof root === 'object' && root !== null && !('$response' in root)) {
      Object.defineProperty(root, '$response', { value: { body: root } });
    }
    return resolve(root, args, context, info);
  };
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

function isProblem(body: unknown): body is Problem {
  return typeof body === 'object' && body !== null && typeof (body as Problem).code === 'string' && typeof (body as Problem).status === 'number';
}

/** Refuses introspection queries when the deployment turns introspection off. */
const noIntrospection: Plugin = {
  onValidate({ addValidationRule }) {
    addValidationRule(NoSchemaIntrospectionCustomRule);
  },
};

/** The Koa middleware serving GET and POST /graphql (and the GraphiQL page) with the deployment's limits. */
export function graphqlMiddleware(schema: GraphQLSchema, config: Config): Middleware {
  const yoga = createYoga<GraphQLContext>({
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
    context: ({ request }) => ({ authorization: request.headers.get('authorization') ?? undefined }),
    plugins: [
      maxDepthPlugin({ n: config.graphqlMaxDepth, exposeLimits: true }),
      costLimitPlugin({ maxCost: config.graphqlMaxCost, exposeLimits: true }),
      maxAliasesPlugin({ n: config.graphqlMaxAliases, exposeLimits: true }),
      ...(config.graphqlIntrospection ? [] : [noIntrospection]),
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
