/**
 * Asks the provider about a payment whose outcome we do not know: the call that
 * created it got no answer (a timeout), or the provider said "processing" and no
 * event has come. Without the provider's id, the charge is asked for again with
 * the payment's own idempotency key, which returns the first answer, never a
 * second charge; with it, the charge is looked up.
 */
import { lockPayment } from '../../db/payments.js';
import { settleCharge } from '../payments/settle.js';
import type { JobDefinition, JobRequest } from './job.js';

export const followUpPayment: JobDefinition = {
  retries: 5,
  async run(ctx, paymentId) {
    const { jobs, confirmed } = await ctx.db.transaction().execute(async (trx): Promise<{ jobs: JobRequest[]; confirmed?: string | undefined }> => {
      const payment = await lockPayment(trx, paymentId);
      if (!payment || payment.status !== 'pending') return { jobs: [] };
      const outcome = payment.provider_reference
        ? await ctx.provider.lookupCharge(payment.provider_reference)
        : await ctx.provider.charge({
            amount: payment.amount,
            currency: payment.currency,
            paymentMethod: payment.payment_method,
            idempotencyKey: payment.provider_idempotency_key,
            metadata: { payment_id: payment.id, booking_id: payment.booking_id, payer_id: payment.payer_id },
          });
      if (outcome.status === 'unknown') throw new Error(`payment ${payment.id}: no answer from the provider (${outcome.error})`);
      return settleCharge(trx, payment, outcome);
    });
    await ctx.enqueue(jobs);
    if (confirmed) await ctx.bookingChanged(confirmed);
  },
};
