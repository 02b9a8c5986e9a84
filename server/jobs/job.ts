/**
 * What a background job is: a name, one id to work on, and code that reads the
 * rest from the database. The job modules and the runners (queue.ts) share these.
 */
import type { Db } from '../../db/index.js';
import type { Config } from '../config.js';
import type { Mailer } from '../mail.js';
import type { PaymentProvider } from '../payments/provider.js';

/**
 * How long a claim on a notification lasts (both email jobs take one): longer than
 * a send may take (the SMTP transport gives up within about 20 s, server/mail.ts),
 * short enough that a notification whose worker died goes out soon after.
 */
export const SEND_LEASE_SECONDS = 30;

export type JobName = 'execute-refund' | 'follow-up-payment' | 'send-notification';

export interface JobRequest {
  name: JobName;
  id: string;
  /** Not run before this time (a job that found its row claimed by another run comes back when the claim ends). */
  notBefore?: Date;
}

export interface JobContext {
  db: Db;
  config: Config;
  provider: PaymentProvider;
  mailer: Mailer;
  /** To start the jobs a job's transaction made owed. */
  enqueue(jobs: JobRequest[]): Promise<void>;
  /**
   * Tells a booking's guest and host (live events) that a job changed it, after the job's
   * transaction has committed. Given by whoever starts the jobs (background.ts), so a job
   * does not reach up into the handlers that say who is told and what they see.
   */
  bookingChanged(bookingId: string): Promise<void>;
  log: (line: Record<string, unknown>) => void;
}

export interface JobDefinition {
  /** Attempts after the first. */
  retries: number;
  /** `final` is true on the last attempt the runner will make. */
  run(ctx: JobContext, id: string, attempt: { final: boolean }): Promise<void>;
}
