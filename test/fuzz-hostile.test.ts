/**
 * The hostile fuzzer: every operation of the spec, through a real server, with requests
 * a seeded PRNG builds from a valid one by breaking it: wrong types, huge and unicode
 * strings, NUL and lone surrogates, bad %-escapes sent raw in the path, bad UUIDs and
 * dates, Content-Encoding: gzip on a plain body, extra, missing and prototype-polluting
 * fields, huge numbers, arrays for scalars, repeated query parameters, malformed JSON.
 * Requests go signed in as a real user who owns the objects they name (the guest of the
 * booking, the host of the listing, an admin), so that they get past access checks.
 *
 * What must hold: no answer ≥ 500; every refusal is a problem document whose body
 * matches the spec's Problem schema; and a refusal writes nothing (a checksum of every
 * table before and after each refused request that could write). Successes are
 * allowed (a hostile value can be a valid one) and checked against the spec by the
 * server itself, which in test turns an off-contract answer into a 500.
 *
 * FUZZ_SEED=<n> replays a run (the seed is printed); FUZZ_PER_OPERATION sets its size.
 */
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSpec } from '../server/server.js';
import { createAdmin, createBooking, createHost, createProperty, createReview, createUser, fromToday, payStay, signIn, type Account } from './support/factories.js';
import { problemSchemaCheck, type ProblemCheck } from './support/spec-problem.js';
import { useTestApp } from './support/app.js';
import { specSamples, type Parameter, type Spec } from './support/spec-samples.js';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const PER_OPERATION = Number(process.env.FUZZ_PER_OPERATION ?? 20);

/** mulberry32: small, fast and good enough to pick hostile values reproducibly. */
function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
    chance: (p: number) => next() < p,
  };
}
type Random = ReturnType<typeof prng>;


const BAD_ESCAPES = ['%', '%%', '%E0%A4%A', '%zz', '%C0%AF', '%ED%A0%80', '%FF', 'a%2', '%00'];
const BAD_UUIDS = ['zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz', '00000000-0000-0000-0000-00000000000', '{00000000-0000-4000-8000-000000000000}', '0'.repeat(36), '123'];
const BAD_DATES = ['0000-01-01', '9999-12-31', '2027-02-30', '2027-13-01', '2027-1-1', '-002027-01-01', '+275760-09-13', '2027-03-01T00:00:00Z', '1899-12-31', '2200-01-01'];
const BAD_TIMESTAMPS = ['0000-01-01T00:00:00Z', '2027-02-30T10:00:00Z', '9999-12-31T23:59:60Z', '2027-03-01T25:00:00Z', '2027-03-01'];
const NUMBERS = [0, -1, 1.5, -0.0001, 1e308, -1e308, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 1, 2 ** 63, Number.MAX_SAFE_INTEGER, 5e-324];
const STRINGS = ['', ' ', 'null', 'undefined', 'NaN', "' OR 1=1 --", '"; drop table users; --', '../../etc/passwd', '<script>alert(1)</script>', '${7*7}', '__proto__', 'constructor', '\u0000', 'nul\u0000byte', '\ud800', '\udfff lone', '\u202e\ud83d\ude00', 'e\u0301\u0301\u0301', '\r\nX-Injected: 1', '\t\v\f', 'ｆｕｌｌ', '١٢٣', 'true', '1e999'];

/** A hostile value of any kind: what a field of any type gets in place of its own. */
function hostileValue(random: Random, depth = 0): unknown {
  switch (random.int(depth > 1 ? 7 : 9)) {
    case 0: return random.pick(NUMBERS);
    case 1: return random.pick(STRINGS);
    case 2: return random.pick([...BAD_UUIDS, ...BAD_DATES, ...BAD_TIMESTAMPS]);
    case 3: return random.pick([null, true, false]);
    // Long texts and long arrays only at the top: nested, they multiply (150 x 150 x 70,000 characters was a 400 MB URL).
    case 4: return randomText(random, random.pick(depth === 0 ? [1, 10, 300, 5000, 70_000] : [1, 10, 300]));
    case 5: return random.pick(BAD_ESCAPES);
    case 6: return randomUUID();
    case 7: return Array.from({ length: random.pick(depth === 0 ? [0, 1, 3, 150] : [0, 1, 3]) }, () => hostileValue(random, depth + 1));
    default: return { [random.pick(['$gt', '__proto__', 'a', ''])]: hostileValue(random, depth + 1) };
  }
}

/** Text from every corner of Unicode: ASCII, controls, combining marks, RTL, astral, lone surrogates. */
function randomText(random: Random, length: number): string {
  const ranges: Array<[number, number]> = [[0x20, 0x7e], [0x00, 0x1f], [0x300, 0x36f], [0x590, 0x6ff], [0x4e00, 0x9fff], [0xd800, 0xdfff], [0x1f300, 0x1f6ff], [0xfff0, 0xffff]];
  let text = '';
  const [lo, hi] = random.pick(ranges);
  for (let i = 0; i < length; i += 1) text += String.fromCodePoint(random.chance(0.7) ? lo + random.int(hi - lo + 1) : 0x20 + random.int(0x5f));
  return text;
}

/** Lone surrogates as U+FFFD (String.prototype.toWellFormed, which this project's TypeScript lib does not declare yet). */
function wellFormed(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

const { server } = useTestApp();
let spec: Spec;
let samples: ReturnType<typeof specSamples>;
let checkProblem: ProblemCheck;
let tokens: { admin: string; guest: string; host: string; logout: string };
let known: Record<string, string>;

beforeAll(async () => {
  spec = (await loadSpec()) as unknown as Spec;
  samples = specSamples(spec);
  checkProblem = await problemSchemaCheck();
  const admin = await createAdmin(server);
  const host: Account = await createHost(server.client);
  const guest: Account = await createUser(server.client);
  const property = await createProperty(server.client, host);
  const booking = await createBooking(server.client, { guest, property, stay: { check_in: fromToday(30), check_out: fromToday(33) } });
  const paid = await createBooking(server.client, { guest, property, stay: { check_in: fromToday(40), check_out: fromToday(42) } });
  const payment = await payStay(server, paid);
  const review = await createReview(server, { guest, property });
  // Accounts of their own for the user operations: a hostile request that happens to be valid may delete one,
  // or change its password (which signs it out everywhere), and the fuzzer's own sessions must survive that.
  const victim = await createUser(server.client);
  const subject = await createUser(server.client);
  tokens = { admin: admin.token, guest: guest.token, host: host.token, logout: await signIn(server.client, guest.email, guest.password) };
  known = { property_id: property.id, booking_id: booking.id, payment_id: payment.id, review_id: review.id, user_id: subject.id, deleteUser: victim.id };
  console.log(`fuzz-hostile: FUZZ_SEED=${SEED}, ${PER_OPERATION} requests per operation`);
});


interface Operation {
  operationId: string;
  method: string;
  path: string;
  parameters: Parameter[];
  body: Record<string, unknown> | undefined;
  required: string[];
}

function operations(): Operation[] {
  return samples.operations().map(({ path, method, operation, parameters, bodySchema: schema }) => ({
    operationId: operation.operationId,
    method: method.toUpperCase(),
    path,
    parameters,
    body: schema ? (samples.sample(schema) as Record<string, unknown>) : undefined,
    required: schema ? (samples.resolve(schema).required ?? []) : [],
  }));
}

/** Who sends an operation's requests: the owner of the objects its valid version names. */
function tokenFor(op: Operation, random: Random): string | undefined {
  if (op.operationId === 'logout') return tokens.logout;
  if (random.chance(0.05)) return undefined;
  if (/Propert|replyToReview|ReviewReply/.test(op.operationId)) return tokens.host;
  if (/Booking|Payment|Review/.test(op.operationId)) return tokens.guest;
  return tokens.admin;
}

interface Built {
  label: string;
  url: string;
  init: { method: string; headers: Record<string, string>; body: string | undefined };
}

/**
 * Sends a request exactly as built, which fetch will not: a body on a GET or DELETE,
 * a path with raw `%`. Characters HTTP cannot carry in a request line are escaped;
 * a header value node:http refuses to send (a character beyond Latin-1, a line break)
 * makes the request unsendable, and it is counted as such.
 */
function send(built: Built): Promise<{ status: number; contentType: string; text: string }> {
  const target = built.url.slice(server.url.length).replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(wellFormed(c)));
  return new Promise((resolve, reject) => {
    const body = built.init.body === undefined ? undefined : Buffer.from(wellFormed(built.init.body));
    const request = httpRequest(
      server.url + '/',
      { method: built.init.method, path: target, headers: { ...built.init.headers, ...(body ? { 'Content-Length': String(body.length) } : {}) } },
      (response) => {
        // The live events stream never ends: its status and type are the answer.
        if (String(response.headers['content-type'] ?? '').startsWith('text/event-stream')) {
          response.destroy();
          return resolve({ status: response.statusCode ?? 0, contentType: String(response.headers['content-type']), text: '' });
        }
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, contentType: String(response.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** One hostile request: the operation's valid request with one to three things broken. */
function build(op: Operation, random: Random): Built {
  const params: Record<string, { value: unknown; raw?: boolean; repeat?: boolean }> = {};
  for (const parameter of op.parameters) {
    if (parameter.in === 'path') params[parameter.name] = { value: op.operationId === 'deleteUser' ? known.deleteUser : (known[parameter.name] ?? samples.sample(parameter.schema ?? {})) };
    else if (parameter.required) params[parameter.name] = { value: samples.sample(parameter.schema ?? {}) };
  }
  let body: unknown = op.body === undefined ? undefined : structuredClone(op.body);
  let bodyText: string | undefined;
  const headers: Record<string, string> = {};
  const labels: string[] = [];
  const breaks = 1 + random.int(3);
  for (let i = 0; i < breaks; i += 1) {
    const kind = random.int(10);
    if (kind <= 2 && op.parameters.length > 0) {
      const parameter = random.pick(op.parameters);
      const value = hostileValue(random);
      params[parameter.name] = { value, raw: parameter.in === 'path' && random.chance(0.5), repeat: parameter.in === 'query' && random.chance(0.2) };
      labels.push(`${parameter.in}.${parameter.name}=${JSON.stringify(value)?.slice(0, 60)}`);
    } else if (kind <= 5 && body && typeof body === 'object' && !Array.isArray(body)) {
      const fields = Object.keys(body as object);
      const field = fields.length > 0 ? random.pick(fields) : 'field';
      const value = hostileValue(random);
      (body as Record<string, unknown>)[field] = value;
      labels.push(`body.${field}=${JSON.stringify(value)?.slice(0, 60)}`);
    } else if (kind === 6 && body && typeof body === 'object' && !Array.isArray(body)) {
      const field = random.chance(0.5) && op.required.length > 0 ? random.pick(op.required) : random.pick(Object.keys(body as object).concat('none'));
      delete (body as Record<string, unknown>)[field];
      labels.push(`without body.${field}`);
    } else if (kind === 7) {
      const extra = random.pick(['role', 'status', 'host_id', 'id', '__proto__', 'constructor', 'total', 'x'.repeat(300)]);
      // Written as text, so that `__proto__` arrives as a key of the JSON rather than vanishing in JSON.stringify.
      const base = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
      const head = JSON.stringify(base).slice(0, -1);
      bodyText = `${head}${head.length > 1 ? ',' : ''}${JSON.stringify(extra)}:${JSON.stringify(hostileValue(random))}}`;
      labels.push(`extra body.${extra.slice(0, 20)}`);
    } else if (kind === 8) {
      if (random.chance(0.5)) {
        headers['Content-Encoding'] = random.pick(['gzip', 'deflate', 'br', 'gzip, gzip', 'compress']);
        labels.push(`Content-Encoding: ${headers['Content-Encoding']}`);
        body ??= {};
      } else {
        headers['Idempotency-Key'] = random.pick(['', ' ', 'x'.repeat(300), '\u00ff\u00fe', 'a b']);
        labels.push(`Idempotency-Key=${JSON.stringify(headers['Idempotency-Key']).slice(0, 30)}`);
      }
    } else {
      const whole = random.pick<unknown>(['{"a":', '[1,2', 'not json', '\u0000', '', '{"__proto__":{"admin":true}}', 'null', '[]', '"text"', '1e999', JSON.stringify(hostileValue(random))]);
      bodyText = String(whole);
      labels.push(`body=${JSON.stringify(bodyText).slice(0, 60)}`);
    }
  }
  let path = op.path;
  const query = new URLSearchParams();
  for (const parameter of op.parameters) {
    const sent = params[parameter.name];
    if (!sent) continue;
    const text = typeof sent.value === 'string' ? sent.value : JSON.stringify(sent.value);
    // encodeURIComponent throws on a lone surrogate; the server gets U+FFFD, as from any client.
    if (parameter.in === 'path') path = path.replace(`{${parameter.name}}`, sent.raw ? text : encodeURIComponent(wellFormed(text)));
    if (parameter.in === 'query') {
      query.append(parameter.name, text);
      if (sent.repeat) query.append(parameter.name, text);
    }
    if (parameter.in === 'header') headers[parameter.name] = text;
  }
  const token = tokenFor(op, random);
  if (token) headers.Authorization = `Bearer ${token}`;
  const text = bodyText ?? (body === undefined ? undefined : JSON.stringify(body));
  if (text !== undefined) headers['Content-Type'] = 'application/json';
  return {
    label: `${op.operationId} ${labels.join(' & ')}`,
    url: `${server.url}${path}${query.size ? `?${query}` : ''}`,
    init: { method: op.method, headers, body: text },
  };
}

let tables: Array<{ name: string }> | undefined;

/** Every table's row count and a checksum of its rows, in one query. */
async function snapshot(): Promise<string> {
  tables ??= (await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`.execute(server.deps.db)).rows;
  const parts = tables.map(({ name }) => sql`select ${name} as name, count(*)::text as n, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as sum from ${sql.id(name)} t`);
  const { rows } = await sql<{ name: string; n: string; sum: string }>`${sql.join(parts, sql` union all `)}`.execute(server.deps.db);
  return rows.map((row) => `${row.name}:${row.n}:${row.sum}`).join('\n');
}

/**
 * The database once a success's follow-up work is done: the jobs it started (an email,
 * a refund) write after the response, and must not be blamed on the next request.
 */
async function settled(): Promise<string> {
  let last = await snapshot();
  for (let i = 0; i < 40; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = await snapshot();
    if (now === last) return now;
    last = now;
  }
  return last;
}

function changedTables(before: string, after: string): string {
  const old = new Set(before.split('\n'));
  return after.split('\n').filter((line) => !old.has(line)).map((line) => line.split(':')[0]).join(', ');
}

describe('hostile requests to every operation', () => {
  it('get no 5xx, refusals are problem documents matching the spec, and refusals write nothing', async () => {
    const random = prng(SEED);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let sent = 0;
    let unsendable = 0;
    // The database as the last request left it: a refusal must leave it so.
    let current = await snapshot();
    for (const op of operations()) {
      for (let i = 0; i < PER_OPERATION; i += 1) {
        const request = build(op, random);
        const writes = op.method !== 'GET';
        let response: Awaited<ReturnType<typeof send>>;
        try {
          response = await send(request);
        } catch {
          unsendable += 1;
          continue;
        }
        sent += 1;
        const text = response.text;
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        const where = `[FUZZ_SEED=${SEED}] ${request.label}`;
        if (response.status >= 500) {
          failures.push(`${where} -> ${response.status} ${text.slice(0, 200)}`);
          continue;
        }
        if (response.status >= 400) {
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
          const wrong = response.contentType.startsWith('application/problem+json') ? checkProblem(body) : `content-type ${response.contentType}`;
          if (wrong) failures.push(`${where} -> ${response.status} not a Problem: ${wrong}`);
          if (writes) {
            const after = await snapshot();
            if (after !== current) failures.push(`${where} -> ${response.status} but changed ${changedTables(current, after)}`);
            current = after;
          }
        } else if (writes) {
          current = await settled(); // a hostile value that was a valid one: the write is the success's
        }
      }
    }
    console.log(`fuzz-hostile: ${sent} requests (${unsendable} not sendable), statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
    expect(sent).toBeGreaterThan(operations().length * PER_OPERATION * 0.8);
    expect(failures).toEqual([]);
  }, 180_000);

  it('leaves the fuzzer signed in as each of its users', async () => {
    for (const token of [tokens.admin, tokens.guest, tokens.host]) {
      const me = await fetch(`${server.url}/users/me`, { headers: { Authorization: `Bearer ${token}` } });
      expect(me.status).toBe(200);
    }
  });
});
