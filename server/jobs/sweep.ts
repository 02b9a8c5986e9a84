/**
 * Finds work that is owed but has no job, and starts one: refunds not yet done
 * whose next attempt is due, payments whose outcome is still unknown, and
 * notifications still unsent. Jobs are normally started right after the commit
 * that made them owed; this catches the ones lost with a process or with a Redis
 * that restarted empty, and brings failed refunds back, so nothing owed is
 * forgotten. Several processes may sweep at once: refunds and payments are leased
 * (their next look pushed back) as they are taken, and a notification is claimed
 * by the job that sends it; a job started twice does its work once.
 */
import type { Db } from '../../db/index.js';
import { findOwedNotifications } from '../../db/notifications.js';
import { findOwedRefunds, findPendingRefunds, findStalePendingPayments, postponeRefund, touchPendingPayment } from '../../db/payments.js';
import type { JobRequest } from './job.js';
import type { JobRunner } from './queue.js';

/** How long an item taken by the sweep is left to its job before the sweep looks again. */
const LEASE_SECONDS = 10 * 60;

export interface SweepOptions {
  /**
   * Also the work whose job should still be waiting in Redis: a refund just owed,
   * an email not yet sent. For when Redis comes back or a worker starts, as queued
   * jobs may be gone; the periodic sweep leaves them their lease.
   */
  includeQueued?: boolean;
}

export async function enqueueOwedWork(db: Db, runner: JobRunner, options: SweepOptions = {}): Promise<JobRequest[]> {
  const jobs: JobRequest[] = [];
  const refunds = options.includeQueued ? [...(await findPendingRefunds(db)), ...(await findOwedRefunds(db))] : await findOwedRefunds(db);
  for (const refundId of new Set(refunds.map((refund) => refund.id))) {
    await postponeRefund(db, refundId, LEASE_SECONDS);
    jobs.push({ name: 'execute-refund', id: refundId });
  }
  for (const payment of await findStalePendingPayments(db, LEASE_SECONDS / 5)) {
    await touchPendingPayment(db, payment.id);
    jobs.push({ name: 'follow-up-payment', id: payment.id });
  }
  for (const notification of await findOwedNotifications(db, options.includeQueued ? 0 : LEASE_SECONDS)) {
    jobs.push({ name: 'send-notification', id: notification.id });
  }
  await runner.enqueue(jobs);
  return jobs;
}
