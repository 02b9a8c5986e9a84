/**
 * createPayment as the tests send it, and the check of a request raced with
 * itself, shared by the tests of both providers (payments.test.ts for the local
 * one, payments-stripe.test.ts for Stripe's SDK).
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import * as api from '../../generated/client/sdk.gen.js';
import type { Client } from '../../generated/client/client/index.js';
import type { Payment } from '../../generated/client/types.gen.js';

/** createPayment as the booking's guest, answered as the client sees it (refusals included); a new Idempotency-Key unless one is given. */
export function createPaymentAs(client: Client, guest: { token: string }, bookingId: string, paymentMethod = 'pm_card_visa', key: string = randomUUID()) {
  return api.createPayment({
    client,
    auth: guest.token,
    headers: { 'Idempotency-Key': key },
    body: { booking_id: bookingId, payment_method: paymentMethod },
  });
}

/** Answers to one request sent several times at once with one key: all 201 with the same payment, all but the first replayed. Returns that payment. */
export function expectOnePaymentReplayed(results: { data?: Payment; response: Response }[]): Payment {
  expect(results.map((result) => result.response.status)).toEqual(results.map(() => 201));
  expect(new Set(results.map((result) => result.data!.id)).size).toBe(1);
  expect(results.filter((result) => result.response.headers.get('idempotent-replayed') === 'true')).toHaveLength(results.length - 1);
  return results[0]!.data!;
}
