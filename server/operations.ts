/**
 * The types that tie a handler to its operation in the spec. `Operations` is
 * generated from spec/openapi.yaml, so a handler that returns a status or a body
 * the spec does not declare for its operation fails to compile.
 */
import type { Config } from './config.js';
import type { Db } from '../db/index.js';
import type { AuthUser } from './auth.js';
import type { Limits } from './limits.js';
import type { SessionStore } from './sessions.js';
import type { ReadCache } from './cache.js';
import type { LiveEvents } from './events.js';
import type { JobRequest } from './jobs/job.js';
import type { JobRunner } from './jobs/queue.js';
import type { PaymentProvider } from './payments/provider.js';
import type { OperationId, Operations } from '../generated/operations.gen.js';

export type { OperationId } from '../generated/operations.gen.js';

/** Everything a handler may use; built once at startup in app.ts. */
export interface Deps {
  config: Config;
  db: Db;
  sessions: SessionStore;
  /** Every rate limit and sign-in throttle (limits.ts). */
  limits: Limits;
  payments: PaymentProvider;
  /** Starts background jobs; call it after the transaction that made them owed has committed. */
  jobs: JobRunner;
  /** The read cache of public answers (server/cache.ts); writes bump it after commit. */
  cache: ReadCache;
  /** Live events to signed-in users' streams (server/events.ts); publish after commit with publishEvent. */
  events: LiveEvents;
  /** The process's structured log (one JSON line each). */
  log: (line: Record<string, unknown>) => void;
}

export interface RequestContext {
  deps: Deps;
  /** The signed-in caller, or null on operations whose security is optional. */
  auth: AuthUser | null;
  requestId: string;
  /** The request body as received (signature checks); undefined without a body or through GraphQL. */
  rawBody?: string | undefined;
}

/**
 * Starts the jobs a committed transaction made owed. A failure to enqueue (Redis
 * down) does not fail the request, whose change is already committed: the sweep
 * finds the owed rows and starts their jobs later.
 */
export async function startJobs(ctx: RequestContext, jobs: JobRequest[]): Promise<void> {
  if (jobs.length === 0) return;
  try {
    await ctx.deps.jobs.enqueue(jobs);
  } catch (err) {
    ctx.deps.log({ level: 'error', request_id: ctx.requestId, message: 'could not start jobs; the sweep will', jobs, error: String(err) });
  }
}

type Field<D, K extends string> = D extends { [P in K]?: infer V } ? NonNullable<V> : never;

/** A request as the handler sees it: validated and coerced against the spec. */
export interface OperationInput<D> {
  body: Field<D, 'body'>;
  path: Field<D, 'path'>;
  query: Field<D, 'query'>;
  headers: Record<string, string | undefined>;
}

type Reply<R> = {
  [S in keyof R & number]: [R[S]] extends [void] | [undefined] | [never]
    ? { status: S; body?: undefined; headers?: Record<string, string> }
    : { status: S; body: R[S]; headers?: Record<string, string> };
}[keyof R & number];

export type OperationReply<K extends OperationId> = Reply<Operations[K]['responses']>;

export type OperationHandler<K extends OperationId> = (
  input: OperationInput<Operations[K]['data']>,
  ctx: RequestContext,
) => Promise<OperationReply<K>>;

export type Handlers = { [K in OperationId]: OperationHandler<K> };
/** A subset of the handlers, as one resource's file exports it. */
export type ResourceHandlers<K extends OperationId> = { [P in K]: OperationHandler<P> };

/** The signed-in caller of an operation whose security requires one. */
export function caller(ctx: RequestContext): AuthUser {
  if (!ctx.auth) throw new Error('caller() used on an operation without required security');
  return ctx.auth;
}
