/**
 * A local HTTP server that answers like Stripe's API at its boundary, so that the
 * `stripe` provider is tested through the real Stripe SDK, on the wire, with no
 * account and no network. Stripe is the only thing the tests fake: no npm package
 * ships Stripe's own mock server (TOOLCHAIN.md).
 *
 * It keeps PaymentIntents and Refunds in memory, answers by payment method as
 * Stripe's test mode does, replays a stored answer for a repeated Idempotency-Key
 * (and refuses the key with other parameters), and records every request. Tests
 * can make it fail a route for a number of requests, answer the next refund as
 * pending or failed, and settle an object later, as Stripe does asynchronously.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A form body as Stripe reads it: `metadata[payment_id]=x` becomes `{ metadata: { payment_id: 'x' } }`. */
export interface Form {
  [key: string]: string | Form;
}

export type Route = 'POST /v1/payment_intents' | 'GET /v1/payment_intents/:id' | 'POST /v1/refunds';

export interface RecordedRequest {
  method: string;
  path: string;
  /** The route it matched, or undefined for an unknown URL. */
  route: Route | undefined;
  headers: IncomingHttpHeaders;
  idempotencyKey: string | undefined;
  body: Form;
  /** The HTTP status it was answered with. */
  status: number;
}

type StripeObject = Record<string, unknown> & { id: string };

interface Answer {
  status: number;
  body: unknown;
  /** A stored answer sent again for a repeated Idempotency-Key. */
  replayed?: boolean;
}

/** Stripe's test payment methods this server knows, and what confirming a PaymentIntent with each does. */
const METHODS: Record<string, 'succeeded' | 'processing' | { decline_code: string; message: string }> = {
  pm_card_visa: 'succeeded',
  pm_card_mastercard: 'succeeded',
  pm_card_chargeDeclined: { decline_code: 'generic_decline', message: 'Your card was declined.' },
  pm_card_chargeDeclinedInsufficientFunds: { decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  // Not one of Stripe's: stands for a method whose outcome comes later (a bank debit), reported by an event.
  pm_card_processing: 'processing',
};

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);

const invalidRequest = (message: string, extra: Record<string, unknown> = {}): Answer => ({
  status: 400,
  body: { error: { type: 'invalid_request_error', message, ...extra } },
});

export function parseForm(text: string): Form {
  const form: Form = {};
  for (const [key, value] of new URLSearchParams(text)) {
    // `a[b][c]` -> ['a', 'b', 'c']
    const path = key.split(/\[|\]\[|\]$/).filter((part) => part !== '');
    let node = form;
    for (const part of path.slice(0, -1)) node = (node[part] ??= {}) as Form;
    node[path[path.length - 1]!] = value;
  }
  return form;
}

export class FakeStripe {
  readonly requests: RecordedRequest[] = [];
  readonly intents = new Map<string, StripeObject>();
  readonly refunds = new Map<string, StripeObject>();
  private readonly remembered = new Map<string, { fingerprint: string; answer: Answer }>();
  private readonly failures = new Map<Route, { times: number; status: number }>();
  private readonly nextRefundStatuses: ('pending' | 'failed')[] = [];
  private readonly server = createServer((req, res) => void this.handle(req, res));
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections(); // the SDK keeps its connections alive
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Forgets the failures and refund answers a test asked for and did not use, so that they never reach the next test. */
  reset(): void {
    this.failures.clear();
    this.nextRefundStatuses.length = 0;
  }

  /** Answers the next `times` requests to `route` with a 5xx `api_error`, before any idempotency is applied (as an overloaded edge would). */
  failNext(route: Route, times: number, status = 500): void {
    this.failures.set(route, { times, status });
  }

  /** The next refund created is answered with this status instead of `succeeded`. */
  answerNextRefund(status: 'pending' | 'failed'): void {
    this.nextRefundStatuses.push(status);
  }

  /** Moves a PaymentIntent on, as Stripe does once a processing payment clears; returns it, for the event that reports it. */
  settleIntent(intentId: string, status: 'succeeded' | 'requires_payment_method'): StripeObject {
    return Object.assign(this.stored(this.intents, intentId), { status });
  }

  settleRefund(refundId: string, status: 'succeeded' | 'failed'): StripeObject {
    return Object.assign(this.stored(this.refunds, refundId), { status });
  }

  requestsTo(route: Route): RecordedRequest[] {
    return this.requests.filter((request) => request.route === route);
  }

  /** An event as Stripe delivers it to a webhook endpoint (to be signed by the caller). */
  event(type: string, object: StripeObject): string {
    return JSON.stringify({ id: id('evt'), object: 'event', api_version: '2026-01-01', created: now(), livemode: false, type, data: { object } });
  }

  private stored(objects: Map<string, StripeObject>, objectId: string): StripeObject {
    const object = objects.get(objectId);
    if (!object) throw new Error(`the fake Stripe has no ${objectId}`);
    return object;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += chunk;
    const path = (req.url ?? '').split('?')[0]!;
    const body = parseForm(text);
    const route = routeOf(req.method ?? '', path);
    const key = req.headers['idempotency-key'] as string | undefined;
    const answer = this.answer(route, path, body, key, req.headers.authorization);
    this.requests.push({ method: req.method ?? '', path, route, headers: req.headers, idempotencyKey: key, body, status: answer.status });
    res.writeHead(answer.status, {
      'Content-Type': 'application/json',
      'Request-Id': id('req'),
      ...(key ? { 'Idempotency-Key': key } : {}),
      ...(answer.replayed ? { 'Idempotent-Replayed': 'true' } : {}),
    });
    res.end(JSON.stringify(answer.body));
  }

  private answer(route: Route | undefined, path: string, body: Form, key: string | undefined, authorization: string | undefined): Answer {
    if (!authorization?.startsWith('Bearer sk_test_')) {
      return { status: 401, body: { error: { type: 'invalid_request_error', message: 'Invalid API Key provided.' } } };
    }
    if (!route) return { status: 404, body: { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${path}).` } } };
    const failure = this.failures.get(route);
    if (failure && failure.times > 0) {
      failure.times--;
      return { status: failure.status, body: { error: { type: 'api_error', message: 'An unknown error occurred (injected by the test).' } } };
    }
    if (route === 'GET /v1/payment_intents/:id') {
      const intent = this.intents.get(path.split('/').pop()!);
      return intent ? { status: 200, body: intent } : invalidRequest('No such payment_intent.', { code: 'resource_missing', param: 'intent' });
    }
    // Stripe remembers a POST's answer by its key, and refuses the key with other parameters.
    const fingerprint = `${route} ${JSON.stringify(body)}`;
    const known = key ? this.remembered.get(key) : undefined;
    if (known) {
      return known.fingerprint === fingerprint
        ? { ...known.answer, replayed: true }
        : invalidRequest('Keys for idempotent requests can only be used with the same parameters they were first used with.', { type: 'idempotency_error' });
    }
    const answer = route === 'POST /v1/payment_intents' ? this.createIntent(body) : this.createRefund(body);
    // Like Stripe, a request refused as invalid leaves no answer behind: corrected, it may be sent again with its key.
    // The answer as it was then: the objects in it move on.
    if (key && answer.status !== 400) this.remembered.set(key, { fingerprint, answer: structuredClone(answer) });
    return answer;
  }

  private createIntent(body: Form): Answer {
    const method = body.payment_method as string;
    const behaviour = METHODS[method];
    if (!behaviour) {
      return invalidRequest(`No such PaymentMethod: '${method}'`, { code: 'resource_missing', param: 'payment_method' });
    }
    const intent: StripeObject = {
      id: id('pi'),
      object: 'payment_intent',
      amount: Number(body.amount),
      currency: body.currency,
      status: typeof behaviour === 'string' ? behaviour : 'requires_payment_method',
      payment_method: method,
      confirmation_method: 'automatic',
      capture_method: 'automatic',
      metadata: body.metadata ?? {},
      last_payment_error: null,
      created: now(),
      livemode: false,
    };
    this.intents.set(intent.id, intent);
    if (typeof behaviour === 'string') return { status: 200, body: intent };
    const error = { type: 'card_error', code: 'card_declined', decline_code: behaviour.decline_code, message: behaviour.message };
    intent.last_payment_error = error;
    return { status: 402, body: { error: { ...error, payment_intent: intent } } };
  }

  private createRefund(body: Form): Answer {
    const intent = this.intents.get(body.payment_intent as string);
    if (!intent || intent.status !== 'succeeded') {
      return invalidRequest(`No such payment_intent: '${String(body.payment_intent)}'`, { code: 'resource_missing', param: 'payment_intent' });
    }
    const refunded = [...this.refunds.values()]
      .filter((refund) => refund.payment_intent === intent.id && refund.status !== 'failed')
      .reduce((sum, refund) => sum + (refund.amount as number), 0);
    const amount = body.amount === undefined ? (intent.amount as number) - refunded : Number(body.amount);
    if (amount > (intent.amount as number) - refunded) {
      return invalidRequest('Refund amount is greater than the unrefunded amount on the charge.', { code: 'amount_too_large', param: 'amount' });
    }
    const status = this.nextRefundStatuses.shift() ?? 'succeeded';
    const refund: StripeObject = {
      id: id('re'),
      object: 'refund',
      amount,
      currency: intent.currency,
      payment_intent: intent.id,
      status,
      failure_reason: status === 'failed' ? 'declined' : null,
      metadata: body.metadata ?? {},
      created: now(),
    };
    this.refunds.set(refund.id, refund);
    return { status: 200, body: refund };
  }
}

function routeOf(method: string, path: string): Route | undefined {
  if (method === 'POST' && path === '/v1/payment_intents') return 'POST /v1/payment_intents';
  if (method === 'GET' && /^\/v1\/payment_intents\/pi_[A-Za-z0-9]+$/.test(path)) return 'GET /v1/payment_intents/:id';
  if (method === 'POST' && path === '/v1/refunds') return 'POST /v1/refunds';
  return undefined;
}

export const startFakeStripe = () => new FakeStripe().start();
