/**
 * Operations whose issue has not landed yet. They are in the spec so that clients
 * can be generated against the whole contract today; until their handler lands they
 * answer 501 problem details with code `not_implemented`, and the test suite lists
 * them as todo (test/pending.test.ts).
 */
import { ApiError } from '../server/errors.js';
import type { OperationId } from '../server/operations.js';

export const pendingOperations = {
  createPayment: 'payments (issue #4)',
  listPayments: 'payments (issue #4)',
  getPayment: 'payments (issue #4)',
  handlePaymentWebhook: 'payments (issue #4)',
} as const satisfies Partial<Record<OperationId, string>>;

export type PendingOperationId = keyof typeof pendingOperations;

function notImplemented(operationId: PendingOperationId) {
  return async (): Promise<never> => {
    throw new ApiError('not_implemented', `${operationId} arrives with ${pendingOperations[operationId]}.`);
  };
}

export const pendingHandlers = Object.fromEntries(
  Object.keys(pendingOperations).map((id) => [id, notImplemented(id as PendingOperationId)]),
) as { [K in PendingOperationId]: () => Promise<never> };
