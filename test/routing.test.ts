/**
 * The precompiled route table (server/routing.ts) against openapi-backend's own
 * matcher: the same operation for every operation of the spec, with and without a
 * trailing slash, under every method (405s and 404s included); then over HTTP, the
 * 405 with its Allow header, a 404 for an unknown path, and a trailing slash served.
 */
import { OpenAPIRouter, type Document, type Operation } from 'openapi-backend';
import { describe, expect, it } from 'vitest';
import { compileRoutes } from '../server/routing.js';
import { loadSpec } from '../server/server.js';
import { useTestApp } from './support/app.js';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** openapi-backend's answer: the operationId, '405' or '404'. */
function reference(router: OpenAPIRouter, method: string, path: string): string {
  try {
    return router.matchOperation({ method, path, headers: {} }, true).operationId as string;
  } catch (err) {
    return (err as Error).message.slice(0, 3);
  }
}

function ours(table: ReturnType<typeof compileRoutes>, method: string, path: string): string {
  const found = table.match(method, path);
  return found === '405' ? '405' : found ? (found.operationId as string) : '404';
}

/** One concrete path per template: every `{parameter}` becomes a plausible value. */
const concrete = (template: string) => template.replace(/\{[^}]+\}/g, '3fa85f64-5717-4562-b3fc-2c963f66afa6');

describe('the route table', () => {
  it('routes every operation of the spec, under every method and with a trailing slash, as openapi-backend does', async () => {
    const spec = (await loadSpec()) as Document;
    const router = new OpenAPIRouter({ definition: spec });
    const operations: Operation[] = router.getOperations();
    const table = compileRoutes(operations);
    const paths = operations.flatMap((operation) => {
      const path = concrete(operation.path);
      return [path, `${path}/`, `${path}?x=1`, ` ${path.slice(1)}`, `${path}/extra`, path.replace(/\/[^/]*$/, '/')];
    });
    paths.push('/', '/nothing-here', '//', '/properties//', '/PROPERTIES');
    let compared = 0;
    for (const path of paths) {
      for (const method of [...METHODS, 'GET', ' Patch ']) {
        expect(ours(table, method, path), `${method} ${path}`).toBe(reference(router, method, path));
        compared++;
      }
    }
    // Every operation is reached by its own method and path.
    for (const operation of operations) expect(ours(table, operation.method, concrete(operation.path))).toBe(operation.operationId);
    expect(compared).toBeGreaterThan(operations.length * 50);
  });

  it('prefers the path with more literal text, then spec order, as openapi-backend does', () => {
    const op = (path: string, method: string, operationId: string) => ({ path, method, operationId }) as Operation;
    const operations = [op('/a/{x}', 'get', 'byParam'), op('/a/me', 'post', 'postMe'), op('/{y}/me', 'get', 'anyMe'), op('/a/{z}/', 'put', 'put')];
    const table = compileRoutes(operations);
    const router = new OpenAPIRouter({ definition: { openapi: '3.0.3', info: { title: 't', version: '1' }, paths: {} } as Document });
    router.getOperations = () => operations;
    for (const [method, path] of [['get', '/a/me'], ['post', '/a/me'], ['get', '/b/me'], ['put', '/a/1'], ['delete', '/a/me'], ['get', '/a']]) {
      expect(ours(table, method!, path!), `${method} ${path}`).toBe(reference(router, method!, path!));
    }
    // A template with a trailing slash is never reached (request paths lose theirs), in both routers.
    expect(table.allowed('/a/me/')).toBe('GET, HEAD, POST');
  });
});

describe('routing over HTTP', () => {
  const { server } = useTestApp();

  it('answers a method the path does not serve with 405 method_not_allowed and Allow', async () => {
    const response = await fetch(`${server.url}/properties/3fa85f64-5717-4562-b3fc-2c963f66afa6/`, { method: 'PUT' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('DELETE, GET, HEAD, PATCH');
    expect(((await response.json()) as { code: string }).code).toBe('method_not_allowed');
  });

  it('answers an unknown path with 404 not_found', async () => {
    const response = await fetch(`${server.url}/no/such/path`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as { code: string }).code).toBe('not_found');
  });

  it('serves a path with a trailing slash as the path without it', async () => {
    const [plain, slashed] = await Promise.all([fetch(`${server.url}/properties?limit=1`), fetch(`${server.url}/properties/?limit=1`)]);
    expect([plain.status, slashed.status]).toEqual([200, 200]);
    expect(await slashed.json()).toEqual(await plain.json());
  });
});
