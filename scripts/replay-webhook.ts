/**
 * npm run replay:webhook -- [--url http://127.0.0.1:3000] [--secret whsec_...] [--copies 50] [--database-url postgres://...]
 *
 * Shows that a signed provider event delivered many times at once is applied
 * once. Against a running server (the embedded default: the local provider):
 * a new guest books a stay, and the script builds the event Stripe sends for a
 * charge whose API response was lost (`payment_intent.succeeded` for a
 * PaymentIntent carrying our ids in its metadata, which the server records as
 * a payment), signs it once with Stripe's SDK and posts the identical bytes
 * `--copies` times in parallel. First a tampered copy and a stale one (signed
 * 10 minutes ago) are refused with 400 and change nothing. Prints how the
 * deliveries were answered and what the records show afterwards, through the
 * API and, given `--database-url` (the server's DATABASE_URL), in the tables;
 * exits 1 unless exactly one delivery applied the event and nothing else
 * changed. The signing secret is `--secret` (the server's STRIPE_WEBHOOK_SECRET),
 * by default LOCAL_WEBHOOK_SECRET, the local provider's when none is set.
 * test/webhook-replay.test.ts runs the same replay.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import Stripe from 'stripe';
import { createClient, createConfig, type Client } from '../generated/client/client/index.js';
import * as api from '../generated/client/sdk.gen.js';
import { utcToday } from '../server/dates.js';
import { LOCAL_WEBHOOK_SECRET } from '../server/payments/local.js';
import { formatMoney } from '../server/mail.js';
import { findFreeStay, isEntryPoint, need, registerAndSignIn, reporter, runWalk } from './walk-support.js';

export interface ReplayOptions {
  /** The endpoint's signing secret; default the local provider's. */
  secret?: string | undefined;
  copies?: number | undefined;
  /** The server's database, to show the rows too (PostgreSQL only: an embedded PGlite is the server's alone). */
  databaseUrl?: string | undefined;
  print?: ((line: string) => void) | undefined;
}

export interface Replay {
  mismatches: number;
  eventId: string;
  intentId: string;
  paymentId: string;
  bookingId: string;
  /** Deliveries answered 200 with duplicate false, 200 with duplicate true, and anything else. */
  applied: number;
  duplicates: number;
  failed: number;
}

interface Delivery {
  status: number;
  body: { duplicate?: boolean; code?: string; detail?: string } | undefined;
}

export async function replayWebhook(url: string, options: ReplayOptions = {}): Promise<Replay> {
  const { secret = LOCAL_WEBHOOK_SECRET, copies = 50, databaseUrl, print = console.log } = options;
  const base = url.replace(/\/$/, '');
  const client = createClient(createConfig({ baseUrl: base }));
  const report = reporter(print);
  const { check, say, step } = report;
  print(`Webhook replay against ${base}/payments/webhook, ${copies} copies`);

  step(1, 'A new guest books a stay (it waits for payment)');
  const guest = await registerAndSignIn(client, 'Rita Replay', 'replay-webhook');
  const free = await findFreeStay(client, { today: utcToday(), nights: 2, guests: 1 });
  const booked = await api.createBooking({ client, auth: guest.token, body: { property_id: free.listing.id, check_in: free.check_in, check_out: free.check_out, guests: 1 } });
  const booking = need(booked.data, 'booking', booked);
  say(`${guest.email} books "${free.listing.name}", ${booking.check_in} to ${booking.check_out}: ${booked.response.status} ${booking.status}, total ${formatMoney(booking.price.total, booking.price.currency)}`);

  step(2, 'The event Stripe sends for a charge whose API response was lost, signed once');
  const eventId = `evt_replay_${randomBytes(8).toString('hex')}`;
  const intentId = `pi_replay_${randomBytes(8).toString('hex')}`;
  const paymentId = randomUUID();
  const created = Math.floor(Date.now() / 1000);
  const payload = JSON.stringify({
    id: eventId,
    object: 'event',
    type: 'payment_intent.succeeded',
    created,
    livemode: false,
    data: {
      object: {
        id: intentId,
        object: 'payment_intent',
        amount: booking.price.total,
        currency: booking.price.currency.toLowerCase(),
        status: 'succeeded',
        payment_method: 'pm_card_visa',
        metadata: { payment_id: paymentId, booking_id: booking.id, payer_id: guest.id },
      },
    },
  });
  const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret });
  say(`${eventId}: payment_intent.succeeded for ${intentId}, ${formatMoney(booking.price.total, booking.price.currency)}, metadata.payment_id ${paymentId}`);
  say(`${payload.length} bytes, Stripe-Signature: ${signature.slice(0, 40)}…`);

  const deliver = async (body: string, header: string): Promise<Delivery> => {
    const response = await fetch(`${base}/payments/webhook`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Stripe-Signature': header }, body });
    return { status: response.status, body: (await response.json().catch(() => undefined)) as Delivery['body'] };
  };
  const rows = databaseUrl ? await openRows(databaseUrl, eventId, booking.id) : undefined;
  try {
    step(3, 'A tampered copy and a stale one are refused, and change nothing');
    const amountAt = payload.indexOf(`"amount":${booking.price.total}`) + `"amount":${booking.price.total}`.length - 1;
    const digit = payload[amountAt] as string;
    const tampered = `${payload.slice(0, amountAt)}${(Number(digit) + 1) % 10}${payload.slice(amountAt + 1)}`;
    const forged: [string, string, string][] = [
      [`tampered (one byte: the amount's last digit ${digit} -> ${(Number(digit) + 1) % 10}), the original signature`, tampered, signature],
      ['stale (the same bytes, signed 10 minutes ago)', payload, Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: created - 600 })],
    ];
    for (const [what, body, header] of forged) {
      const answer = await deliver(body, header);
      check(answer.status === 400, `${what}: ${answer.status} ${answer.body?.code ?? ''}`);
    }
    const untouched = await recordsOf(client, guest.token, booking.id);
    check(untouched.payments.length === 0 && untouched.status === 'pending', `GET /payments?booking_id: ${untouched.payments.length} payments; GET /bookings/{id}: ${untouched.status}`);
    if (rows) {
      const r = await rows.read();
      check(r.events === 0 && r.payments === 0 && r.notifications.length === 0, `rows: ${r.events} payment_events, ${r.payments} payments, ${r.notifications.length} notifications`);
    }

    step(4, `The signed event, ${copies} identical deliveries at once (POST /payments/webhook)`);
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: copies }, () => deliver(payload, signature).catch((error: unknown): Delivery => ({ status: 0, body: { detail: String(error) } }))));
    const applied = answers.filter((a) => a.status === 200 && a.body?.duplicate === false).length;
    const duplicates = answers.filter((a) => a.status === 200 && a.body?.duplicate === true).length;
    const failed = copies - applied - duplicates;
    const row = (label: string, value: number) => say(`${label.padEnd(32)}${String(value).padStart(5)}`);
    row('200, duplicate: false', applied);
    row('200, duplicate: true', duplicates);
    row('anything else', failed);
    for (const a of answers.filter((x) => !(x.status === 200 && typeof x.body?.duplicate === 'boolean')).slice(0, 5)) say(`  ${a.status} ${a.body?.code ?? ''} ${a.body?.detail ?? ''}`);
    say(`${Date.now() - started} ms`);
    check(applied === 1 && duplicates === copies - 1 && failed === 0, `applied by exactly one delivery, acknowledged as a duplicate by the other ${copies - 1}`);

    step(5, 'What the records show');
    const after = await recordsOf(client, guest.token, booking.id);
    const payment = after.payments[0];
    say(`GET /payments?booking_id=${booking.id}: ${after.payments.map((p) => `${p.id} ${p.status} ${formatMoney(p.amount, p.currency)} ${p.provider_reference}`).join('; ') || 'none'}`);
    check(after.payments.length === 1 && payment?.id === paymentId && payment.status === 'succeeded' && payment.provider_reference === intentId && payment.amount === booking.price.total,
      'exactly one payment: the one the event names, succeeded, for the booking\'s total');
    check(after.status === 'confirmed', `GET /bookings/${booking.id}: ${after.status}`);
    if (rows) {
      const r = await rows.read();
      say(`payment_events ${eventId}: ${r.events} row (payment ${r.eventPayment}); payments for the booking: ${r.payments}; notifications: ${r.notifications.join(', ')}`);
      check(r.events === 1 && r.eventPayment === paymentId, 'one payment_events row, linked to the payment');
      check(r.payments === 1, 'one payments row');
      check(r.notifications.join(',') === 'booking_confirmed,payment_receipt', 'two notifications owed: payment_receipt and booking_confirmed');
    } else {
      say('(the rows themselves: give --database-url with the server\'s DATABASE_URL)');
    }

    print(report.mismatches === 0 ? `\nOK: ${copies} deliveries, applied once; the forged ones changed nothing.` : `\nFAILED: ${report.mismatches} check(s) did not hold.`);
    return { mismatches: report.mismatches, eventId, intentId, paymentId, bookingId: booking.id, applied, duplicates, failed };
  } finally {
    await rows?.close();
  }
}

async function recordsOf(client: Client, token: string, bookingId: string) {
  const payments = await api.listPayments({ client, auth: token, query: { booking_id: bookingId } });
  const booking = await api.getBooking({ client, auth: token, path: { booking_id: bookingId } });
  return { payments: need(payments.data, 'listing payments', payments).data, status: need(booking.data, 'reading the booking', booking).status };
}

/** The rows the event touches, read straight from the server's PostgreSQL database. */
async function openRows(databaseUrl: string, eventId: string, bookingId: string) {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  return {
    async read() {
      const events = await db.query<{ payment_id: string | null }>('select payment_id from payment_events where id = $1', [eventId]);
      const payments = await db.query('select id from payments where booking_id = $1', [bookingId]);
      const notifications = await db.query<{ kind: string }>('select kind from notifications where booking_id = $1 order by kind', [bookingId]);
      return { events: events.rowCount ?? 0, eventPayment: events.rows[0]?.payment_id, payments: payments.rowCount ?? 0, notifications: notifications.rows.map((n) => n.kind) };
    },
    close: () => db.end(),
  };
}

if (isEntryPoint(import.meta.url)) {
  const { values: args } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:3000' },
      secret: { type: 'string' },
      copies: { type: 'string', default: '50' },
      'database-url': { type: 'string' },
    },
  });
  const copies = Number(args.copies);
  if (!Number.isSafeInteger(copies) || copies < 2 || copies > 500) {
    console.error('usage: npm run replay:webhook -- [--url URL] [--secret whsec_...] [--copies 2..500] [--database-url postgres://...]');
    process.exit(2);
  }
  runWalk(args.url, () => replayWebhook(args.url, { secret: args.secret, copies, databaseUrl: args['database-url'] }));
}
