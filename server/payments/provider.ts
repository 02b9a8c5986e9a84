/**
 * The seam between our payments and whoever moves the money. Two providers
 * implement it: `stripe` (the real Stripe SDK) and `local`, an offline stand-in
 * that answers like Stripe's test mode. Handlers and jobs see only this
 * interface, so everything above it runs the same code in development, tests
 * and production.
 */
import type { Payments } from '../../generated/db.js';

/** The providers the payments table knows (its CHECK constraint, through generated/db.ts). */
export type ProviderName = Payments['provider'];

/** What a charge or a refund came to. `unknown`: the call failed without an answer (a timeout); ask again with the same idempotency key. */
export type ProviderOutcome =
  /** `received`: what the provider says it took (a charge's amount and currency); settling compares it with the booking's total. */
  | { status: 'succeeded'; reference: string; received?: Received | undefined }
  | { status: 'pending'; reference: string }
  | { status: 'failed'; reference: string | null; failureCode: string; failureMessage: string }
  | { status: 'unknown'; error: string };

/** An amount in a currency's minor unit, and the ISO 4217 code of that currency (upper case). */
export interface Received {
  amount: number;
  currency: string;
}

export interface ChargeRequest {
  amount: number;
  currency: string;
  paymentMethod: string;
  idempotencyKey: string;
  /** Our ids, stored with the provider's object and sent back in its events. */
  metadata: { payment_id: string; booking_id: string; payer_id: string };
}

export interface RefundRequest {
  /** The charge to refund: the payment's provider reference. */
  paymentReference: string;
  /** The method that paid; Stripe ignores it, the local provider decides by it as Stripe's test cards do. */
  paymentMethod: string;
  amount: number;
  idempotencyKey: string;
  metadata: { refund_id: string; payment_id: string };
}

/** A definite answer about a charge or a refund (an event always brings one). */
export type SettledOutcome = Exclude<ProviderOutcome, { status: 'unknown' }>;

/**
 * A verified provider event in our terms, whatever provider sent it. `id`,
 * `type` and `created` are kept as the provider gave them (the payment_events
 * record); what it means is one of:
 * - `charge`: the outcome of a charge, with our ids from its metadata where they
 *   can be ours, and, when the charge carries everything needed, what records it
 *   should no payment row exist (a createPayment that died after the provider
 *   took the money);
 * - `refund`: the outcome of a refund, with our refund's id where it can be ours;
 * - `other`: nothing we act on.
 */
export type ProviderEvent = { id: string; type: string; /** Unix seconds. */ created: number } & (
  | {
      about: 'charge';
      reference: string;
      outcome: SettledOutcome;
      paymentId: string | undefined;
      recovery: { paymentId: string; bookingId: string; payerId: string; amount: number; currency: string; paymentMethod: string } | undefined;
    }
  | { about: 'refund'; reference: string; outcome: SettledOutcome; refundId: string | undefined }
  | { about: 'other' }
);

export interface PaymentProvider {
  readonly name: ProviderName;
  /** Creates and confirms a charge. Throws ApiError `payment_method_invalid` for a method the provider does not know. */
  charge(request: ChargeRequest): Promise<ProviderOutcome>;
  refund(request: RefundRequest): Promise<ProviderOutcome>;
  /** The current state of a charge we have the provider's id of (for a follow-up when no event came). */
  lookupCharge(reference: string): Promise<ProviderOutcome>;
  /**
   * Verifies the signature over the raw body and its timestamp (within the
   * tolerance, past or future), then reads the event against its schema in our
   * terms; throws ApiError `validation_failed` when the signature or the
   * timestamp does not hold or the payload does not have the event's shape.
   */
  parseEvent(rawBody: string, signature: string): ProviderEvent;
}
