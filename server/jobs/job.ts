/**
 * What a background job is: a name, one id to work on, and code that reads the
 * rest from the database. The job modules and the runners (queue.ts) share these.
 */
import type { Db } from '../../db/index.js';
import type { Config } from '../config.js';
import type { LiveEvents } from '../events.js';
import type { Mailer } from '../mail.js';
import type { PaymentProvider } from '../payments/provider.js';

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
  /** Live events to tell users what a job changed, after its transaction has committed. */
  events: LiveEvents;
  log: (line: Record<string, unknown>) => void;
}

export interface JobDefinition {
  /** Attempts after the first. */
  retries: number;
  /** `final` is true on the last attempt the runner will make. */
  run(ctx: JobContext, id: string, attempt: { final: boolean }): Promise<void>;
}
