/**
 * Sends a refund to the provider. The idempotency key is the refund's id and its
 * attempt number: retries after an unknown outcome (a timeout) reuse it, so the
 * provider refunds once; only after a definite failure does the number move on,
 * since the old key would replay that failure. A refund is never given up: after
 * a failure the row keeps its next attempt time, and the sweep brings it back.
 */
import { findPaymentById, lockRefund } from '../../db/payments.js';
import { settleRefund } from '../payments/settle.js';
import type { JobDefinition } from './job.js';

/** How long after a definite failure the next attempt is made. */
const RETRY_AFTER_FAILURE_SECONDS = 15 * 60;

export const executeRefund: JobDefinition = {
  retries: 5,
  async run(ctx, refundId) {
    const jobs = await ctx.db.transaction().execute(async (trx) => {
      const refund = await lockRefund(trx, refundId);
      if (!refund || refund.status === 'succeeded') return [];
      const payment = await findPaymentById(trx, refund.payment_id);
      if (!payment?.provider_reference) throw new Error(`payment ${refund.payment_id} has no provider reference to refund`);
      // The row lock is held across the call, so two runs of this job never call the provider at once.
      const outcome = await ctx.provider.refund({
        paymentReference: payment.provider_reference,
        paymentMethod: payment.payment_method,
        amount: refund.amount,
        idempotencyKey: `refund-${refund.id}-${refund.attempts}`,
        metadata: { refund_id: refund.id, payment_id: refund.payment_id },
      });
      if (outcome.status === 'unknown') throw new Error(`refund ${refund.id}: no answer from the provider (${outcome.error})`);
      const settled = await settleRefund(trx, refund, outcome, RETRY_AFTER_FAILURE_SECONDS);
      if (outcome.status === 'failed') {
        ctx.log({ level: 'warn', message: 'refund refused by the provider; retried later', refund_id: refund.id, failure_code: outcome.failureCode });
      }
      return settled.jobs;
    });
    await ctx.enqueue(jobs);
  },
};
