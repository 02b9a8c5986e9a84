/**
 * Sign-in limits (server/limits.ts): attempts are counted before the password is
 * checked, so a burst of guesses sent at once cannot all be tried; one address may
 * try only so many emails; and a guesser on one address does not lock the owner out
 * of their account elsewhere. Client addresses come from X-Forwarded-For behind
 * TRUST_PROXY=1, as behind docker/nginx.conf.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { expectProblem } from './support/problems.js';
import { eventually, redisUrl, type TestServer } from './support/server.js';
import { useTestApp } from './support/app.js';
import { createUser, uniqueEmail, type Account } from './support/factories.js';

const { env } = useTestApp();
let redis: Redis;
let server: TestServer;

beforeAll(async () => {
  redis = new Redis(redisUrl);
  // A generous per-address budget, so that the per-email budgets are what these tests meet.
  server = await env.start({ rateLimits: true, trustProxy: 1, rateLimitRequests: 10_000, rateLimitSignIns: 1000 });
});
afterAll(() => redis.disconnect());

/** A sign-in sent from `address` (the proxy's X-Forwarded-For). */
async function login(email: string, password: string, address: string, on = server) {
  const result = await api.login({ client: on.client, body: { email, password }, headers: { 'X-Forwarded-For': address } });
  return result;
}

async function sessionCount(userId: string): Promise<number> {
  const row = await server.deps.db.selectFrom('sessions').where('user_id', '=', userId)
    .select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The counter limits.ts keeps for (email, address): sha256(email) in base64url, 22 characters. */
function emailAddressKey(email: string, address: string): string {
  const who = createHash('sha256').update(email.toLowerCase()).digest('base64url').slice(0, 22);
  return `${env.redisKeyPrefix}limit:sign-in-email-address:${who}:${address}`;
}

describe('login', () => {
  let victim: Account;

  beforeAll(async () => {
    victim = await createUser(server.client);
  });

  it('checks at most LOGIN_MAX_FAILURES of 40 wrong passwords sent at once, and refuses the right one sent 40th with 429', async () => {
    const attacker = '203.0.113.40';
    const sessionsBefore = await sessionCount(victim.id);
    const guesses = Array.from({ length: 39 }, (_, i) => login(victim.email, `wrong guess ${i}`, attacker));
    // The right password goes out once all 39 guesses are counted: it is the 40th attempt whatever order they arrive in.
    await eventually(async () => expect(Number(await redis.get(emailAddressKey(victim.email, attacker)))).toBe(39));
    const right = await login(victim.email, victim.password, attacker);
    const answers = await Promise.all(guesses);

    const statuses = answers.map((answer) => answer.response.status);
    const checked = statuses.filter((status) => status === 401).length;
    expect(checked).toBe(server.deps.config.loginMaxFailures);
    expect(statuses.filter((status) => status === 429)).toHaveLength(39 - checked);
    const refused = expectProblem(right, 429, 'rate_limited');
    expect(refused.detail).toMatch(/for this email from this address/);
    const retryAfter = Number(right.response.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(server.deps.config.loginWindowSeconds);
    expect(right.response.headers.get('ratelimit-policy')).toBe(`"sign-in-email-address";q=10;w=${server.deps.config.loginWindowSeconds}`);
    expect(right.response.headers.get('ratelimit')).toBe(`"sign-in-email-address";r=0;t=${retryAfter}`);
    expect(await sessionCount(victim.id)).toBe(sessionsBefore);
  });

  it('still signs the owner in from another address after an attacker used up their guesses', async () => {
    const owner = await createUser(server.client);
    for (let i = 0; i < 10; i++) expectProblem(await login(owner.email, `guess ${i}`, '203.0.113.41'), 401, 'invalid_credentials');
    expectProblem(await login(owner.email, owner.password, '203.0.113.41'), 429, 'rate_limited');

    const fromHome = await login(owner.email, owner.password, '198.51.100.7');

    expect(fromHome.response.status).toBe(200);
    expect(fromHome.data?.user.id).toBe(owner.id);
  });

  it('forgets the owner\'s own typos from an address once they sign in there', async () => {
    const owner = await createUser(server.client);
    const address = '198.51.100.8';
    for (let i = 0; i < 9; i++) expectProblem(await login(owner.email, `typo ${i}`, address), 401, 'invalid_credentials');
    expect((await login(owner.email, owner.password, address)).response.status).toBe(200);

    for (let i = 0; i < 9; i++) expectProblem(await login(owner.email, `typo again ${i}`, address), 401, 'invalid_credentials');
    expect((await login(owner.email, owner.password, address)).response.status).toBe(200);
  });

  it('refuses one address trying many emails after RATE_LIMIT_SIGN_INS attempts, whoever they are for', async () => {
    const strict = await env.start({ rateLimits: true, trustProxy: 1, rateLimitSignIns: 5 });
    const sprayer = '203.0.113.42';
    for (let i = 0; i < 5; i++) expectProblem(await login(uniqueEmail('sprayed'), 'password guess', sprayer, strict), 401, 'invalid_credentials');

    const refused = await login(victim.email, victim.password, sprayer, strict);

    expectProblem(refused, 429, 'rate_limited');
    expect(refused.response.headers.get('ratelimit-policy')).toMatch(/^"sign-in";q=5;w=\d+$/);
    // Another address is not affected.
    expect((await login(victim.email, victim.password, '198.51.100.9', strict)).response.status).toBe(200);
  });

  it('refuses guesses for one email from many addresses after LOGIN_MAX_PER_EMAIL, and the owner\'s successes do not count', async () => {
    const strict = await env.start({ rateLimits: true, trustProxy: 1, loginMaxPerEmail: 4 });
    const owner = await createUser(strict.client);
    for (let i = 0; i < 3; i++) expect((await login(owner.email, owner.password, `198.51.100.${20 + i}`, strict)).response.status).toBe(200);
    for (let i = 0; i < 4; i++) expectProblem(await login(owner.email, `guess ${i}`, `203.0.113.${100 + i}`, strict), 401, 'invalid_credentials');

    const refused = await login(owner.email, owner.password, '198.51.100.30', strict);

    expectProblem(refused, 429, 'rate_limited');
    expect(refused.response.headers.get('ratelimit-policy')).toMatch(/^"sign-in-email";q=4;w=\d+$/);
  });

  it('counts sign-ins through GraphQL too: each login mutation is one attempt', async () => {
    const owner = await createUser(server.client);
    const address = '203.0.113.43';
    const aliases = Array.from({ length: 12 }, (_, i) => `a${i}: login(input: { email: ${JSON.stringify(owner.email)}, password: "guess ${i}" }) { access_token }`);
    const response = await fetch(new URL('/graphql', server.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': address },
      body: JSON.stringify({ query: `mutation { ${aliases.join('\n')} }` }),
    });
    const reply = (await response.json()) as { errors?: { message: string; extensions?: { code?: string } }[] };

    expect(Number(await redis.get(emailAddressKey(owner.email, address)))).toBe(12);
    expect(JSON.stringify(reply.errors)).toMatch(/rate_limited|Too many sign-in attempts/);
    expectProblem(await login(owner.email, owner.password, address), 429, 'rate_limited');
  });
});

describe('TRUST_PROXY', () => {
  /** What is left of the request budget after one request that claims to come from `address`. */
  async function remainingAfter(on: TestServer, address: string): Promise<number> {
    const response = await fetch(new URL('/openapi.json', on.url), { headers: { 'X-Forwarded-For': address } });
    await response.arrayBuffer();
    return Number(/"requests";r=(\d+)/.exec(response.headers.get('ratelimit') ?? '')?.[1]);
  }

  it('ignores X-Forwarded-For at 0 (the default): a client cannot pick a fresh address per request', async () => {
    const direct = await env.start({ rateLimits: true, trustProxy: 0, rateLimitRequests: 1000 });
    const first = await remainingAfter(direct, '192.0.2.1');
    expect(await remainingAfter(direct, '192.0.2.2')).toBe(first - 1);
  });

  it('takes the address the proxy appended at 1, not what the client put before it', async () => {
    const proxied = await env.start({ rateLimits: true, trustProxy: 1, rateLimitRequests: 1000 });
    const first = await remainingAfter(proxied, '10.9.9.9, 192.0.2.10');
    expect(await remainingAfter(proxied, '10.9.9.8, 192.0.2.10')).toBe(first - 1);
    expect(await remainingAfter(proxied, '10.9.9.9, 192.0.2.11')).toBe(999);
  });
});
