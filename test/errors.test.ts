/**
 * How failures become problem details: database constraint violations mapped by
 * SQLSTATE and constraint name (never by message text), and everything unknown
 * turned into a 500 that says nothing about the inside.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { ApiError, clientErrorResponse, MAX_PROBLEM_ERRORS, toApiError, toProblem } from '../server/errors.js';
import { uniqueEmail } from './support/factories.js';
import type { TestServer } from './support/server.js';
import { useTestApp } from './support/app.js';

describe('toApiError', () => {
  it('maps the unique email index to 409 email_taken', () => {
    const { error, unexpected } = toApiError(Object.assign(new Error('duplicate key'), { code: '23505', constraint: 'users_email_lower_key' }));
    expect([error.status, error.code, unexpected]).toEqual([409, 'email_taken', false]);
  });

  it('maps other check, unique and foreign-key violations (a concurrent change) to 409 conflict', () => {
    for (const code of ['23514', '23505', '23503']) {
      const { error } = toApiError(Object.assign(new Error('violates something'), { code, constraint: 'properties_night_limits_check' }));
      expect([error.status, error.code]).toEqual([409, 'conflict']);
    }
  });

  it('maps serialization failures and deadlocks to 503 with Retry-After', () => {
    for (const code of ['40001', '40P01']) {
      const { error } = toApiError(Object.assign(new Error('could not serialize'), { code }));
      expect([error.status, error.code, error.headers?.['Retry-After']]).toEqual([503, 'service_unavailable', '1']);
    }
  });

  it('turns anything else into 500 internal_error that repeats nothing of the original', () => {
    const secret = 'password=hunter2 at select * from users';
    const { error, unexpected } = toApiError(new Error(secret));
    expect(unexpected).toBe(true);
    const problem = toProblem(error, 'req-1');
    expect(problem).toMatchObject({ status: 500, code: 'internal_error', request_id: 'req-1', type: '/problems/internal_error' });
    expect(JSON.stringify(problem)).not.toContain('hunter2');
  });

  it('keeps an ApiError as it is', () => {
    const original = new ApiError('forbidden', 'Not yours.');
    expect(toApiError(original).error).toBe(original);
  });
});

describe('toProblem', () => {
  it(`lists at most ${MAX_PROBLEM_ERRORS} field errors and says in detail how many there were`, () => {
    const errors = Array.from({ length: 151 }, (_, i) => ({ path: `body.photos.${i}`, message: 'must be a URL' }));
    const problem = toProblem(new ApiError('validation_failed', '151 fields are invalid; see errors.', errors), undefined);
    expect(problem.errors).toHaveLength(MAX_PROBLEM_ERRORS);
    expect(problem.errors?.[0]).toEqual(errors[0]);
    expect(problem.detail).toBe('151 fields are invalid; see errors. 151 problems were found; the first 100 are listed.');
  });

  it('keeps a field path a client chose within the schema: no whitespace, at most 300 characters', () => {
    const problem = toProblem(new ApiError('validation_failed', undefined, [{ path: `body.a b\u0000${'x'.repeat(400)}`, message: 'is not a known field' }]), undefined);
    const path = problem.errors?.[0]?.path ?? '';
    expect(path).toMatch(/^body\.a%20b%00x+…$/);
    expect(path.length).toBe(300);
  });

  it('names an empty field name "" so the path still matches the schema (body.x, never body.)', () => {
    const problem = toProblem(new ApiError('validation_failed', undefined, [
      { path: 'body.', message: 'is not a known field' },
      { path: 'body..items', message: 'is invalid' },
    ]), undefined);
    expect(problem.errors?.map((e) => e.path)).toEqual(['body.""', 'body."".items']);
    for (const { path } of problem.errors ?? []) expect(path).toMatch(/^(body|query|path|header)(\.\S+)?$/);
  });

  it('replaces control characters in detail', () => {
    expect(toProblem(new ApiError('not_found', 'No \u0000such\u001b thing.'), undefined).detail).toBe('No \uFFFDsuch\uFFFD thing.');
  });
});

describe('clientErrorResponse', () => {
  it("answers Node's parser refusals with a problem document: 431 for headers too large, 400 otherwise", () => {
    for (const [code, status, problemCode] of [['HPE_HEADER_OVERFLOW', 431, 'headers_too_large'], ['HPE_INVALID_METHOD', 400, 'malformed_request'], ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'request_timeout']] as const) {
      const [head, body] = clientErrorResponse({ code }).split('\r\n\r\n') as [string, string];
      expect(head).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
      expect(head).toContain('Content-Type: application/problem+json');
      expect(head).toContain(`Content-Length: ${Buffer.byteLength(body)}`);
      expect(JSON.parse(body)).toMatchObject({ status, code: problemCode, type: `/problems/${problemCode}` });
    }
  });
});

describe('registerUser under concurrency', () => {
  const { env, server } = useTestApp();
  let servers: TestServer[];
  beforeAll(async () => {
    servers = [server, await env.start()];
  });

  it('lets exactly one of many simultaneous sign-ups with one email through; the rest get 409 email_taken', async () => {
    const email = uniqueEmail('race');
    const attempts = Array.from({ length: 8 }, (_, i) =>
      api.registerUser({
        client: servers[i % 2]!.client,
        body: { email: i % 2 ? email.toUpperCase() : email, password: 'race password 1', name: `Racer ${i}` },
      }),
    );
    const statuses = (await Promise.all(attempts)).map(({ response, error }) => [response.status, (error as { code?: string })?.code]);
    expect(statuses.filter(([status]) => status === 201)).toHaveLength(1);
    expect(statuses.filter(([status, code]) => status === 409 && code === 'email_taken')).toHaveLength(7);
    const rows = await servers[0]!.deps.db.selectFrom('users').select('email').where('email', '=', email).execute();
    expect(rows).toEqual([{ email }]);
  });
});
