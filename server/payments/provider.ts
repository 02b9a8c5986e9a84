/**
 * The seam between our payments and whoever moves the money. Two providers
 * implement it: `stripe` (the real Stripe SDK) and `local`, an offline stand-in
 * that answers like Stripe's test mode. Handlers and jobs see only this
 * interface, so everything above it runs the same code in development, tests
 * and production.
 */
export type ProviderName = 'stripe' | 'local';

/** What a charge or a refund came to. `unknown`: the call failed without an answer (a timeout); ask again with the same idempotency key. */
export type ProviderOutcome =
  | { status: 'succeeded'; reference: string }
  | { status: 'pending'; reference: string }
  | { status: 'failed'; reference: string | null; failureCode: string; failureMessage: string }
  | { status: 'unknown'; error: string };

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

/** A provider event as the webhook applies it, whatever provider sent it. */
export interface ProviderEvent {
  id: string;
  type: string;
  /** Unix seconds. */
  created: number;
  object: Record<string, unknown>;
}

export interface PaymentProvider {
  readonly name: ProviderName;
  /** Creates and confirms a charge. Throws ApiError `payment_method_invalid` for a method the provider does not know. */
  charge(request: ChargeRequest): Promise<ProviderOutcome>;
  refund(request: RefundRequest): Promise<ProviderOutcome>;
  /** The current state of a charge we have the provider's id of (for a follow-up when no event came). */
  lookupCharge(reference: string): Promise<ProviderOutcome>;
  /** Verifies the signature over the raw body and parses the event; throws ApiError `validation_failed` when it does not hold. */
  verifyEvent(rawBody: string, signature: string): ProviderEvent;
}
