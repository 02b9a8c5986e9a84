/**
 * The REST API as openapi-backend runs it: routing, request validation and auth
 * come from spec/openapi.yaml; each operation dispatches to its handler by
 * operationId; one post-response step adds ETags and, in development and test,
 * checks every response against the spec. Errors are thrown as ApiError and turned
 * into problem details by the Koa error middleware (app.ts), the one place that does.
 */
import { Readable } from 'node:stream';
import { OpenAPIBackend, OpenAPIValidator, type Context, type Document, type Operation } from 'openapi-backend';
import addFormats from 'ajv-formats';
import type { ErrorObject } from 'ajv';
import { authenticate, type AuthUser } from './auth.js';
import { etagOf } from './cache.js';
import { isApiDate } from './dates.js';
import { ApiError, invalidFields, type FieldError } from './errors.js';
import { installRouteTable } from './routing.js';
import type { Deps, Handlers, OperationInput } from './operations.js';

export interface DispatchRequest {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string | string[]>;
  body: unknown;
  /** The body exactly as received, for signatures computed over its bytes (the payment webhook). */
  rawBody?: string | undefined;
}

export interface DispatchResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Per-request state handed through openapi-backend to our handlers. */
interface RequestState {
  /** The dependencies of the server this request came to (one backend serves every server of a process). */
  deps: Deps;
  requestId: string;
  auth: AuthUser | null;
  rawBody: string | undefined;
  onRouted: ((route: Route) => void) | undefined;
}

/** The operation a request was routed to: its operationId and the spec's path template (`/properties/{id}`). */
export interface Route {
  operationId: string;
  path: string;
}

export interface Api {
  /** Runs one request; `onRouted` learns its operation as soon as routing has matched one (for logs, metrics and traces). */
  dispatch(request: DispatchRequest, requestId: string, onRouted?: (route: Route) => void): Promise<DispatchResult>;
  operationIds: string[];
  /** Compiles the request validators not compiled yet, one operation per turn of the event loop (after listen). */
  warmValidators(): Promise<void>;
}

/**
 * The OpenAPIBackend of a spec, built once per process: compiling every operation's
 * validators is almost the whole cost of starting a server (seconds), and nothing in
 * it depends on a server's dependencies, which travel with each request instead. A
 * test process that starts several servers on one spec pays for it once.
 */
const backends = new WeakMap<Handlers, Map<string, Promise<OpenAPIBackend>>>();

function backendFor(definition: Document, handlers: Handlers): Promise<OpenAPIBackend> {
  const bySpec = backends.get(handlers) ?? new Map<string, Promise<OpenAPIBackend>>();
  backends.set(handlers, bySpec);
  const key = JSON.stringify(definition);
  let backend = bySpec.get(key);
  if (!backend) {
    backend = buildBackend(definition, handlers);
    // A spec that failed to build is not remembered: the next start reports it again.
    backend.catch(() => bySpec.delete(key));
    bySpec.set(key, backend);
  }
  return backend;
}

export async function createApi(definition: Document, handlers: Handlers, deps: Deps): Promise<Api> {
  const api = await backendFor(definition, handlers);
  return {
    operationIds: api.getOperations().map((operation) => operation.operationId as string),
    warmValidators: () => warmValidators(api),
    dispatch: ({ rawBody, ...request }, requestId, onRouted) =>
      api.handleRequest(request, { deps, requestId, auth: null, rawBody, onRouted } satisfies RequestState),
  };
}

async function buildBackend(definition: Document, handlers: Handlers): Promise<OpenAPIBackend> {
  // `validate: false` here only keeps init() from compiling every request, response and
  // response-header validator up front (most of a cold start, and response validators are
  // never used in production); the validator installed below validates every request.
  const api = new OpenAPIBackend({ definition, strict: true, validate: false });
  await api.init();
  // Route from a table compiled once, not from a list and RegExps rebuilt per request (routing.ts).
  const routes = installRouteTable(api);
  // openapi-backend's own validator in its lazy mode: each operation's validators are compiled
  // once, on first use, and kept (warmValidators compiles the request ones after listen).
  api.validator = new OpenAPIValidator({
    definition: api.definition,
    router: api.router,
    lazyCompileValidators: true,
    coerceTypes: true,
    ajvOpts: { allErrors: true, useDefaults: true, strict: false },
    customizeAjv: (ajv) => {
      addFormats.default(ajv, { mode: 'full', formats: ['date', 'date-time', 'email', 'uri', 'uuid', 'uri-reference'] });
      // A date is also within the years the API takes (server/dates.ts), for every date field at once.
      ajv.addFormat('date', { type: 'string', validate: isApiDate });
      return ajv;
    },
  });
  api.validate = true;

  const operationIds = api.getOperations().map((operation) => operation.operationId as string);
  const missing = operationIds.filter((id) => !(id in handlers));
  if (missing.length > 0) {
    // Refuse to start: an operation without a handler would be a hole in the contract.
    throw new Error(`No handler for spec operation(s): ${missing.join(', ')}`);
  }
  const unknown = Object.keys(handlers).filter((id) => !operationIds.includes(id));
  if (unknown.length > 0) throw new Error(`Handlers for operations the spec does not have: ${unknown.join(', ')}`);

  for (const operationId of operationIds) {
    const handler = handlers[operationId as keyof Handlers] as (input: OperationInput<unknown>, ctx: unknown) => Promise<DispatchResult>;
    api.register(operationId, (c: Context, state: RequestState) =>
      handler(
        {
          body: c.request.requestBody,
          path: c.request.params,
          query: c.request.query,
          headers: c.request.headers,
        } as OperationInput<unknown>,
        { deps: state.deps, auth: state.auth, requestId: state.requestId, rawBody: state.rawBody },
      ),
    );
  }

  api.registerSecurityHandler('bearerAuth', async (c: Context, state: RequestState) => {
    const header = c.request.headers.authorization;
    state.auth = await authenticate(Array.isArray(header) ? header[0] : header, state.deps.sessions);
    return state.auth;
  });

  api.register({
    postRoutingHandler: (c: Context, state: RequestState) => {
      if (c.operation?.operationId) state.onRouted?.({ operationId: c.operation.operationId, path: c.operation.path });
    },
    // A token that was sent but is not valid is refused even where signing in is optional.
    postSecurityHandler: (c: Context) => {
      const result = c.security?.bearerAuth as { error?: unknown } | undefined;
      if (result?.error) throw result.error;
    },
    unauthorizedHandler: () => {
      throw new ApiError('unauthenticated', 'Sign in and send "Authorization: Bearer <token>".', undefined, {
        'WWW-Authenticate': 'Bearer',
      });
    },
    validationFail: (c: Context) => {
      throw invalidFields(toFieldErrors(c.validation.errors ?? []));
    },
    notFound: (c: Context) => {
      throw new ApiError('not_found', `There is no ${c.request.method.toUpperCase()} ${c.request.path}.`);
    },
    methodNotAllowed: (c: Context) => {
      const allowed = routes.allowed(c.request.path);
      throw new ApiError('method_not_allowed', `${c.request.method.toUpperCase()} is not allowed here; use ${allowed}.`, undefined, {
        Allow: allowed,
      });
    },
    postResponseHandler: (c: Context, state: RequestState) => {
      const reply = c.response as DispatchResult;
      if (state.deps.config.validateResponses) assertMatchesSpec(c, reply);
      return withEtag(c, reply);
    },
  });
  return api;
}

/**
 * A server answers as soon as it listens: an operation's validators compile on its first
 * request. This compiles the rest meanwhile, yielding between operations so that requests
 * arriving now are not held up for the whole set.
 */
async function warmValidators(api: OpenAPIBackend): Promise<void> {
  for (const operation of api.getOperations()) {
    await new Promise((resolve) => setImmediate(resolve));
    api.validator.getRequestValidatorsForOperation(operation.operationId as string);
  }
}

/** Fails loudly when a handler answers outside its contract (development and test only). */
function assertMatchesSpec(c: Context, reply: DispatchResult): void {
  const operation = c.operation as Operation;
  // A stream (the live events) is sent as it is written: there is no whole body to check.
  if (reply.body === undefined || reply.body instanceof Readable) return;
  const result = c.api.validateResponse(reply.body, operation, reply.status);
  if (result.errors) {
    const details = toFieldErrors(result.errors).map((e) => `${e.path}: ${e.message}`).join('; ');
    throw new Error(`Response of ${operation.operationId} (${reply.status}) does not match the spec: ${details}`);
  }
}

/** Single-resource GETs whose 200 response declares an ETag get one, and If-None-Match gets 304. */
function withEtag(c: Context, reply: DispatchResult): DispatchResult {
  const operation = c.operation as Operation | undefined;
  const declared = (operation?.responses?.['200'] as { headers?: Record<string, unknown> } | undefined)?.headers;
  if (reply.status !== 200 || !declared || !('ETag' in declared)) return reply;
  // A cached answer brings the ETag it was stored with: a hit never hashes its body again.
  const etag = reply.headers?.ETag ?? etagOf(reply.body);
  const ifNoneMatch = c.request.headers['if-none-match'];
  const candidates = String(Array.isArray(ifNoneMatch) ? ifNoneMatch.join(',') : (ifNoneMatch ?? ''))
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''));
  if (candidates.includes(etag) || candidates.includes('*')) {
    return { status: 304, headers: { ...reply.headers, ETag: etag } };
  }
  return { ...reply, headers: { ...reply.headers, ETag: etag } };
}

const locations: Record<string, string> = { requestBody: 'body', query: 'query', path: 'path', header: 'header' };

/** Ajv's errors as `{ path, message }` with the dotted path a client can show beside a field. */
export function toFieldErrors(errors: ErrorObject[]): FieldError[] {
  const seen = new Set<string>();
  const result: FieldError[] = [];
  for (const error of errors) {
    const segments = error.instancePath.split('/').filter(Boolean);
    const params = error.params as Record<string, unknown>;
    if (error.keyword === 'required') segments.push(String(params.missingProperty));
    if (error.keyword === 'additionalProperties') segments.push(String(params.additionalProperty));
    if (segments[0] && segments[0] in locations) segments[0] = locations[segments[0]] as string;
    const path = segments.join('.') || 'body';
    const message =
      error.keyword === 'required'
        ? 'is required'
        : error.keyword === 'additionalProperties'
          ? 'is not a known field'
          : error.keyword === 'enum'
            ? `must be one of: ${(params.allowedValues as unknown[]).join(', ')}`
            : (error.message ?? 'is invalid');
    const key = `${path}\u0000${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      result.push({ path, message });
    }
  }
  return result;
}

