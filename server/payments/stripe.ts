/**
 * The `stripe` provider: PaymentIntents and Refunds through Stripe's own SDK,
 * and webhook signatures checked by the SDK. Every call that moves money carries
 * an idempotency key, so the SDK's own retries and ours never move it twice.
 */
import Stripe from 'stripe';
import { ApiError } from '../errors.js';
import type { ChargeRequest, PaymentProvider, ProviderEvent, ProviderOutcome, RefundRequest, SettledOutcome } from './provider.js';

export interface StripeOptions {
  secretKey: string;
  webhookSecret: string;
  /** Where the API is (tests point it at a local server that answers like Stripe); default api.stripe.com. */
  apiBase?: URL | undefined;
  timeoutMs?: number;
  maxNetworkRetries?: number;
}

/** How old a signed event may be before it is refused as a replay. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

export function stripeProvider(options: StripeOptions): PaymentProvider {
  const stripe = new Stripe(options.secretKey, {
    timeout: options.timeoutMs ?? 20_000,
    maxNetworkRetries: options.maxNetworkRetries ?? 2,
    telemetry: false,
    ...(options.apiBase
      ? {
          host: options.apiBase.hostname,
          port: options.apiBase.port || (options.apiBase.protocol === 'http:' ? 80 : 443),
          protocol: options.apiBase.protocol === 'http:' ? ('http' as const) : ('https' as const),
        }
      : {}),
  });

  return {
    name: 'stripe',

    async charge(request: ChargeRequest): Promise<ProviderOutcome> {
      try {
        const intent = await stripe.paymentIntents.create(
          {
            amount: request.amount,
            currency: request.currency.toLowerCase(),
            payment_method: request.paymentMethod,
            // Confirmed at once and never redirected: this API has no page to send a guest back to.
            automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
            confirm: true,
            metadata: request.metadata,
          },
          { idempotencyKey: request.idempotencyKey },
        );
        return intentOutcome(intent);
      } catch (err) {
        return failedCall(err, 'charge');
      }
    },

    async refund(request: RefundRequest): Promise<ProviderOutcome> {
      try {
        const refund = await stripe.refunds.create(
          { payment_intent: request.paymentReference, amount: request.amount, metadata: request.metadata },
          { idempotencyKey: request.idempotencyKey },
        );
        return refundOutcome(refund);
      } catch (err) {
        return failedCall(err, 'refund');
      }
    },

    async lookupCharge(reference: string): Promise<ProviderOutcome> {
      try {
        return intentOutcome(await stripe.paymentIntents.retrieve(reference));
      } catch (err) {
        if (err instanceof Stripe.errors.StripeError && !(err instanceof Stripe.errors.StripeAuthenticationError)) {
          return { status: 'unknown', error: err.message };
        }
        throw err;
      }
    },

    parseEvent: (rawBody, signature) => parseStripeEvent(rawBody, signature, options.webhookSecret),
  };
}

/**
 * A Stripe webhook event in our terms. The signature (HMAC-SHA256 of
 * `timestamp.body` with the endpoint secret) is checked by the SDK; the local
 * provider signs its events the same way and reads them here too.
 */
export function parseStripeEvent(rawBody: string, signature: string, secret: string): ProviderEvent {
  let event: Stripe.Event;
  try {
    event = Stripe.webhooks.constructEvent(rawBody, signature, secret, WEBHOOK_TOLERANCE_SECONDS);
  } catch (err) {
    const reason = err instanceof Stripe.errors.StripeSignatureVerificationError ? err.message : 'The body is not a provider event.';
    throw new ApiError('validation_failed', 'The webhook signature does not match the payload, or it is too old.', [
      { path: 'header.stripe-signature', message: reason.split('\n')[0] ?? 'does not match' },
    ]);
  }
  const header = { id: event.id, type: event.type, created: event.created };
  const object = event.data.object as unknown as Record<string, unknown>;
  const reference = text(object.id);
  const metadata = (object.metadata ?? {}) as Record<string, unknown>;
  if (INTENT_OUTCOME_EVENTS.has(event.type) && reference) {
    const intent = object as unknown as Stripe.PaymentIntent;
    return {
      ...header,
      about: 'charge',
      reference,
      outcome: intentOutcome(intent) as SettledOutcome,
      paymentId: ourId(metadata.payment_id),
      recovery: chargeToRecover(intent, metadata),
    };
  }
  if ((event.type.startsWith('refund.') || event.type === 'charge.refund.updated') && reference) {
    return { ...header, about: 'refund', reference, outcome: refundOutcome(object as unknown as Stripe.Refund), refundId: ourId(metadata.refund_id) };
  }
  return { ...header, about: 'other' };
}

/** The PaymentIntent events that report an outcome; others (created, requires_action, ...) change nothing. */
const INTENT_OUTCOME_EVENTS = new Set(['payment_intent.succeeded', 'payment_intent.processing', 'payment_intent.payment_failed', 'payment_intent.canceled']);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
/** The metadata may be another integration's on the same Stripe account: only a UUID can be one of our ids. */
const ourId = (value: unknown): string | undefined => {
  const id = text(value);
  return id && UUID.test(id) ? id : undefined;
};

/** What records a charge we have no row of, when the PaymentIntent carries all of it (our metadata, a whole positive amount). */
function chargeToRecover(intent: Stripe.PaymentIntent, metadata: Record<string, unknown>) {
  const paymentId = ourId(metadata.payment_id);
  const bookingId = ourId(metadata.booking_id);
  const payerId = ourId(metadata.payer_id);
  const { amount } = intent;
  const currency = text(intent.currency);
  if (!paymentId || !bookingId || !payerId) return undefined;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0 || !currency) return undefined;
  const method = text(intent.payment_method) ?? '';
  return { paymentId, bookingId, payerId, amount, currency: currency.toUpperCase(), paymentMethod: /^[A-Za-z0-9_]{1,255}$/.test(method) ? method : 'unknown' };
}

/** The one mapping of a PaymentIntent's status to our outcome: the charge's answer, a lookup, and the events. */
function intentOutcome(intent: Stripe.PaymentIntent): ProviderOutcome {
  switch (intent.status) {
    case 'succeeded':
      return { status: 'succeeded', reference: intent.id };
    case 'processing':
      return { status: 'pending', reference: intent.id };
    case 'requires_action':
      // 3-D Secure needs the guest in a browser, which this API cannot offer.
      return { status: 'failed', reference: intent.id, failureCode: 'authentication_required', failureMessage: 'The card requires authentication.' };
    case 'canceled':
    case 'requires_payment_method': {
      // What payment_intent.canceled and payment_intent.payment_failed carry; Stripe explains in last_payment_error.
      const error = intent.last_payment_error;
      const canceled = intent.status === 'canceled';
      return {
        status: 'failed',
        reference: intent.id,
        failureCode: error?.decline_code ?? error?.code ?? (canceled ? 'canceled' : 'payment_failed'),
        failureMessage: error?.message ?? `The provider reports the payment ${canceled ? 'canceled' : 'failed'}.`,
      };
    }
    default: {
      const error = intent.last_payment_error;
      return {
        status: 'failed',
        reference: intent.id,
        failureCode: error?.decline_code ?? error?.code ?? 'payment_failed',
        failureMessage: error?.message ?? `The payment is ${intent.status}.`,
      };
    }
  }
}

/** The one mapping of a Refund's status to our outcome: the refund's answer and the events. */
function refundOutcome(refund: Stripe.Refund): SettledOutcome {
  if (refund.status === 'succeeded') return { status: 'succeeded', reference: refund.id };
  if (refund.status === 'failed' || refund.status === 'canceled') {
    return { status: 'failed', reference: refund.id, failureCode: refund.failure_reason ?? 'refund_failed', failureMessage: `The provider reports the refund ${refund.status}.` };
  }
  return { status: 'pending', reference: refund.id };
}

/**
 * A declined card is an answer; so is a refund Stripe refuses. A timeout, a
 * connection error or a 5xx is not: the outcome is unknown and the caller asks
 * again with the same key. A payment method Stripe does not know is the client's
 * mistake; anything else (a bad API key) is ours and is thrown.
 */
function failedCall(err: unknown, call: 'charge' | 'refund'): ProviderOutcome {
  const errors = Stripe.errors;
  if (err instanceof errors.StripeCardError) {
    return {
      status: 'failed',
      reference: err.payment_intent?.id ?? null,
      failureCode: err.decline_code ?? err.code ?? 'card_declined',
      failureMessage: err.message,
    };
  }
  if (err instanceof errors.StripeConnectionError || err instanceof errors.StripeAPIError || err instanceof errors.StripeRateLimitError) {
    return { status: 'unknown', error: err.message };
  }
  if (err instanceof errors.StripeIdempotencyError) {
    // Our keys are derived from the request, so this means another system used one of them.
    throw new ApiError('idempotency_key_reused', 'The payment provider saw this Idempotency-Key with another request; use a new key.');
  }
  if (err instanceof errors.StripeInvalidRequestError && call === 'charge' && err.param === 'payment_method') {
    throw new ApiError('payment_method_invalid', 'The payment provider does not know that payment method.');
  }
  if (err instanceof errors.StripeInvalidRequestError && call === 'refund') {
    return { status: 'failed', reference: null, failureCode: err.code ?? 'refund_refused', failureMessage: err.message };
  }
  throw err;
}
