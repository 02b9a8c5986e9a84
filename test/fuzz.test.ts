/**
 * Bad input never produces a 5xx. Every operation of the spec is called, as a
 * signed-in admin so that authorization does not hide anything, with each of its
 * parameters and body fields in turn replaced by hostile values: wrong types, nulls,
 * huge numbers and strings, control characters, injection strings. Every answer must
 * be a 4xx problem (or a success the spec allows), never a 500: responses are checked against the spec in test, so a success
 * off the contract would show up as a 500 too. Deterministic: same requests every run.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSpec } from '../server/server.js';
import * as api from '../generated/client/sdk.gen.js';
import { inconsistencies } from './support/consistency.js';
import { createAdmin, createBooking, createProperty, createUser, fromToday, insertPastStay } from './support/factories.js';
import { useTestApp } from './support/app.js';
import { specSamples, type Spec } from './support/spec-samples.js';


const hostile: unknown[] = [
  null, 0, -1, 1e308, 2 ** 53, 3.5, true, 'string', '', ' ', 'x'.repeat(5000), 'null\u0000byte', '\u202e\ud83d\ude00',
  "' OR 1=1 --", '../../etc/passwd', 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz', '2027-02-30', '9999-12-31T23:59:59Z', [], [null], {}, { $gt: '' },
];

const { server } = useTestApp();
let spec: Spec;
let samples: ReturnType<typeof specSamples>;
let token: string;
let propertyId: string;
let bookingId: string;
let reviewId: string;
let adminId: string;
beforeAll(async () => {
  spec = (await loadSpec()) as unknown as Spec;
  samples = specSamples(spec);
  const admin = await createAdmin(server);
  token = admin.token;
  adminId = admin.id;
  const property = await createProperty(server.client);
  propertyId = property.id;
  bookingId = (await createBooking(server.client, { property })).id;
  const guest = await createUser(server.client);
  const pastStay = await insertPastStay(server, { guest, property, checkIn: fromToday(-3), checkOut: fromToday(-1) });
  const review = await api.createReview({ client: server.client, auth: guest.token, body: { booking_id: pastStay, rating: 4, comment: 'Fuzzed.' } });
  reviewId = review.data!.id;
});


function operations() {
  return samples.operations().map(({ path, method, operation, parameters, bodySchema }) => ({
    path,
    method,
    operation,
    parameters,
    body: bodySchema ? (samples.sample(bodySchema) as Record<string, unknown>) : undefined,
  }));
}

type Case = ReturnType<typeof operations>[number];

async function send(op: Case, params: Record<string, unknown>, body: unknown) {
  let url = op.path;
  const query = new URLSearchParams();
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  for (const parameter of op.parameters) {
    const value = params[parameter.name];
    if (value === undefined) continue;
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (parameter.in === 'path') url = url.replace(`{${parameter.name}}`, encodeURIComponent(text));
    if (parameter.in === 'query') query.set(parameter.name, text);
    if (parameter.in === 'header' && /^[\t\x20-\x7e]*$/.test(text)) headers[parameter.name] = text;
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${server.url}${url}${query.size ? `?${query}` : ''}`, {
    method: op.method.toUpperCase(),
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = response.headers.get('content-type') ?? '';
  // The live events stream never ends: its status and type are the answer.
  if (type.startsWith('text/event-stream')) {
    await response.body?.cancel();
    return { status: response.status, type, text: '' };
  }
  return { status: response.status, type, text: await response.text() };
}

/** Parameters with valid values; ids point at real rows where there are some, so checks run past the lookup. */
function validParams(op: Case): Record<string, unknown> {
  const known: Record<string, string> = { property_id: propertyId, booking_id: bookingId, review_id: reviewId, user_id: op.method === 'delete' ? randomUUID() : adminId };
  return Object.fromEntries(
    op.parameters.filter((p) => p.required || p.in === 'path').map((p) => [p.name, known[p.name] ?? samples.sample(p.schema ?? {})]),
  );
}

describe('hostile input on every operation', () => {
  it('never gets a 5xx, and every refusal is a problem document', async () => {
    const failures: string[] = [];
    let requests = 0;
    for (const op of operations()) {
      if (op.operation.operationId === 'logout' || op.operation.operationId === 'deleteUser') continue; // would end the fuzzer's own session
      const base = validParams(op);
      const attempts: Array<[string, Record<string, unknown>, unknown]> = [];
      for (const parameter of op.parameters) {
        for (const value of hostile) attempts.push([`${parameter.in} ${parameter.name}=${JSON.stringify(value)?.slice(0, 40)}`, { ...base, [parameter.name]: value }, op.body]);
      }
      for (const field of Object.keys(op.body ?? {})) {
        for (const value of hostile) attempts.push([`body.${field}=${JSON.stringify(value)?.slice(0, 40)}`, base, { ...op.body, [field]: value }]);
      }
      if (op.body) for (const value of hostile) attempts.push([`body=${JSON.stringify(value)?.slice(0, 40)}`, base, value]);
      for (const [label, params, body] of attempts) {
        requests += 1;
        const { status, type, text } = await send(op, params, body);
        if (status >= 500 || (status >= 400 && !type.startsWith('application/problem+json'))) {
          failures.push(`${op.operation.operationId} ${label} -> ${status} ${text.slice(0, 200)}`);
        }
      }
    }
    expect(requests).toBeGreaterThan(1000);
    expect(failures).toEqual([]);
  }, 300_000);

  it('leaves the fuzzer signed in and the database consistent', async () => {
    const me = await fetch(`${server.url}/users/me`, { headers: { Authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
    // Every money column equals its recomputation and every booking's status agrees with its payments.
    expect(await inconsistencies(server.deps.db, server.deps.config.serviceFeeBasisPoints)).toEqual([]);
  });
});
