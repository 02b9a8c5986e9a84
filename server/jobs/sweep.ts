/**
 * Finds work that is owed but has no job, and starts one: refunds not yet done
 * whose next attempt is due, payments whose outcome is still unknown, and
 * notifications still unsent. Jobs are normally started right after the commit
 * that made them owed; this catches the ones lost with a process, and brings
 * failed refunds back, so nothing owed is forgotten. Several processes may
 * sweep at once: each item is leased (its next look pushed back) as it is taken.
 */
import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { findOwedNotifications } from '../../db/notifications.js';
import { findOwedRefunds, findStalePendingPayments, postponeRefund } from '../../db/payments.js';
import type { JobRequest } from './job.js';
import type { JobRunner } from './queue.js';

/** How long an item taken by the sweep is left to its job before the sweep looks again. */
const LEASE_SECONDS = 10 * 60;

export async function enqueueOwedWork(db: Db, runner: JobRunner): Promise<JobRequest[]> {
  const jobs: JobRequest[] = [];
  for (const refund of await findOwedRefunds(db)) {
    await postponeRefund(db, refund.id, LEASE_SECONDS);
    jobs.push({ name: 'execute-refund', id: refund.id });
  }
  for (const payment of await findStalePendingPayments(db, LEASE_SECONDS / 5)) {
    // Touching the row is its lease: the next sweep sees it as fresh.
    await db.updateTable('payments').set({ updated_at: sql`now()` }).where('id', '=', payment.id).where('status', '=', 'pending').execute();
    jobs.push({ name: 'follow-up-payment', id: payment.id });
  }
  for (const notification of await findOwedNotifications(db, LEASE_SECONDS)) {
    jobs.push({ name: 'send-notification', id: notification.id });
  }
  await runner.enqueue(jobs);
  return jobs;
}
