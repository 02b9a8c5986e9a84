/**
 * Request and operation budgets (server/limits.ts): every request counts against its
 * address's budget (and its token's), counted in Redis so that every server process
 * shares one budget; registering, booking and paying have stricter budgets of their
 * own; a refusal is `429 rate_limited` with Retry-After and the RateLimit headers
 * (draft-ietf-httpapi-ratelimit-headers-11), which normal answers carry too. Each test
 * speaks from its own address (X-Forwarded-For behind TRUST_PROXY=1), so budgets of
 * one test never reach another's.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import type { Config } from '../server/config.js';
import { expectProblem } from './support/problems.js';
import type { TestServer } from './support/server.js';
import { useTestApp } from './support/app.js';
import { createPaymentAs } from './support/payments.js';
import { createBooking, createHost, createProperty, createUser, fromToday, uniqueEmail } from './support/factories.js';

const { env, server: unlimited } = useTestApp();

const limited = (overrides: Partial<Config> = {}) => env.start({ rateLimits: true, trustProxy: 1, ...overrides });

async function get(on: TestServer, path: string, address: string, token?: string): Promise<Response> {
  const response = await fetch(new URL(path, on.url), {
    headers: { 'X-Forwarded-For': address, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
  });
  await response.arrayBuffer();
  return response;
}

const remaining = (response: Response, policy = 'requests') =>
  Number(new RegExp(`"${policy}";r=(\\d+)`).exec(response.headers.get('ratelimit') ?? '')?.[1]);

describe('the request budget', () => {
  it('answers 300 rapid GETs from one address with RATE_LIMIT_REQUESTS 200s, then 429 rate_limited with Retry-After and RateLimit headers', async () => {
    const server = await limited({ rateLimitRequests: 120 });
    const address = '203.0.113.1';

    const answers = await Promise.all(Array.from({ length: 300 }, () => fetch(new URL('/properties?limit=1', server.url), {
      headers: { 'X-Forwarded-For': address },
    })));

    const ok = answers.filter((answer) => answer.status === 200);
    const refused = answers.filter((answer) => answer.status === 429);
    expect(ok).toHaveLength(120);
    expect(refused).toHaveLength(180);
    // Every normal answer says what is left: each of 119..0 exactly once.
    expect(ok.map((answer) => remaining(answer)).sort((a, b) => a - b)).toEqual(Array.from({ length: 120 }, (_, i) => i));
    expect(ok[0]?.headers.get('ratelimit-policy')).toBe('"requests";q=120;w=60');
    const last = refused[0]!;
    expect(last.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await last.json()).toMatchObject({ status: 429, code: 'rate_limited', type: '/problems/rate_limited' });
    const retryAfter = Number(last.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(last.headers.get('ratelimit-policy')).toBe('"requests";q=120;w=60');
    expect(last.headers.get('ratelimit')).toBe(`"requests";r=0;t=${retryAfter}`);
    await Promise.all(answers.map((answer) => answer.bodyUsed ? undefined : answer.arrayBuffer()));

    // Health probes and other addresses are not affected.
    expect((await get(server, '/healthz', address)).status).toBe(200);
    expect((await get(server, '/readyz', address)).status).toBe(200);
    expect((await get(server, '/properties?limit=1', '203.0.113.2')).status).toBe(200);
  });

  it('is one budget across server processes sharing Redis', async () => {
    const first = await limited({ rateLimitRequests: 10 });
    const second = await limited({ rateLimitRequests: 10 });
    const address = '203.0.113.3';

    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await get(first, '/properties?limit=1', address)).status, (await get(second, '/properties?limit=1', address)).status);
    }

    expect(statuses.filter((status) => status === 200)).toHaveLength(10);
    expect(statuses.slice(10)).toEqual([429, 429]);
  });

  it('also counts per token, so one account cannot spread its requests over many addresses', async () => {
    const server = await limited({ rateLimitRequests: 5 });
    const user = await createUser(unlimited.client);

    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await get(server, '/users/me', `198.51.100.${50 + i}`, user.token)));

    expect(statuses.slice(0, 5).map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses[5]?.status).toBe(429);
    expect(statuses[5]?.headers.get('ratelimit-policy')).toBe('"token-requests";q=5;w=60');
  });

  it('counts a GraphQL request once, however many REST calls its fields make', async () => {
    const server = await limited({ rateLimitRequests: 100 });
    const address = '203.0.113.4';
    const before = remaining(await get(server, '/openapi.json', address));

    const aliases = Array.from({ length: 5 }, (_, i) => `p${i}: listProperties(limit: 1) { data { id } }`).join('\n');
    const graphql = await fetch(new URL('/graphql', server.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': address },
      body: JSON.stringify({ query: `{ ${aliases} }` }),
    });
    const reply = (await graphql.json()) as { errors?: unknown };

    expect(graphql.status).toBe(200);
    expect(reply.errors).toBeUndefined();
    expect(remaining(graphql)).toBe(before - 1);
    expect(remaining(await get(server, '/openapi.json', address))).toBe(before - 2);
  });

  it('gives payment webhooks a budget of their own', async () => {
    const server = await limited({ rateLimitRequests: 1 });
    const address = '203.0.113.5';
    await get(server, '/openapi.json', address);
    expect((await get(server, '/openapi.json', address)).status).toBe(429);

    const webhook = await fetch(new URL('/payments/webhook', server.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': address },
      body: '{}',
    });
    await webhook.arrayBuffer();

    expect(webhook.status).not.toBe(429);
    expect(webhook.headers.get('ratelimit-policy')).toMatch(/^"webhooks";q=600;w=60$/);
  });

  it('is off when RATE_LIMITS is off (the test default): no headers, no 429', async () => {
    const answers = await Promise.all(Array.from({ length: 30 }, () => get(unlimited, '/openapi.json', '203.0.113.6')));
    expect(answers.every((answer) => answer.status === 200 && !answer.headers.has('ratelimit'))).toBe(true);
  });
});

describe('registerUser', () => {
  it('refuses more than RATE_LIMIT_REGISTRATIONS per address with 429, so 409 email_taken cannot test many emails, and creates nothing', async () => {
    const server = await limited({ rateLimitRegistrations: 3 });
    const address = '203.0.113.7';
    const register = (email: string) => api.registerUser({
      client: server.client,
      headers: { 'X-Forwarded-For': address },
      body: { email, name: 'Probe', password: 'a long password 1' },
    });
    const known = await createUser(unlimited.client);
    expect((await register(uniqueEmail('first'))).response.status).toBe(201);
    expectProblem(await register(known.email), 409, 'email_taken');
    expect((await register(uniqueEmail('third'))).response.status).toBe(201);

    const probe = await register(known.email);
    const fresh = uniqueEmail('fourth');
    const another = await register(fresh);

    expectProblem(probe, 429, 'rate_limited');
    expectProblem(another, 429, 'rate_limited');
    expect(another.response.headers.get('ratelimit-policy')).toBe('"registration";q=3;w=3600');
    expect(await server.deps.db.selectFrom('users').where('email', '=', fresh).selectAll().executeTakeFirst()).toBeUndefined();
    // Another address still registers.
    const elsewhere = await api.registerUser({
      client: server.client,
      headers: { 'X-Forwarded-For': '198.51.100.70' },
      body: { email: uniqueEmail('elsewhere'), name: 'Someone', password: 'a long password 1' },
    });
    expect(elsewhere.response.status).toBe(201);
  });
});

describe('createBooking and createPayment', () => {
  it('refuses an account more than RATE_LIMIT_BOOKINGS booking writes an hour, from any address, and books nothing', async () => {
    const server = await limited({ rateLimitBookings: 2 });
    const property = await createProperty(unlimited.client);
    const guest = await createUser(unlimited.client);
    const book = (days: number, address: string) => api.createBooking({
      client: server.client,
      auth: guest.token,
      headers: { 'X-Forwarded-For': address },
      body: { property_id: property.id, check_in: fromToday(days), check_out: fromToday(days + 1), guests: 1 },
    });
    expect((await book(40, '198.51.100.80')).response.status).toBe(201);
    expect((await book(42, '198.51.100.81')).response.status).toBe(201);

    const third = await book(44, '198.51.100.82');

    expectProblem(third, 429, 'rate_limited');
    expect(third.response.headers.get('ratelimit-policy')).toBe('"booking";q=2;w=3600');
    const rows = await server.deps.db.selectFrom('bookings').where('guest_id', '=', guest.id).selectAll().execute();
    expect(rows).toHaveLength(2);
    // Another guest still books.
    await createBooking(server.client, { guest: await createUser(unlimited.client), property, stay: { check_in: fromToday(50), check_out: fromToday(51) } });
  });

  it('refuses an account more than RATE_LIMIT_PAYMENTS payment attempts an hour', async () => {
    const server = await limited({ rateLimitPayments: 1 });
    const first = await createBooking(unlimited.client, { stay: { check_in: fromToday(60), check_out: fromToday(61) } });
    const second = await createBooking(unlimited.client, { guest: first.guest, stay: { check_in: fromToday(62), check_out: fromToday(63) } });
    const pay = (bookingId: string) => createPaymentAs(server.client, first.guest, bookingId, 'pm_card_visa');
    expect((await pay(first.id)).response.status).toBeLessThan(300);

    const refused = await pay(second.id);

    expectProblem(refused, 429, 'rate_limited');
    expect(refused.response.headers.get('ratelimit-policy')).toBe('"payment";q=1;w=3600');
    const payments = await server.deps.db.selectFrom('payments').where('booking_id', '=', second.id).selectAll().execute();
    expect(payments).toHaveLength(0);
  });
});

describe('messages and a host\'s decisions', () => {
  it('refuses an account more than RATE_LIMIT_MESSAGES messages an hour, first messages included, and stores nothing more', async () => {
    const server = await limited({ rateLimitMessages: 2 });
    const host = await createHost(unlimited.client);
    const [first, second] = [await createProperty(unlimited.client, host), await createProperty(unlimited.client, host)];
    const guest = await createUser(unlimited.client);
    const started = await api.startConversation({
      client: server.client, auth: guest.token, headers: { 'X-Forwarded-For': '198.51.100.90' }, body: { property_id: first.id, body: 'Is it quiet?' },
    });
    expect(started.response.status).toBe(201);
    const conversationId = started.data!.id;
    const reply = () => api.sendMessage({
      client: server.client, auth: guest.token, headers: { 'X-Forwarded-For': '198.51.100.91' }, path: { conversation_id: conversationId }, body: { body: 'And parking?' },
    });
    expect((await reply()).response.status).toBe(201);

    const third = await reply();
    const elsewhere = await api.startConversation({
      client: server.client, auth: guest.token, headers: { 'X-Forwarded-For': '198.51.100.92' }, body: { property_id: second.id, body: 'Free in May?' },
    });

    expectProblem(third, 429, 'rate_limited');
    expect(third.response.headers.get('ratelimit-policy')).toBe('"message";q=2;w=3600');
    expectProblem(elsewhere, 429, 'rate_limited');
    const messages = await server.deps.db.selectFrom('messages').where('sender_id', '=', guest.id).select('body').execute();
    expect(messages.map((row) => row.body).sort()).toEqual(['And parking?', 'Is it quiet?']);
    expect(await server.deps.db.selectFrom('conversations').where('guest_id', '=', guest.id).select('id').execute()).toHaveLength(1);
    // The host still answers: the budget is the sender's own.
    const answer = await api.sendMessage({ client: server.client, auth: host.token, path: { conversation_id: conversationId }, body: { body: 'Very quiet.' } });
    expect(answer.response.status).toBe(201);
  });

  it('counts a host\'s accepts and declines against the booking budget', async () => {
    const server = await limited({ rateLimitBookings: 1 });
    const host = await createHost(unlimited.client);
    const listing = await createProperty(unlimited.client, host, { instant_book: false });
    const [one, two] = [
      await createBooking(unlimited.client, { property: listing, stay: { check_in: fromToday(70), check_out: fromToday(71) } }),
      await createBooking(unlimited.client, { property: listing, stay: { check_in: fromToday(72), check_out: fromToday(73) } }),
    ];
    expect((await api.acceptBooking({ client: server.client, auth: host.token, path: { booking_id: one.id } })).response.status).toBe(200);

    const refused = await api.declineBooking({ client: server.client, auth: host.token, path: { booking_id: two.id }, body: { reason: 'Not those dates' } });

    expectProblem(refused, 429, 'rate_limited');
    expect(refused.response.headers.get('ratelimit-policy')).toBe('"booking";q=1;w=3600');
    const row = await server.deps.db.selectFrom('bookings').where('id', '=', two.id).select('status').executeTakeFirstOrThrow();
    expect(row.status).toBe('requested');
  });
});
