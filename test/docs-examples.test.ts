/**
 * The examples in the spec are what /docs pre-fills: each is valid against its
 * own schema (request, response and error examples, checked with Ajv), and each
 * operation's request, sent as Swagger UI pre-fills it (parameter or schema
 * example, else the default; the first body example; a fresh Idempotency-Key
 * in place of the placeholder, as server/docs.ts does), signed in as the demo
 * user it is meant for, gets a documented status from a fresh embedded server
 * (PGlite with the demo data, as `npm start` makes it): 2xx unless listed in
 * `notRunnable` with the reason.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../server/config.js';
import { startServer } from '../server/server.js';
import { firstFrameOf } from './support/sse.js';

type Json = Record<string, any>;
let folder: string;
let server: Awaited<ReturnType<typeof startServer>>;
let spec: Json;

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'staybook-docs-examples-'));
  // The embedded default of `npm start`, without its rate limits: this file sends
  // every example in a burst, which a person clicking through /docs does not.
  server = await startServer({ ...loadConfig({}), port: 0, dataDir: folder, logRequests: false, rateLimits: false });
  spec = await fetch(`${server.url}/openapi.json`).then((r) => r.json());
}, 120_000);
afterAll(async () => {
  await server?.close();
  await rm(folder, { recursive: true, force: true });
});

/** Follows a local `$ref` (one level at a time, as often as needed). */
function deref<T = Json>(node: any): T {
  let current = node;
  while (current && typeof current.$ref === 'string') {
    current = current.$ref.slice(2).split('/').reduce((at: any, key: string) => at[key.replaceAll('~1', '/').replaceAll('~0', '~')], spec);
  }
  return current;
}

interface Operation { method: string; path: string; op: Json; parameters: Json[] }
function operations(): Operation[] {
  const out: Operation[] = [];
  for (const [route, item] of Object.entries<Json>(spec.paths)) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete']) {
      const op = item[method];
      if (!op) continue;
      const own = (op.parameters ?? []).map(deref);
      const shared = (item.parameters ?? []).map(deref).filter((p: Json) => !own.some((o: Json) => o.name === p.name && o.in === p.in));
      out.push({ method, path: route, op, parameters: [...shared, ...own] });
    }
  }
  return out;
}

/** Ajv over the spec's components, strict about unknown fields as the server is. */
function validatorFor(): (schema: Json, value: unknown) => string | null {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema({ components: spec.components }, 'spec');
  const rewrite = (node: any): any =>
    Array.isArray(node) ? node.map(rewrite)
      : node && typeof node === 'object'
        ? Object.fromEntries(Object.entries(node).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' ? `spec${v}` : rewrite(v)]))
        : node;
  return (schema, value) => {
    const validate = ajv.compile(rewrite(schema));
    return validate(value) ? null : ajv.errorsText(validate.errors);
  };
}

/** Every example of an operation, with where it sits and the schema it must match. */
function examplesOf({ op, parameters }: Operation): { where: string; schema: Json; value: unknown }[] {
  const found: { where: string; schema: Json; value: unknown }[] = [];
  const ofMedia = (where: string, media: Json) => {
    if (!media?.schema) return;
    if (media.example !== undefined) found.push({ where, schema: media.schema, value: media.example });
    for (const [name, example] of Object.entries<Json>(media.examples ?? {})) found.push({ where: `${where} ${name}`, schema: media.schema, value: deref(example).value });
  };
  for (const p of parameters) {
    if (p.example !== undefined) found.push({ where: `parameter ${p.name}`, schema: p.schema, value: p.example });
    if (deref(p.schema)?.example !== undefined) found.push({ where: `parameter ${p.name} schema`, schema: p.schema, value: deref(p.schema).example });
  }
  for (const [type, media] of Object.entries<Json>(deref(op.requestBody)?.content ?? {})) ofMedia(`request ${type}`, media);
  for (const [status, response] of Object.entries<Json>(op.responses)) {
    for (const [type, media] of Object.entries<Json>(deref(response).content ?? {})) ofMedia(`response ${status} ${type}`, media);
  }
  return found;
}

/** The value Swagger UI pre-fills for a parameter (parameter-row.jsx, OpenAPI 3): example, then schema example, then default. */
function prefilled(p: Json): unknown {
  const schema = deref(p.schema) ?? {};
  return p.example ?? schema.example ?? schema.default;
}

/** Which demo user each operation's example is for (null: no sign-in). */
function demoUserOf({ op }: Operation): string | null {
  if (Array.isArray(op.security) && op.security.length === 0) return null;
  if (['listUsers', 'deleteReview', 'deleteUser'].includes(op.operationId)) return 'admin@example.com';
  if (op.operationId === 'updateReview') return 'greta@example.com';
  if (['createProperty', 'updateProperty', 'deleteProperty', 'updatePropertyAvailability', 'replyToReview', 'deleteReviewReply'].includes(op.operationId)) return 'host@example.com';
  // The listing's host answers the demo guest's two requests (one accepted, the other declined).
  if (['acceptBooking', 'declineBooking'].includes(op.operationId)) return 'host@example.com';
  return 'guest@example.com';
}

/**
 * Examples that cannot succeed as pre-filled, with the documented answer they get.
 * The webhook is signed by the payment provider over its own body and time;
 * Swagger UI cannot sign it.
 */
const notRunnable: Record<string, { status: number; code: string; why: string }> = {
  handlePaymentWebhook: { status: 400, code: 'validation_failed', why: 'only the provider can sign a webhook' },
};

/**
 * The order a person would click through: reads first, then the writes, each
 * before anything that would change what it needs (pay after changing the
 * unpaid stay, cancel after paying, remove a reply after writing it, sign out
 * and delete last).
 */
const lastOnes = ['updateBooking', 'createPayment', 'cancelBooking', 'replyToReview', 'deleteReviewReply', 'updateReview', 'deleteReview', 'deleteProperty', 'logout', 'deleteUser'];
function inClickOrder(list: Operation[]): Operation[] {
  const rank = (o: Operation) => (lastOnes.includes(o.op.operationId) ? 100 + lastOnes.indexOf(o.op.operationId) : o.method === 'get' ? 0 : 50);
  return [...list].sort((a, b) => rank(a) - rank(b));
}

async function signIn(email: string): Promise<string> {
  const response = await fetch(`${server.url}/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'demo-password' }),
  });
  expect(response.status, `sign-in of ${email}`).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** The first frame of an event stream (up to its blank line), checked to be one, after which the stream is closed. */
async function firstFrame(response: Response): Promise<string> {
  expect(response.headers.get('cache-control')).toBe('no-store');
  const text = await firstFrameOf(response);
  expect(text).toMatch(/^retry: \d+\n(:[^\n]*\n)*\n$/);
  return text;
}

describe('the spec\'s examples', () => {
  it('are each valid against their own schema (requests, responses, errors)', () => {
    const validate = validatorFor();
    const failures: string[] = [];
    let count = 0;
    for (const operation of operations()) {
      for (const { where, schema, value } of examplesOf(operation)) {
        count += 1;
        const error = validate(schema, value);
        if (error) failures.push(`${operation.op.operationId} ${where}: ${error}`);
      }
    }
    expect(failures).toEqual([]);
    expect(count).toBeGreaterThan(100);
  });

  it('give every 4xx response of every operation an example problem whose code is one the spec defines, with that status', () => {
    const codes = deref(spec.components.schemas.Problem).properties.code['x-problem-codes'] as Record<string, { status: number }>;
    const failures: string[] = [];
    for (const { op } of operations()) {
      for (const [status, ref] of Object.entries<Json>(op.responses)) {
        if (!/^4\d\d$/.test(status)) continue;
        const media = deref(ref).content?.['application/problem+json'];
        const values = [media?.example, ...Object.values<Json>(media?.examples ?? {}).map((e) => deref(e).value)].filter(Boolean);
        if (values.length === 0) failures.push(`${op.operationId} ${status}: no example`);
        for (const value of values) {
          if (codes[value.code]?.status !== Number(status) || value.status !== Number(status)) failures.push(`${op.operationId} ${status}: example code ${value.code}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('pre-fill no cursor and no If-None-Match: optional values a page never had', () => {
    for (const { op, parameters } of operations()) {
      for (const p of parameters.filter((q) => q.name === 'cursor' || q.name === 'If-None-Match')) {
        expect(prefilled(p), `${op.operationId} ${p.name}`).toBeUndefined();
      }
    }
  });

  it('get a fresh Idempotency-Key on each try from the /docs page, in place of an empty field or the placeholder', async () => {
    const script = await fetch(`${server.url}/docs/init.js`).then((r) => r.text());
    let config: Json = {};
    const bundle = Object.assign((options: Json) => ((config = options), {}), { presets: { apis: {} } });
    new Function('window', 'SwaggerUIBundle', 'SwaggerUIStandalonePreset', 'crypto', script)({}, bundle, {}, globalThis.crypto);
    const tryIt = (headers: Record<string, string>, url = `${server.url}/bookings`, method = 'POST') =>
      config.requestInterceptor({ url, method, headers: { ...headers } }).headers['Idempotency-Key'];
    const first = tryIt({ 'Idempotency-Key': 'new-uuid-per-try' });
    const second = tryIt({ 'Idempotency-Key': 'new-uuid-per-try' });
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
    expect(second).not.toBe(first);
    expect(tryIt({}, `${server.url}/payments`)).toMatch(/^[0-9a-f-]{36}$/);
    // A key the person typed is theirs to reuse; reads get none.
    expect(tryIt({ 'Idempotency-Key': 'my-own-key' })).toBe('my-own-key');
    expect(tryIt({}, `${server.url}/bookings`, 'GET')).toBeUndefined();
  });

  it('sign the /docs page in when "Try it out" on login succeeds', async () => {
    const script = await fetch(`${server.url}/docs/init.js`).then((r) => r.text());
    let config: Json = {};
    const authorized: string[][] = [];
    const page: Json = { ui: { preauthorizeApiKey: (name: string, value: string) => authorized.push([name, value]) } };
    const bundle = Object.assign((options: Json) => ((config = options), page.ui), { presets: { apis: {} } });
    new Function('window', 'SwaggerUIBundle', 'SwaggerUIStandalonePreset', 'crypto', script)(page, bundle, {}, globalThis.crypto);
    config.responseInterceptor({ url: `${server.url}/auth/login`, status: 200, body: { access_token: 'tok' } });
    config.responseInterceptor({ url: `${server.url}/auth/login`, status: 401, body: { code: 'invalid_credentials' } });
    expect(authorized).toEqual([['bearerAuth', 'tok']]);
  });

  it('work as /docs pre-fills them against a fresh demo server, signed in as the demo user each is for', async () => {
    const tokens = new Map<string, string>();
    const results: string[] = [];
    for (const operation of inClickOrder(operations())) {
      const { method, op, parameters } = operation;
      const user = demoUserOf(operation);
      // logout gets a token of its own, so the others stay signed in.
      const token = user && (op.operationId === 'logout' ? await signIn(user) : tokens.get(user) ?? (tokens.set(user, await signIn(user)), tokens.get(user)!));
      let url = operation.path;
      const query = new URLSearchParams();
      const headers: Record<string, string> = {};
      for (const p of parameters) {
        let value = prefilled(p);
        if (p.name === 'Idempotency-Key' && (value === undefined || value === 'new-uuid-per-try')) value = randomUUID();
        if (value === undefined) continue;
        if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeURIComponent(String(value)));
        if (p.in === 'query') {
          if (Array.isArray(value)) query.append(p.name, p.explode === false ? value.join(',') : String(value[0]));
          else query.append(p.name, String(value));
          if (Array.isArray(value) && p.explode !== false) for (const more of value.slice(1)) query.append(p.name, String(more));
        }
        if (p.in === 'header') headers[p.name] = String(value);
      }
      const media = deref(op.requestBody)?.content?.['application/json'];
      const body = media && (media.example ?? deref(Object.values<Json>(media.examples ?? {})[0]).value);
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (token) headers.authorization = `Bearer ${token}`;
      const response = await fetch(`${server.url}${url}${query.size ? `?${query}` : ''}`, {
        method: method.toUpperCase(), headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
      // A stream (the live events) never ends: it is checked by its headers and its first frame, then closed.
      const text = response.headers.get('content-type')?.startsWith('text/event-stream') ? await firstFrame(response) : await response.text();
      const expected = notRunnable[op.operationId];
      const ok = expected
        ? response.status === expected.status && JSON.parse(text).code === expected.code
        : response.status >= 200 && response.status < 300;
      expect(Object.keys(op.responses), `${op.operationId} answered an undocumented ${response.status}`).toContain(String(response.status));
      if (!ok) results.push(`${op.operationId} (${user ?? 'anonymous'}): ${response.status} ${text.slice(0, 200)}`);
    }
    expect(results).toEqual([]);
  }, 120_000);
});
