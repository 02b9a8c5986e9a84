/**
 * @staybook/client: the Staybook API as typed methods, one per operation of spec/openapi.yaml, built on the fetch
 * client @hey-api/openapi-ts generates from it (vendored in dist/, so the package has no runtime dependencies).
 * What it adds for a consumer:
 *   - auth: a bearer token set once (setToken, or signIn which sets it from the session it gets);
 *   - idempotency: operations that take an Idempotency-Key get a fresh UUID per call unless the caller gives one
 *     (give your own to retry a call safely: the same key and body return the first answer again);
 *   - pagination: paginate(operation, input) iterates the items of every page, following next_cursor;
 *   - typed problems: an error answer is thrown as StaybookProblem, whose `code` is a union of the spec's codes.
 * Methods resolve to the response body itself (undefined for 204).
 */
import { createClient, createConfig, type Client } from './generated/client/client/index.js';
import * as sdk from './generated/client/sdk.gen.js';
import type { Session } from './generated/client/types.gen.js';
import { idempotentOperations, specVersion } from './generated/meta.gen.js';
import type { OperationId, Operations } from './generated/operations.gen.js';
import { errorOf } from './problem.js';

export type * from './generated/client/types.gen.js';
export { isProblemCode, NotModified, StaybookProblem, UnexpectedResponse, type ProblemCode, type ProblemDocument } from './problem.js';
export { specVersion };

/** Every operation a client calls; the payment provider's webhook is the provider's, not a client's. */
export type ClientOperationId = Exclude<OperationId, 'handlePaymentWebhook'>;
/** What a call takes: the operation's body, path, query and headers, as generated from the spec. */
export type OperationInput<Id extends OperationId> = KeyOptional<Omit<Operations[Id]['data'], 'url'>>;
/** The client fills Idempotency-Key when it is not given, so a caller never has to, even where the spec requires it. */
type KeyOptional<Data> = Data extends { headers: infer Headers }
  ? 'Idempotency-Key' extends keyof Headers
    ? Omit<Data, 'headers'> & { headers?: Omit<Headers, 'Idempotency-Key'> & { 'Idempotency-Key'?: string } }
    : Data
  : Data;
/** What a call resolves to: the body of its success answer. */
export type OperationOutput<Id extends OperationId> = Operations[Id]['responses'][keyof Operations[Id]['responses']];
type Args<Id extends OperationId> = {} extends OperationInput<Id> ? [input?: OperationInput<Id>] : [input: OperationInput<Id>];

/** Operations answering a page (`data` and `next_cursor`). */
export type PaginatedOperationId = {
  [Id in ClientOperationId]: OperationOutput<Id> extends { data: Array<unknown>; next_cursor: string | null } ? Id : never;
}[ClientOperationId];
/** One item of a paginated operation's pages. */
export type PageItem<Id extends PaginatedOperationId> = OperationOutput<Id> extends { data: Array<infer Item> } ? Item : never;

export type StaybookApi = { [Id in ClientOperationId]: (...args: Args<Id>) => Promise<OperationOutput<Id>> };

export interface StaybookClientOptions {
  /** Where the API is, e.g. `https://api.staybook.example` or `http://localhost:3000`. */
  baseUrl: string;
  /** A bearer token to start with (see setToken and signIn). */
  token?: string | null;
  /** A fetch of your own (tests, proxies, retries); globalThis.fetch by default. */
  fetch?: typeof fetch;
  /** Makes the Idempotency-Key of a call that was not given one; crypto.randomUUID by default. */
  newIdempotencyKey?: () => string;
}

export interface StaybookClient extends StaybookApi {
  /** The token sent as `Authorization: Bearer …`, or null when signed out. */
  readonly token: string | null;
  setToken(token: string | null): void;
  /** Exchanges email and password for a session (`login`) and sends its token from then on. */
  signIn(email: string, password: string): Promise<Session>;
  /** Ends the session on the server (`logout`) and forgets its token. */
  signOut(): Promise<void>;
  /** Every item of every page, requesting the next page (with `cursor`) only when the previous one is used up. */
  paginate<Id extends PaginatedOperationId>(operation: Id, ...args: Args<Id>): AsyncGenerator<PageItem<Id>, void, undefined>;
  /** The generated fetch client underneath, for interceptors (`http.interceptors.request.use(...)`). */
  readonly http: Client;
}

type RawOperation = (options: Record<string, unknown>) => Promise<{ data?: unknown; error?: unknown; response?: Response }>;
type LooseInput = { headers?: Record<string, unknown>; query?: Record<string, unknown> } & Record<string, unknown>;

export function createStaybookClient(options: StaybookClientOptions): StaybookClient {
  let token = options.token ?? null;
  const newKey = options.newIdempotencyKey ?? (() => globalThis.crypto.randomUUID());
  const http = createClient(
    createConfig({ baseUrl: options.baseUrl, ...(options.fetch ? { fetch: options.fetch } : {}), auth: () => token ?? undefined }),
  );

  async function call(id: ClientOperationId, input: LooseInput = {}): Promise<unknown> {
    const operation = (sdk as unknown as Record<ClientOperationId, RawOperation>)[id];
    const headers = { ...input.headers };
    if (idempotentOperations.includes(id) && headers['Idempotency-Key'] === undefined) headers['Idempotency-Key'] = newKey();
    const result = await operation({ ...input, headers, client: http, throwOnError: false });
    // No answer at all (network failure, abort): fetch's own error.
    if (!result.response) throw result.error;
    if (!result.response.ok) throw errorOf(result.error, result.response);
    return result.response.status === 204 ? undefined : result.data;
  }

  const api = Object.fromEntries(
    Object.keys(sdk)
      .filter((name): name is ClientOperationId => typeof (sdk as Record<string, unknown>)[name] === 'function' && name !== 'handlePaymentWebhook')
      .map((id) => [id, (input?: LooseInput) => call(id, input)]),
  ) as unknown as StaybookApi;

  const client: StaybookClient = {
    ...api,
    get token() {
      return token;
    },
    setToken(next) {
      token = next;
    },
    async signIn(email, password) {
      const session = await api.login({ body: { email, password } });
      token = session.access_token;
      return session;
    },
    async signOut() {
      await api.logout();
      token = null;
    },
    async *paginate(operation, ...args) {
      const input = (args[0] ?? {}) as LooseInput;
      let cursor: string | null | undefined = input.query?.['cursor'] as string | undefined;
      do {
        const page = (await call(operation, { ...input, query: { ...input.query, ...(cursor ? { cursor } : {}) } })) as {
          data: Array<PageItem<typeof operation>>;
          next_cursor: string | null;
        };
        yield* page.data;
        cursor = page.next_cursor;
      } while (cursor);
    },
    http,
  };
  return client;
}
