/**
 * npm run walk:payments -- [--url http://127.0.0.1:3000] [--outbox .data/outbox]
 *
 * The payments walk a new user takes, against a running server (a fresh
 * `npm start`: the local payment provider, emails written to the outbox
 * folder): register and sign in, find a free listing and book it, pay with
 * Stripe's test card pm_card_visa and receive the receipt by email, retry the
 * payment with the same Idempotency-Key and see it replayed (one payment), be
 * declined with pm_card_chargeDeclined on another stay (it stays pending, the
 * failed attempt is kept), cancel the paid stay and watch the refund its
 * listing's policy allows go through and be announced by email. Each step
 * prints what was sent and what came back, checked against the contract; exits
 * 1 on any mismatch.
 *
 * Re-runnable: each run is a new user on dates picked at run time, and it
 * cancels both stays it made. test/payments-walk.test.ts runs the same walk.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { createClient, createConfig } from '../generated/client/client/index.js';
import * as api from '../generated/client/sdk.gen.js';
import type { Booking, Payment, Problem } from '../generated/client/types.gen.js';
import { paymentStatusAfterRefund } from '../handlers/bookings/rules.js';
import { utcToday } from '../server/dates.js';
import { formatMoney } from '../server/mail.js';
import {
  expectedRefund,
  findFreeStay,
  isEntryPoint,
  need,
  poll,
  printPrice,
  problemOf,
  registerAndSignIn,
  reporter,
  runWalk,
  waitForEmail,
  type NewUser,
} from './walk-support.js';

export interface PaymentsWalk {
  mismatches: number;
  guest: NewUser;
  /** Paid, then cancelled and refunded. */
  paid: { booking: Booking; payment: Payment; refund: number };
  /** Declined, then cancelled unpaid. */
  declined: { booking: Booking; payment: Payment };
}

/** How long a background job (an email, a refund) may take before the walk calls it missing. */
const JOB_WAIT_MS = 15_000;

export async function walkPayments(url: string, outboxDir: string, print: (line: string) => void = console.log): Promise<PaymentsWalk> {
  const client = createClient(createConfig({ baseUrl: url.replace(/\/$/, '') }));
  const report = reporter(print);
  const { check, say, step } = report;
  const today = utcToday();
  print(`Payments walk against ${url}, reading emails from ${path.resolve(outboxDir)}`);

  step(1, 'Register as a new guest, sign in, find a free listing and book it');
  const guest = await registerAndSignIn(client, 'Paula Payer', 'walk-payments');
  say(`POST /users and POST /auth/login: ${guest.name} <${guest.email}> is signed in`);
  const free = await findFreeStay(client, { today, nights: 3, guests: 2 });
  say(`${free.searched}: "${free.listing.name}" (${free.listing.city}) is free, policy ${free.listing.cancellation_policy}`);
  const booked = await api.createBooking({ client, auth: guest.token, body: { property_id: free.listing.id, check_in: free.check_in, check_out: free.check_out, guests: 2 } });
  const stay = need(booked.data, 'booking', booked);
  say(`POST /bookings: ${booked.response.status} ${stay.status}, ${stay.check_in} to ${stay.check_out}, held until ${stay.expires_at}`);
  check(booked.response.status === 201 && stay.status === 'pending', '201, a pending booking');
  printPrice(report, stay);

  step(2, 'Pay it with pm_card_visa (POST /payments with a fresh Idempotency-Key)');
  const key = randomUUID();
  const payBody = { booking_id: stay.id, payment_method: 'pm_card_visa' };
  const paid = await api.createPayment({ client, auth: guest.token, headers: { 'Idempotency-Key': key }, body: payBody });
  const payment = need(paid.data, 'paying', paid);
  say(`Idempotency-Key ${key}: ${paid.response.status} ${payment.status}, ${formatMoney(payment.amount, payment.currency)} (${payment.provider} ${payment.provider_reference})`);
  check(paid.response.status === 201 && payment.status === 'succeeded', '201 succeeded');
  check(payment.amount === stay.price.total && payment.currency === stay.price.currency, `the amount is the booking's total, ${formatMoney(stay.price.total, stay.price.currency)}`);
  check(payment.booking_id === stay.id && payment.payer_id === guest.id, 'for this booking, paid by this guest');
  check(paid.response.headers.get('Location') === `/payments/${payment.id}`, `Location: /payments/${payment.id}`);
  const confirmed = need((await api.getBooking({ client, auth: guest.token, path: { booking_id: stay.id } })).data, 'reading the booking');
  check(confirmed.status === 'confirmed', `GET /bookings/${stay.id}: ${confirmed.status}`);
  const receipt = await waitForEmail(outboxDir, 'payment_receipt', stay.id, JOB_WAIT_MS);
  if (receipt) say(`${receipt.file}: to ${receipt.to}, "${receipt.subject}"`);
  check(!!receipt && receipt.to === guest.email && receipt.text.includes(formatMoney(payment.amount, payment.currency)), receipt
    ? `a receipt for ${formatMoney(payment.amount, payment.currency)} to ${guest.email}, naming booking ${stay.id}`
    : `no payment_receipt email naming booking ${stay.id} in ${outboxDir} within ${JOB_WAIT_MS / 1000} s (does the server write emails there: MAIL_OUTBOX_DIR, no SMTP_URL?)`);

  step(3, 'Retry the same request with the same Idempotency-Key, as a client does after a lost response');
  const retried = await api.createPayment({ client, auth: guest.token, headers: { 'Idempotency-Key': key }, body: payBody });
  const replayed = retried.response.headers.get('Idempotent-Replayed');
  say(`${retried.response.status} ${retried.data?.status ?? problemOf(retried)}, payment ${retried.data?.id}, Idempotent-Replayed: ${replayed}`);
  check(retried.response.status === 201 && replayed === 'true', '201, replayed');
  check(isDeepStrictEqual(retried.data, payment), 'the same payment, as first answered');
  const afterRetry = need((await api.listPayments({ client, auth: guest.token, query: { booking_id: stay.id } })).data, 'listing payments').data;
  check(afterRetry.length === 1 && afterRetry[0]?.id === payment.id, `GET /payments?booking_id=${stay.id}: ${afterRetry.length} payment (charged once)`);

  step(4, 'Book another stay and pay with pm_card_chargeDeclined');
  const other = await findFreeStay(client, { today, nights: 2, guests: 1 });
  const second = await api.createBooking({ client, auth: guest.token, body: { property_id: other.listing.id, check_in: other.check_in, check_out: other.check_out, guests: 1 } });
  const unpaid = need(second.data, 'booking another stay', second);
  say(`POST /bookings: ${second.response.status} ${unpaid.status}, "${other.listing.name}", ${unpaid.check_in} to ${unpaid.check_out}, total ${formatMoney(unpaid.price.total, unpaid.price.currency)}`);
  const declinedCall = await api.createPayment({ client, auth: guest.token, headers: { 'Idempotency-Key': randomUUID() }, body: { booking_id: unpaid.id, payment_method: 'pm_card_chargeDeclined' } });
  const problem = declinedCall.error as Problem | undefined;
  say(`POST /payments: ${problemOf(declinedCall)}`);
  check(declinedCall.response.status === 402 && problem?.code === 'card_declined', '402 card_declined');
  check(declinedCall.response.headers.get('content-type')?.startsWith('application/problem+json') === true, 'as problem details (application/problem+json)');
  const stillPending = need((await api.getBooking({ client, auth: guest.token, path: { booking_id: unpaid.id } })).data, 'reading the booking');
  check(stillPending.status === 'pending', `GET /bookings/${unpaid.id}: still ${stillPending.status}`);
  const attempts = need((await api.listPayments({ client, auth: guest.token, query: { booking_id: unpaid.id } })).data, 'listing payments').data;
  const failed = attempts[0];
  if (failed) say(`GET /payments?booking_id=${unpaid.id}: ${failed.status}, failure_code ${failed.failure_code}: ${failed.failure_message}`);
  check(attempts.length === 1 && failed?.status === 'failed' && !!failed.failure_code, 'one failed attempt, kept with its failure_code');
  check(!!failed && !!problem?.detail?.includes(failed.id) && problem.detail.includes(`${failed.failure_code}`), "the problem's detail names that payment and its reason");

  step(5, 'Cancel the paid stay and see the refund its listing\'s policy allows');
  const expected = expectedRefund(confirmed, free.listing.cancellation_policy, today);
  const cancelled = await api.cancelBooking({ client, auth: guest.token, path: { booking_id: stay.id }, body: { reason: 'Plans changed' } });
  const result = need(cancelled.data, 'cancelling', cancelled);
  say(`POST /bookings/${stay.id}/cancel: ${cancelled.response.status} ${result.status}; refund ${result.refund ? `${formatMoney(result.refund.amount, result.refund.currency)} (${result.refund.status})` : 'none'}`);
  check(result.status === 'cancelled' && result.refund?.amount === expected.amount, `as the policy says (${expected.why}): ${formatMoney(expected.amount, stay.price.currency)}`);
  check(result.refund?.status === 'pending', 'the refund is pending at first: a job sends it to the provider');
  const settled = await poll(async () => {
    const { data } = await api.getBooking({ client, auth: guest.token, path: { booking_id: stay.id } });
    return data?.refund && data.refund.status !== 'pending' ? data : undefined;
  }, JOB_WAIT_MS);
  check(settled?.refund?.status === 'succeeded', `GET /bookings/${stay.id} (polled): refund ${settled?.refund?.status ?? `still pending after ${JOB_WAIT_MS / 1000} s`}`);
  const refundedPayment = need((await api.getPayment({ client, auth: guest.token, path: { payment_id: payment.id } })).data, 'reading the payment');
  const status = paymentStatusAfterRefund(payment, expected.amount);
  say(`GET /payments/${payment.id}: ${refundedPayment.status}, refunded_amount ${formatMoney(refundedPayment.refunded_amount, refundedPayment.currency)} of ${formatMoney(refundedPayment.amount, refundedPayment.currency)}`);
  check(refundedPayment.refunded_amount === expected.amount && refundedPayment.status === status, `${status}, refunded_amount ${formatMoney(expected.amount, payment.currency)}`);
  const refund = refundedPayment.refunds[0];
  check(refundedPayment.refunds.length === 1 && refund?.status === 'succeeded' && refund.reason === 'cancellation' && refund.amount === expected.amount, `one refund, succeeded, reason cancellation (${refund?.provider_reference})`);
  const refundEmail = await waitForEmail(outboxDir, 'refund_issued', stay.id, JOB_WAIT_MS);
  if (refundEmail) say(`${refundEmail.file}: to ${refundEmail.to}, "${refundEmail.subject}"`);
  check(!!refundEmail && refundEmail.to === guest.email && refundEmail.text.includes(formatMoney(expected.amount, payment.currency)), refundEmail
    ? `a refund_issued email for ${formatMoney(expected.amount, payment.currency)}, naming booking ${stay.id}`
    : `no refund_issued email naming booking ${stay.id} in ${outboxDir} within ${JOB_WAIT_MS / 1000} s`);

  step(6, 'Tidy up: cancel the unpaid stay, so its nights are free again');
  const tidied = await api.cancelBooking({ client, auth: guest.token, path: { booking_id: unpaid.id } });
  say(`POST /bookings/${unpaid.id}/cancel: ${tidied.response.status} ${tidied.data?.status ?? problemOf(tidied)}; refund ${tidied.data?.refund ? formatMoney(tidied.data.refund.amount, tidied.data.refund.currency) : 'none'}`);
  check(tidied.data?.status === 'cancelled' && tidied.data.refund === null, 'cancelled, and nothing to refund: the card was declined');
  const mine = need((await api.listPayments({ client, auth: guest.token })).data, 'listing payments').data;
  say(`GET /payments: ${mine.map((p) => `${p.payment_method} ${p.status}`).join(', ')}`);
  check(mine.length === 2, "the guest's two payments, the refunded one and the declined one");

  print(report.mismatches === 0 ? '\nDone: every step answered as the contract says.' : `\n${report.mismatches} check(s) did not answer as the contract says.`);
  return {
    mismatches: report.mismatches,
    guest,
    paid: { booking: stay, payment, refund: expected.amount },
    declined: { booking: unpaid, payment: need(failed, 'the declined payment') },
  };
}

if (isEntryPoint(import.meta.url)) {
  const { values: args } = parseArgs({
    options: { url: { type: 'string', default: 'http://127.0.0.1:3000' }, outbox: { type: 'string', default: '.data/outbox' } },
  });
  runWalk(args.url, () => walkPayments(args.url, args.outbox));
}

