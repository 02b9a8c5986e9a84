/**
 * What the scripted walks against a running server share: printing each step
 * and checking it (a mismatch is counted, the walk goes on), stopping when a
 * step the rest depends on fails, money as people read it, the refund a
 * cancellation policy allows (computed here, independently of the server), and
 * finding free nights. Used by the walk scripts.
 */
import type { Client } from '../generated/client/client/index.js';
import * as api from '../generated/client/sdk.gen.js';
import type { Booking, Problem, Property } from '../generated/client/types.gen.js';
import { addDays, daysBetween } from '../server/dates.js';

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

export function money(amount: number, currency: string): string {
  const digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  return `${(amount / 10 ** digits).toFixed(digits)} ${currency}`;
}

export function problemOf(result: { response: Response; error?: unknown }): string {
  const problem = result.error as Partial<Problem> | undefined;
  return `${result.response.status} ${problem?.code ?? ''}${problem?.detail ? `: ${problem.detail}` : ''}`;
}

/** Fails the walk at once: the later steps depend on this one. */
export function need<T>(value: T | undefined, what: string, result?: { response: Response; error?: unknown }): T {
  if (value === undefined) throw new Error(`${what} failed${result ? ` (${problemOf(result)})` : ''}`);
  return value;
}

/** Half up to a whole minor unit, as the spec's PriceBreakdown says: computed here independently of the server. */
export const percent = (amount: number, pct: number) => Math.floor((amount * pct + 50) / 100);

/** What the guest gets back on cancelling a paid stay, per the spec's CancellationPolicy description. */
export function expectedRefund(booking: Booking, policy: Property['cancellation_policy'], today: string): { amount: number; why: string } {
  const refundable = booking.price.total - booking.price.service_fee;
  const days = daysBetween(today, booking.check_in);
  const ahead = `${days} days before check-in`;
  switch (policy) {
    case 'flexible':
      return days >= 1 ? { amount: refundable, why: `flexible, ${ahead}: the total less the service fee` } : { amount: 0, why: `flexible, ${ahead}: nothing` };
    case 'moderate':
      return days >= 5 ? { amount: refundable, why: `moderate, ${ahead}: the total less the service fee` } : { amount: percent(refundable, 50), why: `moderate, ${ahead}: half of the total less the service fee` };
    case 'strict':
      return days >= 7 ? { amount: percent(refundable, 50), why: `strict, ${ahead}: half of the total less the service fee` } : { amount: 0, why: `strict, ${ahead}: nothing` };
  }
}

export function printPrice(report: Report, booking: Booking): void {
  const { check, say } = report;
  const p = booking.price;
  const m = (amount: number) => money(amount, p.currency).padStart(14);
  say(`${`${p.nights} nights × ${money(p.nightly_rate, p.currency)}`.padEnd(28)}${m(p.subtotal)}`);
  say(`${'cleaning fee'.padEnd(28)}${m(p.cleaning_fee)}`);
  say(`${'service fee'.padEnd(28)}${m(p.service_fee)}`);
  say(`${'total'.padEnd(28)}${m(p.total)}`);
  check(p.subtotal === p.nights * p.nightly_rate, `subtotal = ${p.nights} × ${money(p.nightly_rate, p.currency)}`);
  check(p.service_fee === percent(p.subtotal + p.cleaning_fee, 10), `service fee = 10% of ${money(p.subtotal + p.cleaning_fee, p.currency)} (subtotal + cleaning), rounded half up`);
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
