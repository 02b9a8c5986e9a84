/**
 * How GraphQL fields reach the REST layer, in process and without HTTP objects.
 *
 * Mesh's OpenAPI loader gives the schema its shape and marks each root field with
 * the REST operation behind it (`@httpOperation`: method, path template, query and
 * header arguments) and each link (`@linkResolver` on the root field, `@oas_link` on
 * the linked field). Its own resolvers would build a web `Request` per field and parse
 * a `Response` back; these resolvers read the same directives once, at schema build,
 * and call `api.dispatch` with a plain `DispatchRequest`, so routing, validation,
 * authentication, access and every business rule stay the REST ones by construction.
 *
 * Within one GraphQL request, reads go through DataLoaders (one set per request):
 * identical GETs are made once, and a link whose operation has a batch read
 * (handlers/batch-reads.ts) loads every parent's target at once: a page of 100
 * properties with their hosts makes one `getUser` batch, one query, not 100 calls.
 */
import DataLoader from 'dataloader';
import {
  GraphQLError,
  isNonNullType,
  valueFromASTUntyped,
  type ConstDirectiveNode,
  type GraphQLField,
  type GraphQLFieldResolver,
  type GraphQLSchema,
} from 'graphql';
import { batchReads } from '../../handlers/batch-reads.js';
import { HEADER_ARGUMENTS } from './shape.js';
import type { OperationId } from '../../generated/operations.gen.js';
import type { Api, DispatchRequest, DispatchResult } from '../api.js';
import { authenticate, type AuthUser } from '../auth.js';
import { ApiError, toApiError, toProblem, type Problem } from '../errors.js';
import type { Deps, RequestContext } from '../operations.js';

/** What the server gives every GraphQL request: the REST dispatch and its dependencies. */
export interface RestAccess {
  dispatch: Api['dispatch'];
  deps: Deps;
  log: (line: Record<string, unknown>) => void;
}

/** What each GraphQL request carries down to the REST calls it makes. */
export interface GraphQLContext {
  requestId: string;
  authorization?: string | undefined;
  rest: RestAccess;
  /** This request's loaders, made on first use (a loader's cache must never outlive its request). */
  loaders?: Map<string, DataLoader<unknown, unknown, unknown>>;
  /** The caller, authenticated once per request for batch reads (REST calls authenticate themselves). */
  caller?: Promise<AuthUser | null>;
}

/** The REST operation behind a root field, as `@httpOperation` describes it. */
export interface HttpOperation {
  operationId: string;
  method: string;
  /** Mesh's template: `/properties/{args.property_id}`. */
  path: string;
  /** Header name → argument name (`Idempotency-Key` → `idempotencyKey`). */
  headerArgs: [string, string][];
  /** Query parameter → argument name. */
  queryArgs: [string, string][];
  /** Query parameters whose arrays are sent comma-separated (`style: form, explode: false`). */
  commaParams: Set<string>;
}

/** A linked field: the root field it calls and where its arguments come from in the parent object. */
export interface Link {
  target: HttpOperation;
  targetField: GraphQLField<unknown, GraphQLContext>;
  /** Target argument → the parent's property holding its value (`user_id` ← `host_id`). */
  argsFromParent: [string, string][];
}

/** What each field of the schema does, for the resolvers and the cost estimator. */
export interface FieldPlan {
  kind: 'operation' | 'link';
  operation: HttpOperation;
}

// Keyed by field identity, whatever the field's context type.
type AnyField = GraphQLField<any, any>;

const plans = new WeakMap<GraphQLSchema, WeakMap<AnyField, FieldPlan>>();

/** The plan of a field of a schema built by `wireResolvers`, or undefined for fields that do not call REST. */
export function planOf(schema: GraphQLSchema, field: AnyField): FieldPlan | undefined {
  return plans.get(schema)?.get(field);
}

function directiveArgs(directives: readonly ConstDirectiveNode[] | undefined, name: string): Record<string, unknown> | undefined {
  const directive = directives?.find((d) => d.name.value === name);
  if (!directive) return undefined;
  const args: Record<string, unknown> = {};
  for (const arg of directive.arguments ?? []) {
    const value = valueFromASTUntyped(arg.value);
    // Mesh prints its ObjMap arguments as JSON strings.
    args[arg.name.value] = typeof value === 'string' && /^[{[]/.test(value) ? JSON.parse(value) : value;
  }
  return args;
}

function httpOperationOf(field: AnyField): HttpOperation | undefined {
  const args = directiveArgs(field.astNode?.directives, 'httpOperation');
  if (!args) return undefined;
  const headers = (args.operationSpecificHeaders ?? []) as [string, string][];
  const byParam = (args.queryStringOptionsByParam ?? {}) as Record<string, { arrayFormat?: string }>;
  return {
    operationId: field.name,
    method: String(args.httpMethod),
    path: String(args.path),
    // The directive names the loader's arguments (`Idempotency_Key`); shape.ts renamed or dropped them.
    headerArgs: headers.flatMap(([name, template]) => {
      const arg = HEADER_ARGUMENTS[name.toLowerCase()] ?? /^\{args\.(\w+)\}$/.exec(template)?.[1];
      return arg && field.args.some((a) => a.name === arg) ? [[name.toLowerCase(), arg] as [string, string]] : [];
    }),
    queryArgs: Object.entries((args.queryParamArgMap ?? {}) as Record<string, string>),
    commaParams: new Set(Object.entries(byParam).filter(([, options]) => options.arrayFormat === 'comma').map(([param]) => param)),
  };
}

/** `{root.$response.body#/host_id}` → `host_id`: links read a top-level property of the parent object. */
function parentProperty(template: string): string {
  const property = /^\{root\.\$response\.body#\/(\w+)\}$/.exec(template)?.[1];
  if (!property) throw new Error(`Unsupported link parameter ${template}: only $response.body#/<property> is supported.`);
  return property;
}

/**
 * Replaces the loader's resolvers: every root field dispatches its REST operation,
 * every link loads through this request's loaders. Called once per built schema.
 */
export function wireResolvers(schema: GraphQLSchema): void {
  const plan = new WeakMap<AnyField, FieldPlan>();
  plans.set(schema, plan);
  const operations = new Map<string, { field: GraphQLField<unknown, GraphQLContext>; operation: HttpOperation }>();
  for (const rootType of [schema.getQueryType(), schema.getMutationType()]) {
    for (const field of Object.values(rootType?.getFields() ?? {}) as GraphQLField<unknown, GraphQLContext>[]) {
      const operation = httpOperationOf(field);
      if (!operation) throw new Error(`GraphQL field ${field.name} has no REST operation.`);
      operations.set(field.name, { field, operation });
      plan.set(field, { kind: 'operation', operation });
      field.resolve = operationResolver(operation);
    }
  }
  // Links are declared on the root field whose answer holds them (`@linkResolver` on getProperty
  // for Property.host); the linked field itself carries `@oas_link` naming that root field.
  for (const type of Object.values(schema.getTypeMap())) {
    if (!('getFields' in type) || type.name.startsWith('__') || type === schema.getQueryType() || type === schema.getMutationType()) continue;
    for (const field of Object.values(type.getFields()) as GraphQLField<unknown, GraphQLContext>[]) {
      const oasLink = directiveArgs(field.astNode?.directives, 'oas_link');
      if (!oasLink) continue;
      const source = operations.get(String(oasLink.defaultField));
      const linkMap = directiveArgs(source?.field.astNode?.directives, 'linkResolver')?.linkResolverMap as
        | Record<string, { linkObjArgs: Record<string, string>; targetFieldName: string }>
        | undefined;
      const declared = linkMap?.[field.name];
      const target = declared ? operations.get(declared.targetFieldName) : undefined;
      if (!declared || !target) throw new Error(`GraphQL link ${type.name}.${field.name} has no target operation.`);
      const link: Link = {
        target: target.operation,
        targetField: target.field,
        argsFromParent: Object.entries(declared.linkObjArgs).map(([arg, template]) => [arg, parentProperty(template)]),
      };
      plan.set(field, { kind: 'link', operation: target.operation });
      field.resolve = linkResolver(link);
    }
  }
}

function operationResolver(operation: HttpOperation): GraphQLFieldResolver<unknown, GraphQLContext> {
  return async (_root, args: Record<string, unknown>, context) => {
    const request = toDispatchRequest(operation, args, context);
    // Reads within one GraphQL request are made once each (aliases of the same read share it).
    if (operation.method === 'GET') return settle(await reads(context).load(request), context);
    const result = await dispatchSafely(context, request);
    // A change may make what this request has read stale; mutations run one after another, so
    // links of the next one read afresh.
    context.loaders?.clear();
    return settle(result, context);
  };
}

function linkResolver(link: Link): GraphQLFieldResolver<unknown, GraphQLContext> {
  const batch = batchReads[link.target.operationId as OperationId];
  const batchKey = batch && link.argsFromParent.length === 1 && link.targetField.args.filter((arg) => isNonNullType(arg.type)).length === 1
    ? link.argsFromParent[0]![0]
    : undefined;
  return async (parent, _args, context) => {
    const args: Record<string, unknown> = {};
    // The target's defaults first (listReviews' limit), as GraphQL would give them to the root field.
    for (const arg of link.targetField.args) if (arg.defaultValue !== undefined) args[arg.name] = arg.defaultValue;
    const missing: string[] = [];
    for (const [arg, property] of link.argsFromParent) {
      const value = (parent as Record<string, unknown> | null)?.[property];
      // A source the spec lets be null (a conversation without a booking): nothing is linked.
      if (value === null) return null;
      if (value === undefined) missing.push(arg);
      else args[arg] = value;
    }
    // A link whose source field is absent would call another path (`/users/` instead of `/users/{user_id}`).
    if (missing.length > 0) {
      return problemError(toProblem(new ApiError('validation_failed', `${link.target.operationId} needs ${missing.join(', ')}.`), context.requestId));
    }
    if (batch && batchKey) {
      return loader(context, `batch:${link.target.operationId}`, (ids: readonly string[]) => runBatch(context, link.target.operationId, ids)).load(args[batchKey] as string);
    }
    return settle(await reads(context).load(toDispatchRequest(link.target, args, context)), context);
  };
}

function loader<K, V>(context: GraphQLContext, name: string, batch: (keys: readonly K[]) => Promise<V[]>, cacheKeyFn?: (key: K) => string): DataLoader<K, V, unknown> {
  context.loaders ??= new Map();
  let found = context.loaders.get(name) as DataLoader<K, V, unknown> | undefined;
  if (!found) {
    found = new DataLoader<K, V, unknown>(batch, cacheKeyFn ? { cacheKeyFn } : {});
    context.loaders.set(name, found as DataLoader<unknown, unknown, unknown>);
  }
  return found;
}

/** GETs of this request, each distinct request dispatched once. */
function reads(context: GraphQLContext): DataLoader<DispatchRequest, DispatchResult, unknown> {
  return loader(
    context,
    'reads',
    (requests: readonly DispatchRequest[]) => Promise.all(requests.map((request) => dispatchSafely(context, request))),
    (request) => JSON.stringify([request.path, request.query, request.headers]),
  );
}

/** Answers for every id from the operation's batch read, each a value or the GraphQL error of its problem. */
async function runBatch(context: GraphQLContext, operationId: string, ids: readonly string[]): Promise<unknown[]> {
  const batch = batchReads[operationId as OperationId]!;
  try {
    context.caller ??= authenticate(context.authorization, context.rest.deps.sessions);
    const requestContext: RequestContext = { deps: context.rest.deps, auth: await context.caller, requestId: context.requestId };
    const answers = await batch(ids, requestContext);
    return answers.map((answer) => (answer instanceof ApiError ? problemError(toProblem(answer, context.requestId)) : answer));
  } catch (err) {
    const error = problemError(toProblem(asApiError(err, context), context.requestId));
    return ids.map(() => error);
  }
}

function asApiError(err: unknown, context: GraphQLContext): ApiError {
  const { error, unexpected } = toApiError(err);
  if (unexpected) context.rest.log({ level: 'error', request_id: context.requestId, message: 'unexpected error', error: String((err as Error)?.stack ?? err) });
  return error;
}

/** The REST request a field's arguments make: path, query and header parameters, and `input` as the body. */
export function toDispatchRequest(operation: HttpOperation, args: Record<string, unknown>, context: GraphQLContext): DispatchRequest {
  const path = operation.path.replace(/\{args\.(\w+)\}/g, (_, name: string) => encodeURIComponent(asParameter(args[name])));
  const query: Record<string, string | string[]> = {};
  for (const [param, arg] of operation.queryArgs) {
    const value = args[arg];
    if (value === undefined || value === null) continue;
    query[param] = Array.isArray(value)
      ? operation.commaParams.has(param) ? value.map(asParameter).join(',') : value.map(asParameter)
      : asParameter(value);
  }
  const headers: Record<string, string> = { 'x-request-id': context.requestId };
  if (context.authorization !== undefined) headers.authorization = context.authorization;
  for (const [header, arg] of operation.headerArgs) {
    const value = args[arg];
    if (value !== undefined && value !== null) headers[header] = asParameter(value);
  }
  // Input objects come from graphql-js without prototypes and with scalars parsed (Dates): send them as JSON would.
  const body = args.input === undefined || args.input === null ? undefined : JSON.parse(JSON.stringify(args.input));
  if (body !== undefined) headers['content-type'] = 'application/json';
  return { method: operation.method, path, query, headers, body };
}

function asParameter(value: unknown): string {
  return value instanceof Date ? value.toISOString() : String(value);
}

/** One REST call; anything it throws becomes the same problem REST answers with. */
async function dispatchSafely(context: GraphQLContext, request: DispatchRequest): Promise<DispatchResult> {
  try {
    return await context.rest.dispatch(request, context.requestId);
  } catch (err) {
    const error = asApiError(err, context);
    return { status: error.status, headers: error.headers, body: toProblem(error, context.requestId) };
  }
}

/** A REST answer as a field's value: the body of a 2xx, or a GraphQL error carrying the problem. */
function settle(result: DispatchResult, context: GraphQLContext): unknown {
  if (result.status >= 200 && result.status < 300) return result.body ?? null;
  // 304, the one bodiless non-2xx, if an If-None-Match ever reached REST (GraphQL takes none since shape.ts). Not a problem code.
  if (result.status === 304) {
    return new GraphQLError('The REST operation answered 304 without a body.', { extensions: { code: 'not_modified', status: 304 } });
  }
  // Every other REST refusal carries its problem (app.ts and dispatchSafely answer every error with toProblem).
  if (isProblem(result.body)) return problemError(result.body);
  return problemError(toProblem(new ApiError('internal_error', `The REST operation answered ${result.status} without a problem document.`), context.requestId));
}

/**
 * A problem as GraphQL reports it: its `detail` as the message, and its `code`,
 * `status`, field `errors` and `request_id` as extensions. graphql-js adds the
 * field's location and path to a returned error.
 */
export function problemError(problem: Problem): GraphQLError {
  return new GraphQLError(problem.detail, {
    extensions: {
      code: problem.code,
      status: problem.status,
      ...(problem.errors ? { errors: problem.errors } : {}),
      ...(problem.request_id ? { request_id: problem.request_id } : {}),
    },
  });
}

function isProblem(body: unknown): body is Problem {
  return typeof body === 'object' && body !== null && typeof (body as Problem).code === 'string' && typeof (body as Problem).status === 'number';
}
