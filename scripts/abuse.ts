/**
 * npm run abuse [-- --base URL]   (default http://127.0.0.1:3000)
 *
 * Tries, against a running server, what issue 13 found an attacker could do, and
 * prints what each limit did about it:
 *   1. hold cap: one guest holding stays until the server refuses (`409 too_many_holds`);
 *   2. GraphQL fan-out: 15 aliases x listProperties(limit: 100) { data { host { name } } },
 *      anonymous: refused (`query_too_costly`) or cheap, and how long it took;
 *   3. sign-in burst: 40 passwords for one account sent at once, the right one 40th;
 *   4. request burst: 300 rapid GETs from this address.
 * It starts nothing: start a server first (`npm start`, RATE_LIMITS on, the default)
 * and point it there. It registers three accounts of its own (a guest whose password it
 * knows, a host and a guest) and one listing; the budgets it exhausts are this
 * address's, so a second run within the windows (an hour for registrations) meets
 * them at once. Exits 1 when the sign-in or request limit did not hold.
 * test/limits-abuse.test.ts runs it against a test server.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { addDays, utcToday } from '../server/dates.js';

export interface AbuseFigures {
  holdCap: { enforced: boolean; accepted: number; stoppedBy: string };
  graphql: { status: number; refused: boolean; code?: string | undefined; ms: number; properties: number };
  signIn: { sent: number; checked: number; refused: number; rightPassword: number; held: boolean };
  requests: { sent: number; ok: number; limited: number; other: number; retryAfter?: string | undefined; policy?: string | undefined; held: boolean };
}

interface Answer {
  status: number;
  body: { code?: string; [key: string]: unknown } | undefined;
  headers: Headers;
}

export async function runAbuse(base: string, print: (line: string) => void = () => {}): Promise<AbuseFigures> {
  const call = async (method: string, path: string, body?: unknown, token?: string): Promise<Answer> => {
    const response = await fetch(new URL(path, base), {
      method,
      headers: {
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(method === 'POST' && path === '/bookings' ? { 'Idempotency-Key': randomUUID() } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Answer['body']) : undefined, headers: response.headers };
  };
  const expectOk = (step: string, answer: Answer): Answer => {
    if (answer.status >= 300) throw new Error(`${step}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer;
  };
  const account = async (role: 'guest' | 'host') => {
    const email = `abuse-${role}-${randomUUID().slice(0, 8)}@example.test`;
    const password = `abuse password ${randomUUID()}`;
    const created = expectOk(`register a ${role}`, await call('POST', '/users', { email, password, name: `Abuse ${role}`, role }));
    return { id: String(created.body?.id), email, password };
  };
  const signIn = async (who: { email: string; password: string }) =>
    String(expectOk('sign in', await call('POST', '/auth/login', { email: who.email, password: who.password })).body?.access_token);

  // 1. Hold cap: stays of one night, two days apart, until the server says no.
  const host = await account('host');
  const hostToken = await signIn(host);
  const listing = expectOk('list a property', await call('POST', '/properties', {
    name: 'Abuse test loft', description: 'A listing the abuse script books to find the hold cap.', city: 'Abusetown', country: 'PT',
    latitude: 38.7, longitude: -9.1, price_per_night: 10000, currency: 'EUR', cleaning_fee: 0, max_guests: 2, bedrooms: 1,
    amenities: ['wifi'], photos: [], cancellation_policy: 'flexible', min_nights: 1, max_nights: 30,
  }, hostToken));
  const guest = await account('guest');
  const guestToken = await signIn(guest);
  const MAX_HOLDS = 25;
  let accepted = 0;
  let stoppedBy = `nothing after ${MAX_HOLDS} holds`;
  let enforced = false;
  for (let i = 0; i < MAX_HOLDS; i++) {
    const checkIn = addDays(utcToday(), 30 + 2 * i);
    const answer = await call('POST', '/bookings', { property_id: listing.body?.id, check_in: checkIn, check_out: addDays(checkIn, 1), guests: 1 }, guestToken);
    if (answer.status === 201) {
      accepted += 1;
      continue;
    }
    stoppedBy = `${answer.status} ${answer.body?.code ?? ''}`.trim();
    enforced = answer.body?.code === 'too_many_holds';
    break;
  }
  print(enforced
    ? `hold cap: ${accepted} unpaid holds accepted, the next refused with ${stoppedBy}`
    : `hold cap: not enforced by this server (${accepted} unpaid holds accepted; stopped by ${stoppedBy})`);
  const holdCap = { enforced, accepted, stoppedBy };

  // 2. GraphQL fan-out, anonymous.
  const aliases = Array.from({ length: 15 }, (_, i) => `p${i}: listProperties(limit: 100) { data { host { name } } }`).join('\n');
  const started = performance.now();
  const fanOut = await call('POST', '/graphql', { query: `{ ${aliases} }` });
  const ms = Math.round(performance.now() - started);
  const errors = (fanOut.body?.errors ?? []) as { extensions?: { code?: string } }[];
  const code = errors.find((error) => error.extensions?.code)?.extensions?.code;
  const data = (fanOut.body?.data ?? {}) as Record<string, { data?: unknown[] } | null>;
  const properties = Object.values(data).reduce((sum, page) => sum + (page?.data?.length ?? 0), 0);
  const graphql = { status: fanOut.status, refused: code === 'query_too_costly', code, ms, properties };
  print(graphql.refused
    ? `graphql fan-out: refused with query_too_costly (${fanOut.status}) in ${ms} ms`
    : `graphql fan-out: answered ${fanOut.status}${code ? ` (${code})` : ''} in ${ms} ms with ${properties} properties`);

  // 3. Sign-in burst: 39 wrong passwords and the right one, all at once. The right one leaves 100 ms after
  // the others, so that it is the 40th to arrive, while the wrong ones are still being checked.
  const victim = await account('guest');
  const attempts = await Promise.all(Array.from({ length: 40 }, async (_, i) => {
    if (i === 39) await new Promise((resolve) => setTimeout(resolve, 100));
    return call('POST', '/auth/login', { email: victim.email, password: i === 39 ? victim.password : `wrong guess ${i}` });
  }));
  const statuses = attempts.map((answer) => answer.status);
  const rightPassword = statuses[39] ?? 0;
  const signIn40 = {
    sent: 40,
    checked: statuses.filter((status) => status === 401 || status === 200).length,
    refused: statuses.filter((status) => status === 429).length,
    rightPassword,
    held: rightPassword === 429 && statuses.filter((status) => status === 401 || status === 200).length <= 10,
  };
  print(`sign-in burst: 40 sent at once, ${signIn40.checked} passwords checked, ${signIn40.refused} refused with 429; the right password (40th) got ${rightPassword}`);

  // 4. Request burst.
  const burst = await Promise.all(Array.from({ length: 300 }, () => call('GET', '/properties?limit=1')));
  const firstLimited = burst.find((answer) => answer.status === 429);
  const requests = {
    sent: 300,
    ok: burst.filter((answer) => answer.status === 200).length,
    limited: burst.filter((answer) => answer.status === 429).length,
    other: burst.filter((answer) => answer.status !== 200 && answer.status !== 429).length,
    retryAfter: firstLimited?.headers.get('retry-after') ?? undefined,
    policy: firstLimited?.headers.get('ratelimit-policy') ?? undefined,
    held: burst.some((answer) => answer.status === 429),
  };
  print(`request burst: 300 GETs at once, ${requests.ok} x 200, ${requests.limited} x 429${requests.other ? `, ${requests.other} other` : ''}` +
    (firstLimited ? ` (Retry-After: ${requests.retryAfter}, RateLimit-Policy: ${requests.policy})` : ''));

  return { holdCap, graphql, signIn: signIn40, requests };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const at = process.argv.indexOf('--base');
  const base = at === -1 ? 'http://127.0.0.1:3000' : (process.argv[at + 1] ?? '');
  console.log(`abuse run against ${base}`);
  const figures = await runAbuse(base, (line) => console.log(line));
  const held = figures.signIn.held && figures.requests.held;
  console.log(held ? 'sign-in and request limits held.' : 'a limit did NOT hold: see above.');
  process.exitCode = held ? 0 : 1;
}
