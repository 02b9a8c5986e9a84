/**
 * A route table compiled once from openapi-backend's operations, installed in its
 * router. openapi-backend's own `matchOperation` rebuilds the operation list with
 * lodash and compiles a RegExp per operation on every request (and `getOperation`
 * rebuilds the list to find one id); this table gives the same answers from a Map
 * of static paths and, for templated paths, a list per slash count whose patterns
 * were compiled at start. Everything else of openapi-backend (parsing, security
 * handlers, validation, the post-response step) runs unchanged.
 *
 * The matching semantics are openapi-backend 5's (router.js), kept exactly:
 * the method is case-insensitive, the query string is ignored, trailing slashes are
 * dropped; an operation whose path equals the request's path wins; else the
 * templated paths that match are ordered by the length of their static text
 * (longest first, ties in spec order) and the first with the method wins; a path
 * that matches but not with this method is a 405, one that matches nothing a 404.
 * test/routing.test.ts checks the table against openapi-backend's own matcher on
 * every operation of the spec.
 */
import type { OpenAPIBackend, Operation } from 'openapi-backend';

interface TemplatedPath {
  pattern: RegExp;
  /** Length of the path without its `{parameters}`: the more literal text, the more specific. */
  staticLength: number;
  byMethod: Map<string, Operation>;
}

export interface RouteTable {
  /** The operation for a method and path, `undefined` when none; `'405'` when the path exists without that method. */
  match(method: string, path: string): Operation | '405' | undefined;
  /** The methods (upper case, sorted, comma-separated) served at a path, for `Allow`. */
  allowed(path: string): string;
}

function escapeRegExp(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const slashes = (path: string) => {
  let count = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) count++;
  return count;
};

/** The router's normalisation: leading slash, no query string, no trailing slashes (openapi-backend's defaults, apiRoot `/`). */
function normalizePath(raw: string): string {
  let path = raw.trim();
  if (!path.startsWith('/')) path = `/${path}`;
  const query = path.indexOf('?');
  if (query !== -1) path = path.slice(0, query);
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47) end--;
  return end === path.length ? path : path.slice(0, end);
}

export function compileRoutes(operations: Operation[]): RouteTable {
  const exact = new Map<string, Map<string, Operation>>();
  const templated = new Map<string, TemplatedPath>();
  for (const operation of operations) {
    const method = operation.method.toLowerCase();
    // The first operation of a method and path wins, as Array.find does in openapi-backend.
    const atPath = exact.get(operation.path) ?? new Map<string, Operation>();
    exact.set(operation.path, atPath);
    if (!atPath.has(method)) atPath.set(method, operation);
    let entry = templated.get(operation.path);
    if (!entry) {
      const source = operation.path.replace(/\{[^}]+\}/g, '\0').split('\0').map(escapeRegExp).join('[^/]+');
      entry = { pattern: new RegExp(`^${source}$`), staticLength: operation.path.replace(/\{.*?\}/g, '').length, byMethod: new Map() };
      templated.set(operation.path, entry);
    }
    if (!entry.byMethod.has(method)) entry.byMethod.set(method, operation);
  }
  // `[^/]+` never matches a slash, so a path can only match templates with as many slashes as it has.
  const bySlashes = new Map<number, TemplatedPath[]>();
  // Stable sort: ties keep spec order, as lodash's orderBy does.
  for (const [path, entry] of [...templated].sort(([, a], [, b]) => b.staticLength - a.staticLength)) {
    const list = bySlashes.get(slashes(path)) ?? [];
    list.push(entry);
    bySlashes.set(slashes(path), list);
  }

  const candidates = (path: string) => (bySlashes.get(slashes(path)) ?? []).filter((entry) => entry.pattern.test(path));

  return {
    match(rawMethod, rawPath) {
      const method = rawMethod.trim().toLowerCase();
      const path = normalizePath(rawPath);
      const exactHit = exact.get(path)?.get(method);
      if (exactHit) return exactHit;
      const list = bySlashes.get(slashes(path));
      if (!list) return undefined;
      let matched = false;
      for (const entry of list) {
        if (!entry.pattern.test(path)) continue;
        matched = true;
        const operation = entry.byMethod.get(method);
        if (operation) return operation;
      }
      return matched ? '405' : undefined;
    },
    allowed(rawPath) {
      const methods = new Set<string>();
      for (const entry of candidates(normalizePath(rawPath))) for (const method of entry.byMethod.keys()) methods.add(method.toUpperCase());
      // server/app.ts serves HEAD wherever GET is.
      if (methods.has('GET')) methods.add('HEAD');
      return [...methods].sort().join(', ');
    },
  };
}

/**
 * Installs the table in an initialised backend's router: `matchOperation` answers from
 * it, `getOperations` and `getOperation` from the list built once. openapi-backend's
 * validators are compiled (lazily, once per operation: api.ts) from that same list.
 */
export function installRouteTable(api: OpenAPIBackend): RouteTable {
  const router = api.router;
  const operations = router.getOperations();
  const byId = new Map(operations.map((operation) => [operation.operationId, operation]));
  const table = compileRoutes(operations);
  router.getOperations = () => operations;
  router.getOperation = (operationId: string) => byId.get(operationId);
  router.matchOperation = ((request: { method: string; path: string }, strict?: boolean) => {
    const found = table.match(request.method, request.path);
    if (found === '405') {
      if (strict) throw new Error('405-methodNotAllowed: this method is not registered for the route');
      return undefined;
    }
    if (!found && strict) throw new Error('404-notFound: no route matches request');
    return found;
  }) as typeof router.matchOperation;
  return table;
}
