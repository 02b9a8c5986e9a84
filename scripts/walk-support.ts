/**
 * What the scripted walks against a running server share: printing each step
 * and checking it (a mismatch is counted, the walk goes on), stopping when a
 * step the rest depends on fails, the refund a
 * cancellation policy allows (computed here, independently of the server), and
 * finding free nights, and reading the emails the server wrote to its outbox. Used by
 * walk-bookings, walk-payments, walk-reviews, walk-conversations and replay-webhook.
 */
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Client } from '../generated/client/client/index.js';
import * as api from '../generated/client/sdk.gen.js';
import type { Booking, Problem, Property } from '../generated/client/types.gen.js';
import { guestRefundShare, percentOf, refundFor } from '../handlers/bookings/rules.js';
import { addDays, daysBetween } from '../server/dates.js';
import { formatMoney } from '../server/mail.js';

export interface Report {
  /** Prints a checked result; a mismatch is counted. */
  check(ok: boolean, what: string): void;
  say(text: string): void;
  step(n: number, title: string): void;
  readonly mismatches: number;
}

export function reporter(print: (line: string) => void = console.log): Report {
  let mismatches = 0;
  return {
    check(ok, what) {
      if (!ok) mismatches += 1;
      print(`   ${ok ? '✓' : '✗'} ${what}`);
    },
    say: (text) => print(`   ${text}`),
    step: (n, title) => print(`\n${n}. ${title}`),
    get mismatches() {
      return mismatches;
    },
  };
}


export function problemOf(result: { response?: Response; error?: unknown }): string {
  // No response at all: the server did not answer (not started, or gone), and the error says why.
  if (!result.response) return `no answer: ${String(result.error)}`;
  const problem = result.error as Partial<Problem> | undefined;
  return `${result.response.status} ${problem?.code ?? ''}${problem?.detail ? `: ${problem.detail}` : ''}`;
}

/** Fails the walk at once: the later steps depend on this one. */
export function need<T>(value: T | undefined, what: string, result?: { response: Response; error?: unknown }): T {
  if (value === undefined) throw new Error(`${what} failed${result ? ` (${problemOf(result)})` : ''}`);
  return value;
}

/** What the guest gets back on cancelling a paid stay: the API's own policy (handlers/bookings/rules.ts), with the tier it used in words. */
export function expectedRefund(booking: Booking, policy: Property['cancellation_policy'], today: string): { amount: number; why: string } {
  const days = daysBetween(today, booking.check_in);
  const share = guestRefundShare(policy, days);
  const what = { 10_000: 'the total less the service fee', 5_000: 'half of the total less the service fee', 0: 'nothing' }[share] ?? `${share / 100}% of the total less the service fee`;
  const amount = refundFor(
    { total: booking.price.total, service_fee: booking.price.service_fee, nightly_rate: booking.price.nightly_rate, check_in: booking.check_in, check_out: booking.check_out },
    policy,
    'guest',
    today,
  );
  return { amount, why: `${policy}, ${days} days before check-in: ${what}` };
}

export function printPrice(report: Report, booking: Booking): void {
  const { check, say } = report;
  const p = booking.price;
  const m = (amount: number) => formatMoney(amount, p.currency).padStart(14);
  say(`${`${p.nights} nights × ${formatMoney(p.nightly_rate, p.currency)}`.padEnd(28)}${m(p.subtotal)}`);
  say(`${'cleaning fee'.padEnd(28)}${m(p.cleaning_fee)}`);
  say(`${'service fee'.padEnd(28)}${m(p.service_fee)}`);
  say(`${'total'.padEnd(28)}${m(p.total)}`);
  check(p.subtotal === p.nights * p.nightly_rate, `subtotal = ${p.nights} × ${formatMoney(p.nightly_rate, p.currency)}`);
  check(p.service_fee === percentOf(p.subtotal + p.cleaning_fee, 1_000), `service fee = 10% of ${formatMoney(p.subtotal + p.cleaning_fee, p.currency)} (subtotal + cleaning), rounded half up`);
  check(p.total === p.subtotal + p.cleaning_fee + p.service_fee, 'total = subtotal + cleaning fee + service fee');
}

/** The first `nights` consecutive free nights of the listing from `from`, looking a year ahead. */
export async function firstFreeRun(client: Client, listing: Property, from: string, nights: number): Promise<string | undefined> {
  const calendar = await api.getPropertyAvailability({ client, path: { property_id: listing.id }, query: { from, to: addDays(from, 366) } });
  let run = 0;
  for (const [i, night] of (calendar.data?.nights ?? []).entries()) {
    run = night.status === 'free' ? run + 1 : 0;
    if (run === nights) return addDays(from, i - nights + 1);
  }
  return undefined;
}

export interface NewUser {
  id: string;
  name: string;
  email: string;
  token: string;
}

/** Registers a fresh guest (a unique email each run) and signs in, as a new user does. */
export async function registerAndSignIn(client: Client, name: string, emailPrefix: string): Promise<NewUser> {
  const email = `${emailPrefix}-${randomUUID().slice(0, 8)}@example.test`;
  const password = `${emailPrefix} password`;
  const registered = await api.registerUser({ client, body: { email, password, name, role: 'guest' } });
  const user = need(registered.data, `registering ${email}`, registered);
  const session = await api.login({ client, body: { email, password } });
  return { id: user.id, name: user.name, email, token: need(session.data, `signing in as ${email}`, session).access_token };
}

/**
 * A listing free for `nights` nights from a check-in picked at run time (a
 * random day 30 to 210 days ahead, so runs rarely meet), found by searching
 * those dates as a guest would; tries other days when nothing is free.
 */
export async function findFreeStay(
  client: Client,
  options: { today: string; nights: number; guests: number },
): Promise<{ listing: Property; check_in: string; check_out: string; searched: string }> {
  const { today, nights, guests } = options;
  for (let attempt = 0; attempt < 10; attempt++) {
    const checkIn = addDays(today, 30 + Math.floor(Math.random() * 180));
    const checkOut = addDays(checkIn, nights);
    const found = await api.listProperties({ client, query: { check_in: checkIn, check_out: checkOut, guests, sort: 'price_asc', limit: 100 } });
    const listing = need(found.data, 'searching', found).data.find((p) => p.min_nights <= nights && nights <= p.max_nights);
    if (listing) return { listing, check_in: checkIn, check_out: checkOut, searched: `GET /properties?check_in=${checkIn}&check_out=${checkOut}&guests=${guests}&sort=price_asc` };
  }
  throw new Error(`no listing is free for ${nights} nights on any of ten days tried (is this a server with the demo data?)`);
}

/** Asks `read` again every 100 ms until it gives a value or `timeoutMs` has passed (then undefined). */
export async function poll<T>(read: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** True when this module is the script node was started with (not imported by a test). */
export function isEntryPoint(moduleUrl: string): boolean {
  return !!process.argv[1] && moduleUrl === pathToFileURL(process.argv[1]).href;
}

/**
 * Runs a script's walk and exits: 0 when every check held, 1 on a mismatch or
 * when a step the rest depends on failed, 2 when no server answers.
 */
export function runWalk(url: string, walk: () => Promise<{ mismatches: number }>): void {
  walk().then(
    ({ mismatches }) => process.exit(mismatches === 0 ? 0 : 1),
    (error: unknown) => {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      if (cause === 'ECONNREFUSED') {
        console.error(`No server answers at ${url}: start one with npm start.`);
        process.exit(2);
      }
      console.error(`The walk stopped: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}

export interface OutboxEmail {
  file: string;
  to: string;
  subject: string;
  text: string;
}

/** The email of this kind (the outbox names files `<kind>-<notification id>.eml`) whose text names the booking, once it is there (or undefined after `timeoutMs`). */
export async function waitForEmail(outboxDir: string, kind: string, bookingId: string, timeoutMs = 15_000): Promise<OutboxEmail | undefined> {
  return poll(async () => {
    const files = (await readdir(outboxDir).catch(() => [] as string[])).filter((file) => file.startsWith(`${kind}-`) && file.endsWith('.eml'));
    for (const file of files) {
      const email = parseEml(file, await readFile(path.join(outboxDir, file), 'latin1'));
      if (email.text.includes(`Booking ${bookingId}`)) return email;
    }
    return undefined;
  }, timeoutMs);
}

/**
 * Reads a single-part text email as nodemailer writes it: folded headers with
 * RFC 2047 encoded words, and a body in quoted-printable (which breaks long
 * lines, ids included, with soft line breaks), base64 or plain. `raw` is the
 * file's bytes as latin1, one character per byte.
 */
export function parseEml(file: string, raw: string): OutboxEmail {
  const split = raw.search(/\r?\n\r?\n/);
  const head = raw.slice(0, split).replace(/\r?\n[ \t]+/g, ' ');
  const body = raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const header = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(head)?.[1]?.trim() ?? '';
  const encoding = header('Content-Transfer-Encoding').toLowerCase();
  const text = encoding === 'quoted-printable' ? utf8(unquote(body)) : encoding === 'base64' ? Buffer.from(body, 'base64').toString('utf8') : utf8(body);
  return { file, to: decodeWords(header('To')), subject: decodeWords(header('Subject')), text };
}

const utf8 = (bytes: string) => Buffer.from(bytes, 'latin1').toString('utf8');
const unquote = (qp: string) => qp.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

/** `=?UTF-8?Q?Receipt=3A_352=2E00?= =?UTF-8?Q?_EUR?=` -> `Receipt: 352.00 EUR` (whitespace between encoded words is dropped). */
function decodeWords(value: string): string {
  return value.replace(/\?=\s+=\?/g, '?==?').replace(/=\?[^?]+\?([QqBb])\?([^?]*)\?=/g, (_, encoding: string, text: string) =>
    encoding.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : utf8(unquote(text.replaceAll('_', ' '))),
  );
}
