/**
 * The contract as a whole: the spec served and documented, every operation of
 * API.md present, and one error path that turns every failure into problem details.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import * as api from '../generated/client/sdk.gen.js';
import { handlers } from '../handlers/index.js';
import { createApp } from '../server/app.js';
import { loadSpec } from '../server/server.js';
import type { Handlers } from '../server/operations.js';
import { createUser } from './support/factories.js';
import type { TestServer } from './support/server.js';
import { useTestApp } from './support/app.js';

/** Every operationId of the product contract (API.md), which generated clients rely on. */
const contractOperationIds = [
  'registerUser', 'listUsers', 'getUser', 'updateUser', 'deleteUser', 'getCurrentUser', 'login', 'logout',
  'listProperties', 'createProperty', 'getProperty', 'updateProperty', 'deleteProperty', 'getPropertyAvailability',
  'listBookings', 'createBooking', 'getBooking', 'updateBooking', 'cancelBooking',
  'createPayment', 'listPayments', 'getPayment', 'handlePaymentWebhook',
  'listReviews', 'createReview', 'getReview', 'updateReview', 'deleteReview',
];

/** Operations the project added to the contract, each named in the closing note of its issue. */
const addedOperationIds = [
  'updatePropertyAvailability', 'replyToReview', 'deleteReviewReply',
  // Issue 16: request-to-book.
  'acceptBooking', 'declineBooking',
  // Issue 16: conversations.
  'listConversations', 'startConversation', 'getConversation', 'listMessages', 'sendMessage', 'markConversationRead',
  'blockConversation', 'unblockConversation',
];

const { env, server } = useTestApp();

function operationIdsOf(spec: { paths: Record<string, Record<string, { operationId?: string }>> }): string[] {
  return Object.values(spec.paths).flatMap((item) => Object.values(item).map((op) => op.operationId)).filter((id): id is string => !!id);
}

async function problem(response: Response) {
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return (await response.json()) as { type: string; title: string; status: number; detail: string; code: string; errors?: { path: string; message: string }[] };
}

describe('the served contract', () => {
  it('serves the spec as JSON, listing every operationId of the contract', async () => {
    const response = await fetch(`${server.url}/openapi.json`);
    expect(response.status).toBe(200);
    const spec = await response.json();
    expect(spec.openapi).toBe('3.0.3');
    expect(operationIdsOf(spec).sort()).toEqual([...contractOperationIds, ...addedOperationIds].sort());
  });

  it('serves the same spec as YAML', async () => {
    const [json, yaml] = await Promise.all([
      fetch(`${server.url}/openapi.json`).then((r) => r.json()),
      fetch(`${server.url}/openapi.yaml`).then((r) => r.text()),
    ]);
    expect(parse(yaml)).toEqual(json);
  });

  it('serves the API reference at /docs with every asset it loads, from the package (no CDN)', async () => {
    const response = await fetch(`${server.url}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    expect(assets.length).toBeGreaterThanOrEqual(4);
    for (const asset of assets) {
      expect(asset.startsWith('/docs/'), `${asset} is served by us`).toBe(true);
      const file = await fetch(`${server.url}${asset}`);
      expect(file.status, asset).toBe(200);
      expect((await file.arrayBuffer()).byteLength, asset).toBeGreaterThan(100);
    }
    const init = await fetch(`${server.url}/docs/init.js`).then((r) => r.text());
    expect(init).toContain("url: '/openapi.json'");
  });

  it('answers /healthz and /readyz with the database and Redis reachable', async () => {
    expect(await fetch(`${server.url}/healthz`).then((r) => r.json())).toEqual({ status: 'ok' });
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ok',
      checks: { database: 'ok', redis: 'ok' },
      sessions: 'database+redis',
      payments: { provider: 'local' },
      // Other tests of this file may have jobs in flight; none may have failed for good.
      jobs: { runner: 'bee-queue', waiting: expect.any(Number), failed: 0 },
    });
  });
});

describe('request ids', () => {
  it('echoes a sent X-Request-Id on success and in problems', async () => {
    const ok = await fetch(`${server.url}/properties`, { headers: { 'X-Request-Id': 'client-req-42' } });
    expect(ok.headers.get('x-request-id')).toBe('client-req-42');
    const missing = await fetch(`${server.url}/nowhere`, { headers: { 'X-Request-Id': 'client-req-43' } });
    expect(missing.headers.get('x-request-id')).toBe('client-req-43');
    expect(await missing.json()).toMatchObject({ request_id: 'client-req-43' });
  });

  it('makes a new one when none or an unsafe one is sent', async () => {
    const none = await fetch(`${server.url}/healthz`);
    expect(none.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const unsafe = await fetch(`${server.url}/healthz`, { headers: { 'X-Request-Id': 'x'.repeat(300) } });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('the one error path', () => {
  it('answers an unknown route with 404 not_found problem details', async () => {
    const response = await fetch(`${server.url}/no/such/thing`);
    expect(response.status).toBe(404);
    expect(await problem(response)).toMatchObject({ status: 404, code: 'not_found', type: '/problems/not_found' });
  });

  it('answers a wrong method with 405 and an Allow header', async () => {
    const response = await fetch(`${server.url}/auth/login`, { method: 'GET' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect(await problem(response)).toMatchObject({ code: 'method_not_allowed' });
  });

  it('refuses malformed JSON with 400 malformed_json and creates nothing', async () => {
    const response = await fetch(`${server.url}/users`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"email": "broken@example.test", "password": ',
    });
    expect(response.status).toBe(400);
    expect(await problem(response)).toMatchObject({ code: 'malformed_json' });
    expect(await server.deps.db.selectFrom('users').where('email', '=', 'broken@example.test').selectAll().execute()).toEqual([]);
  });

  it('refuses a body that is not JSON with 415 unsupported_media_type', async () => {
    const response = await fetch(`${server.url}/users`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'email=form%40example.test&password=longenough&name=Form',
    });
    expect(response.status).toBe(415);
    expect(await problem(response)).toMatchObject({ code: 'unsupported_media_type' });
    expect(await server.deps.db.selectFrom('users').where('email', '=', 'form@example.test').selectAll().execute()).toEqual([]);
  });

  it('refuses an oversized body with 413 payload_too_large', async () => {
    const response = await fetch(`${server.url}/users`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'big@example.test', password: 'longenough', name: 'Big', bio: 'x'.repeat(200_000) }),
    });
    expect(response.status).toBe(413);
    expect(await problem(response)).toMatchObject({ code: 'payload_too_large' });
  });

  it('lists every invalid field of a request at once', async () => {
    const { response, error } = await api.registerUser({
      client: server.client,
      body: { email: 'not-an-email', password: 'short', name: '', role: 'admin', is_admin: true } as never,
    });
    expect(response.status).toBe(400);
    expect(error).toMatchObject({ code: 'validation_failed' });
    const paths = (error as { errors: { path: string }[] }).errors.map((e) => e.path).sort();
    expect(paths).toEqual(expect.arrayContaining(['body.email', 'body.password', 'body.name', 'body.role', 'body.is_admin']));
  });

  it('answers an unexpected failure with 500 internal_error, without stack, SQL or secrets', async () => {
    const broken = await env.start();
    const { token } = await createUser(broken.client);
    await broken.deps.db.destroy(); // the database goes away under a running server
    const response = await fetch(`${broken.url}/users/me`, { headers: { Authorization: `Bearer ${token}` } });
    expect(response.status).toBe(500);
    const body = await problem(response);
    expect(body).toMatchObject({ status: 500, code: 'internal_error' });
    const text = JSON.stringify(body);
    for (const leak of ['select', 'Error:', ' at ', 'postgres://', 'destroyed', 'node_modules']) expect(text).not.toContain(leak);
  });
});

/** The app on an ephemeral port with some handlers replaced, to check the wiring itself. */
async function appWith(replaced: Partial<Handlers>) {
  const { koa } = await createApp({ spec: await loadSpec(), handlers: { ...handlers, ...replaced } as Handlers, deps: server.deps, log: () => {} });
  const http = createServer(koa.callback()).listen(0, '127.0.0.1');
  await new Promise((resolve) => http.once('listening', resolve));
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, close: () => new Promise((r) => http.close(r)) };
}

describe('handlers held to the contract', () => {
  it('fails a response that drifts from the spec (development and test)', async () => {
    const drifting = await appWith({
      getProperty: (async () => ({ status: 200, body: { id: 'not-a-uuid', name: 'Half a property' } })) as never,
    });
    try {
      const response = await fetch(`${drifting.url}/properties/00000000-0000-4000-8000-000000000000`);
      expect(response.status).toBe(500);
      expect(await problem(response)).toMatchObject({ code: 'internal_error' });
    } finally {
      await drifting.close();
    }
  });

  it('refuses to start when a spec operation has no handler', async () => {
    const { getProperty: _dropped, ...incomplete } = handlers;
    await expect(
      createApp({ spec: await loadSpec(), handlers: incomplete as Handlers, deps: server.deps, log: () => {} }),
    ).rejects.toThrow(/No handler for spec operation\(s\): getProperty/);
  });
});

describe('CORS for browser front-ends', () => {
  let cors: TestServer;
  beforeAll(async () => {
    cors = await env.start({ corsOrigins: ['https://app.example.test'] });
  });

  it('answers a preflight from an allowed origin and exposes the headers clients read', async () => {
    const preflight = await fetch(`${cors.url}/bookings`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example.test', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, idempotency-key' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example.test');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('Idempotency-Key');
    const read = await fetch(`${cors.url}/properties`, { headers: { Origin: 'https://app.example.test' } });
    expect(read.headers.get('access-control-allow-origin')).toBe('https://app.example.test');
    expect(read.headers.get('access-control-expose-headers')).toContain('ETag');
  });

  it('sends no CORS headers to an origin that is not allowed, nor by default', async () => {
    const other = await fetch(`${cors.url}/properties`, { headers: { Origin: 'https://evil.example.test' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const byDefault = await fetch(`${server.url}/properties`, { headers: { Origin: 'https://app.example.test' } });
    expect(byDefault.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${server.url}/bookings`, { method: 'OPTIONS', headers: { Origin: 'https://app.example.test', 'Access-Control-Request-Method': 'POST' } });
    expect(preflight.status).toBe(405);
  });
});
