/**
 * The `local` provider: no account, no network. It answers like Stripe's test
 * mode for Stripe's documented test payment methods, so the embedded default can
 * be tried end to end (pay, be declined, cancel and be refunded). Its events are
 * signed and checked with Stripe's scheme, so the webhook can be exercised too.
 * Never for real money: production refuses to start on it unless told to.
 */
import { randomBytes } from 'node:crypto';
import { ApiError } from '../errors.js';
import type { ChargeRequest, PaymentProvider, ProviderOutcome, RefundRequest } from './provider.js';
import { parseStripeEvent } from './stripe.js';

/** The webhook secret of a deployment that set none; public, like everything about the local provider. */
export const LOCAL_WEBHOOK_SECRET = 'whsec_local_development_only';

const succeeding = new Set(['pm_card_visa', 'pm_card_visa_debit', 'pm_card_mastercard', 'pm_card_amex', 'pm_card_discover', 'pm_card_jcb', 'pm_card_unionpay', 'pm_card_refundFail']);

/** Stripe's test payment methods that are declined, with the decline code Stripe reports. */
const declines: Record<string, { code: string; message: string }> = {
  pm_card_chargeDeclined: { code: 'generic_decline', message: 'Your card was declined.' },
  pm_card_chargeDeclinedInsufficientFunds: { code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  pm_card_chargeDeclinedLostCard: { code: 'lost_card', message: 'Your card was declined.' },
  pm_card_chargeDeclinedStolenCard: { code: 'stolen_card', message: 'Your card was declined.' },
  pm_card_chargeDeclinedExpiredCard: { code: 'expired_card', message: 'Your card has expired.' },
  pm_card_chargeDeclinedIncorrectCvc: { code: 'incorrect_cvc', message: "Your card's security code is incorrect." },
  pm_card_chargeDeclinedProcessingError: { code: 'processing_error', message: 'An error occurred while processing your card. Try again in a little bit.' },
  pm_card_authenticationRequired: { code: 'authentication_required', message: 'The card requires authentication.' },
};

/** Remembered answers by idempotency key, as Stripe keeps them (bounded: the oldest are forgotten first). */
const MAX_REMEMBERED = 10_000;

export function localProvider(options: { webhookSecret: string; toleranceSeconds?: number }): PaymentProvider {
  const answers = new Map<string, ProviderOutcome>();

  function once(key: string, answer: () => ProviderOutcome): ProviderOutcome {
    const known = answers.get(key);
    if (known) return known;
    const outcome = answer();
    answers.set(key, outcome);
    if (answers.size > MAX_REMEMBERED) answers.delete(answers.keys().next().value as string);
    return outcome;
  }

  return {
    name: 'local',

    async charge(request: ChargeRequest) {
      const method = request.paymentMethod;
      if (!succeeding.has(method) && !(method in declines)) {
        throw new ApiError('payment_method_invalid', `No such payment method: '${method}'. The local provider knows Stripe's test methods, e.g. pm_card_visa.`);
      }
      return once(`charge:${request.idempotencyKey}`, () => {
        const reference = `pi_local_${randomBytes(12).toString('hex')}`;
        const decline = declines[method];
        return decline
          ? { status: 'failed', reference, failureCode: decline.code, failureMessage: decline.message }
          : { status: 'succeeded', reference, received: { amount: request.amount, currency: request.currency.toUpperCase() } };
      });
    },

    async refund(request: RefundRequest) {
      return once(`refund:${request.idempotencyKey}`, () => {
        const reference = `re_local_${randomBytes(12).toString('hex')}`;
        // Stripe's pm_card_refundFail pays, and every refund of it fails.
        if (request.paymentMethod === 'pm_card_refundFail') {
          return { status: 'failed', reference, failureCode: 'declined', failureMessage: 'The card refused the refund.' };
        }
        return { status: 'succeeded', reference };
      });
    },

    async lookupCharge(reference: string) {
      // Local charges are decided at once; a reference nothing here remembers is from before a restart.
      for (const outcome of answers.values()) {
        if (outcome.status !== 'unknown' && outcome.reference === reference) return outcome;
      }
      return { status: 'unknown', error: `The local provider does not remember ${reference}.` };
    },

    // Signed and shaped as Stripe's, so read as Stripe's.
    parseEvent: (rawBody, signature) => parseStripeEvent(rawBody, signature, options.webhookSecret, options.toleranceSeconds),
  };
}
