/**
 * The `stripe` provider: PaymentIntents and Refunds through Stripe's own SDK,
 * and webhook signatures checked by the SDK. Every call that moves money carries
 * an idempotency key, so the SDK's own retries and ours never move it twice.
 */
import Stripe from 'stripe';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import type { ChargeRequest, PaymentProvider, ProviderEvent, ProviderOutcome, RefundRequest, SettledOutcome } from './provider.js';

export interface StripeOptions {
  secretKey: string;
  webhookSecret: string;
  /** Where the API is (tests point it at a local server that answers like Stripe); default api.stripe.com. */
  apiBase?: URL | undefined;
  timeoutMs?: number;
  maxNetworkRetries?: number;
  /** WEBHOOK_TOLERANCE_SECONDS unless set. */
  toleranceSeconds?: number | undefined;
}

/** How far a signed event's timestamp may be from now, either way, by default (Stripe's own default). */
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

    parseEvent: (rawBody, signature) => parseStripeEvent(rawBody, signature, options.webhookSecret, options.toleranceSeconds),
  };
}

// The shape of the events we read. The signature proves who sent an event, not
// that its payload is well formed (a sender can have a bug, and the local
// provider's secret may be known): every field we use is checked here, so that a
// malformed event is a 400 and never reaches a query (a NUL in a text column, a
// missing object) as a 500. Unknown fields are kept, as Stripe adds them freely.

/** Text as PostgreSQL can store it: bounded, no NUL. */
const safeText = (max: number) => z.string().max(max).refine((value) => !value.includes('\0'), 'must not contain NUL');
/** A provider object's id (pi_..., re_..., evt_...). */
const providerId = z.string().regex(/^[A-Za-z0-9_]{1,255}$/, 'must be a provider id (letters, digits and _, at most 255)');
// Amounts are PostgreSQL integers here (int4): a larger one cannot be one of ours.
const minorAmount = z.number().int().min(0).max(2_147_483_647);
const currencyCode = z.string().regex(/^[A-Za-z]{3}$/, 'must be an ISO 4217 code');
const metadataSchema = z.record(safeText(40), safeText(500)).nullish();

const envelopeSchema = z.looseObject({
  id: providerId,
  type: z.string().regex(/^[a-z0-9_.]{1,100}$/, 'must be an event type such as payment_intent.succeeded'),
  created: z.number().int().min(0),
  data: z.looseObject({ object: z.looseObject({}) }),
});

const intentSchema = z.looseObject({
  id: providerId,
  amount: minorAmount.optional(),
  amount_received: minorAmount.nullish(),
  currency: currencyCode.optional(),
  status: safeText(64),
  metadata: metadataSchema,
  payment_method: z.union([safeText(255), z.looseObject({ id: safeText(255) })]).nullish(),
  last_payment_error: z
    .looseObject({ code: safeText(255).nullish(), decline_code: safeText(255).nullish(), message: safeText(5000).nullish() })
    .nullish(),
});

/** A success moves money: what was taken must be stated, as settling compares it with the booking's total. */
const succeededIntentSchema = intentSchema.required({ amount: true, currency: true });

const refundSchema = z.looseObject({
  id: providerId,
  amount: minorAmount.optional(),
  currency: currencyCode.optional(),
  status: safeText(64).nullish(),
  failure_reason: safeText(255).nullish(),
  metadata: metadataSchema,
});

type Intent = z.infer<typeof intentSchema>;

/** Most field errors one refused event reports (the Problem's `errors` is bounded). */
const MAX_SHAPE_ERRORS = 10;

/** `schema` parsed from `value`, or ApiError validation_failed naming the bad fields under `body.<at>`. */
function parseShape<T>(schema: z.ZodType<T>, value: unknown, at: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ApiError(
    'validation_failed',
    'The event is signed, but its payload does not have the shape of a provider event.',
    result.error.issues.slice(0, MAX_SHAPE_ERRORS).map((issue) => ({
      path: ['body', ...(at ? [at] : []), ...issue.path.map(String)].join('.'),
      message: issue.message,
    })),
  );
}

function badSignature(reason: string): ApiError {
  return new ApiError('validation_failed', 'The webhook signature does not match the payload, or its timestamp is outside the tolerance.', [
    { path: 'header.stripe-signature', message: reason.split('\n')[0] ?? 'does not match' },
  ]);
}

/**
 * A Stripe webhook event in our terms. The signature (HMAC-SHA256 of
 * `timestamp.body` with the endpoint secret) is checked by the SDK, which
 * refuses a timestamp older than the tolerance; one further ahead than the
 * tolerance (which the SDK accepts) is refused here, so a signed event cannot be
 * kept for later. The local provider signs its events the same way and reads
 * them here too.
 */
export function parseStripeEvent(rawBody: string, signature: string, secret: string, toleranceSeconds = WEBHOOK_TOLERANCE_SECONDS): ProviderEvent {
  let parsed: unknown;
  try {
    parsed = Stripe.webhooks.constructEvent(rawBody, signature, secret, toleranceSeconds);
  } catch (err) {
    throw badSignature(err instanceof Stripe.errors.StripeSignatureVerificationError ? err.message : 'The body is not a provider event.');
  }
  const timestamp = Number(/(?:^|,)\s*t=(\d{1,12})(?:,|$)/.exec(signature)?.[1]);
  if (!(timestamp <= Math.floor(Date.now() / 1000) + toleranceSeconds)) {
    throw badSignature(`Timestamp is more than ${toleranceSeconds} seconds in the future.`);
  }
  const event = parseShape(envelopeSchema, parsed, '');
  const header = { id: event.id, type: event.type, created: event.created };
  if (INTENT_OUTCOME_EVENTS.has(event.type)) {
    const shape = parseShape(intentSchema, event.data.object, 'data.object');
    const intent = shape.status === 'succeeded' ? parseShape(succeededIntentSchema, event.data.object, 'data.object') : shape;
    const metadata = intent.metadata ?? {};
    return {
      ...header,
      about: 'charge',
      reference: intent.id,
      outcome: intentOutcome(intent) as SettledOutcome,
      paymentId: ourId(metadata.payment_id),
      recovery: chargeToRecover(intent, metadata),
    };
  }
  if (event.type.startsWith('refund.') || event.type === 'charge.refund.updated') {
    const refund = parseShape(refundSchema, event.data.object, 'data.object');
    return { ...header, about: 'refund', reference: refund.id, outcome: refundOutcome(refund), refundId: ourId((refund.metadata ?? {}).refund_id) };
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
function chargeToRecover(intent: Intent, metadata: Record<string, unknown>) {
  const paymentId = ourId(metadata.payment_id);
  const bookingId = ourId(metadata.booking_id);
  const payerId = ourId(metadata.payer_id);
  const { amount } = intent;
  const currency = text(intent.currency);
  if (!paymentId || !bookingId || !payerId) return undefined;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0 || !currency) return undefined;
  const method = (typeof intent.payment_method === 'string' ? intent.payment_method : intent.payment_method?.id) ?? '';
  return { paymentId, bookingId, payerId, amount, currency: currency.toUpperCase(), paymentMethod: /^[A-Za-z0-9_]{1,255}$/.test(method) ? method : 'unknown' };
}

/** The one mapping of a PaymentIntent's status to our outcome: the charge's answer, a lookup, and the events. */
/** What intentOutcome reads of a PaymentIntent: the SDK's answer or an event's checked object. */
interface IntentLike {
  id: string;
  status: string;
  amount?: number | undefined;
  currency?: string | undefined;
  amount_received?: number | null | undefined;
  last_payment_error?: { code?: string | null | undefined; decline_code?: string | null | undefined; message?: string | null | undefined } | null | undefined;
}

function intentOutcome(intent: IntentLike): ProviderOutcome {
  switch (intent.status) {
    case 'succeeded':
      // What was taken: amount_received where Stripe says it, else the intent's amount (events always state them).
      return {
        status: 'succeeded',
        reference: intent.id,
        received: intent.amount !== undefined && intent.currency !== undefined
          ? { amount: intent.amount_received ?? intent.amount, currency: intent.currency.toUpperCase() }
          : undefined,
      };
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
function refundOutcome(refund: Pick<Stripe.Refund, 'id'> & { status?: string | null | undefined; failure_reason?: string | null | undefined }): SettledOutcome {
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
