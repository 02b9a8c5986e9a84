/**
 * Issue 13, finding 8 and part of 9, one test each: inputs that reached a 500 (a bad
 * %-escape in a path, a body labelled gzip, a cursor of the wrong type, a date in year 0)
 * now end in a 4xx problem document that matches the spec and changes nothing; a problem
 * never lists more `errors` than the spec's maxItems; HEAD is served wherever GET is.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_PROBLEM_ERRORS } from '../server/errors.js';
import { encodeCursor } from '../server/pagination.js';
import { createBooking, createProperty, createUser, fromToday, uniqueEmail, type Account } from './support/factories.js';
import { problemSchemaCheck, type ProblemCheck } from './support/spec-problem.js';
import { useTestApp } from './support/app.js';

const { server } = useTestApp();
let guest: Account;
let propertyId: string;
let checkProblem: ProblemCheck;

beforeAll(async () => {
  checkProblem = await problemSchemaCheck();
  guest = await createUser(server.client);
  propertyId = (await createProperty(server.client)).id;
  await createBooking(server.client, { guest, property: { id: propertyId } as never });
});

async function call(path: string, init: RequestInit & { token?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('Authorization', `Bearer ${init.token}`);
  const response = await fetch(`${server.url}${path}`, { ...init, headers });
  const text = await response.text();
  const body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  return { status: response.status, headers: response.headers, text, body };
}

/** A refusal as the spec describes it: the status, the problem media type, the code, a body valid against Problem. */
function expectRefusal(result: Awaited<ReturnType<typeof call>>, status: number, code: string, path?: string) {
  expect({ status: result.status, code: result.body?.code }).toEqual({ status, code });
  expect(result.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(checkProblem(result.body)).toBeUndefined();
  if (path) expect((result.body?.errors as Array<{ path: string }>).map((e) => e.path)).toContain(path);
}

async function counts() {
  const db = server.deps.db;
  const count = async (table: 'users' | 'bookings' | 'properties' | 'sessions') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  return { users: await count('users'), bookings: await count('bookings'), properties: await count('properties'), sessions: await count('sessions') };
}

describe('a malformed %-escape in the path', () => {
  it('is 400 validation_failed naming the path, on public and signed-in operations and infrastructure routes alike', async () => {
    for (const [method, path] of [
      ['GET', '/properties/%'],
      ['GET', '/properties/%E0%A4%A'],
      ['GET', '/properties/%/availability?from=2027-03-01&to=2027-03-02'],
      ['GET', '/bookings/%zz'],
      ['POST', '/bookings/%/cancel'],
      ['DELETE', '/reviews/%C0'],
      ['GET', '/docs/%'],
    ] as const) {
      const result = await call(path, { method, token: guest.token });
      expectRefusal(result, 400, 'validation_failed', 'path');
    }
  });
});

describe('Content-Encoding on a request body', () => {
  it('refuses a plain body labelled gzip with 415 unsupported_media_type, and registers nobody', async () => {
    const before = await counts();
    const email = uniqueEmail('gzip');
    for (const encoding of ['gzip', 'deflate', 'br', 'x-unknown']) {
      const result = await call('/users', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Encoding': encoding },
        body: JSON.stringify({ email, password: 'correct horse battery', name: 'Zipped' }),
      });
      expectRefusal(result, 415, 'unsupported_media_type');
      expect(result.body?.detail).toMatch(/uncompressed/);
    }
    expect(await counts()).toEqual(before);
  });

  it('refuses Content-Encoding: br on an empty body with 415 too (the body parser tried to inflate it: a 500)', async () => {
    const result = await call(`/properties/${propertyId}/availability`, {
      method: 'PATCH',
      token: guest.token,
      headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'br', 'Content-Length': '0' },
      body: '',
    });
    expectRefusal(result, 415, 'unsupported_media_type');
  });

  it('still takes Content-Encoding: identity', async () => {
    const result = await call('/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'identity' },
      body: JSON.stringify({ email: guest.email, password: guest.password }),
    });
    expect(result.status).toBe(200);
  });
});

describe('keyset cursors', () => {
  it('refuses a cursor holding 1.5 (or a number past int4) for the integer price key with 400 naming query.cursor', async () => {
    for (const value of [1.5, 1e20]) {
      const result = await call(`/properties?sort=price_asc&cursor=${encodeCursor([value, randomUUID()])}`);
      expectRefusal(result, 400, 'validation_failed', 'query.cursor');
    }
  });

  it('refuses a timestamp PostgreSQL cannot read (30 February, year 0) with 400', async () => {
    for (const stamp of ['2027-02-30T10:00:00Z', '0000-01-01T00:00:00Z', '2027-01-01T24:00:00Z']) {
      const cursor = encodeCursor([stamp, randomUUID()]);
      expectRefusal(await call(`/bookings?cursor=${cursor}`, { token: guest.token }), 400, 'validation_failed', 'query.cursor');
      expectRefusal(await call(`/properties?sort=newest&cursor=${cursor}`), 400, 'validation_failed', 'query.cursor');
    }
  });

  it('still takes the cursors the lists give out', async () => {
    const first = await call('/properties?sort=price_asc&limit=1');
    expect(first.status).toBe(200);
    await createProperty(server.client);
    const again = await call('/properties?sort=price_asc&limit=1');
    const next = again.body?.next_cursor as string;
    expect(next).toEqual(expect.any(String));
    expect((await call(`/properties?sort=price_asc&limit=1&cursor=${next}`)).status).toBe(200);
  });
});

describe('dates out of range', () => {
  it('refuses availability from=0000-01-01 and dates in 9999 with 400 validation_failed', async () => {
    const base = `/properties/${propertyId}/availability`;
    expectRefusal(await call(`${base}?from=0000-01-01&to=0000-01-08`), 400, 'validation_failed', 'query.from');
    expectRefusal(await call(`${base}?from=9999-12-01&to=9999-12-08`), 400, 'validation_failed', 'query.from');
    expectRefusal(await call(`/properties?check_in=0000-01-01&check_out=0000-01-03`), 400, 'validation_failed', 'query.check_in');
  });

  it('refuses a booking in year 9999 with 400 validation_failed, and books nothing', async () => {
    const before = await counts();
    const result = await call('/bookings', {
      method: 'POST',
      token: guest.token,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ property_id: propertyId, check_in: '9999-12-28', check_out: '9999-12-30', guests: 1 }),
    });
    expectRefusal(result, 400, 'validation_failed', 'body.check_in');
    expect(await counts()).toEqual(before);
  });

  it('still takes dates within the range', async () => {
    const result = await call(`/properties/${propertyId}/availability?from=${fromToday(1)}&to=${fromToday(8)}`);
    expect(result.status).toBe(200);
  });
});

describe('problem errors', () => {
  it(`lists at most ${MAX_PROBLEM_ERRORS} errors, says how many were found, and matches the Problem schema`, async () => {
    const extra = Object.fromEntries(Array.from({ length: 151 }, (_, i) => [`unknown_${i}`, i]));
    const result = await call('/users', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: uniqueEmail('many'), password: 'correct horse battery', name: 'Many', ...extra }),
    });
    expectRefusal(result, 400, 'validation_failed');
    expect(result.body?.errors).toHaveLength(MAX_PROBLEM_ERRORS);
    expect(result.body?.detail).toMatch(/151 problems were found; the first 100 are listed/);
  });
});

describe('what a client may name', () => {
  it('reports an unknown field with a 5,000-character name or a space in it within the Problem schema', async () => {
    for (const name of ['x'.repeat(5000), 'two words', 'tab\there']) {
      const result = await call('/auth/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email: guest.email, password: guest.password, [name]: 1 }),
      });
      expectRefusal(result, 400, 'validation_failed');
    }
  });

  it('answers headers over 16 KiB (a huge query string) with 431 headers_too_large as a problem document', async () => {
    const result = await call(`/properties?city=${'a'.repeat(20_000)}`);
    expectRefusal(result, 431, 'headers_too_large');
  });
});

describe('HEAD', () => {
  it('is served wherever GET is: same status and headers, no body', async () => {
    for (const path of ['/properties', `/properties/${propertyId}`, `/properties/${propertyId}/availability?from=${fromToday(1)}&to=${fromToday(3)}`]) {
      const get = await call(path);
      const head = await call(path, { method: 'HEAD' });
      expect({ path, status: head.status, text: head.text }).toEqual({ path, status: get.status, text: '' });
      expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
      expect(head.headers.get('etag')).toBe(get.headers.get('etag'));
    }
    const mine = await call('/users/me', { method: 'HEAD', token: guest.token });
    expect([mine.status, mine.text]).toEqual([200, '']);
    const anonymous = await call('/users/me', { method: 'HEAD' });
    expect([anonymous.status, anonymous.text]).toEqual([401, '']);
  });

  it('is listed in Allow beside GET', async () => {
    const refused = await call(`/properties/${propertyId}`, { method: 'PUT', token: guest.token });
    expect(refused.status).toBe(405);
    expect(refused.headers.get('allow')).toBe('DELETE, GET, HEAD, PATCH');
  });
});
