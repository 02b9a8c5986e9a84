/**
 * The one error type of the API and the one mapper that turns any thrown value
 * into RFC 9457 problem details. Business code throws `ApiError`; database
 * constraint violations that mean "conflict" are recognised here by SQLSTATE and
 * constraint name, never by message text.
 */
import { problemCodes, type ProblemCode } from '../generated/problems.gen.js';
import type { Problem as SpecProblem, ProblemFieldError } from '../generated/client/types.gen.js';

/**
 * A code the spec's catalogue (x-problem-codes) lists; its status and title come
 * from there too, so a code the spec does not know fails to type-check.
 */
export type ErrorCode = ProblemCode;

export type FieldError = ProblemFieldError;

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    detail?: string,
    readonly errors?: FieldError[],
    /** Extra response headers, e.g. Retry-After on 429, Allow on 405. */
    readonly headers?: Record<string, string>,
  ) {
    super(detail ?? problemCodes[code].title);
    this.status = problemCodes[code].status;
  }
}

/** The one way to refuse bad input: 400 validation_failed listing each bad field. */
export function invalidFields(errors: FieldError[], detail?: string): ApiError {
  const summary = errors.length === 1 && errors[0] ? `${errors[0].path} ${errors[0].message}.` : `${errors.length} fields are invalid; see errors.`;
  return new ApiError('validation_failed', detail ?? summary, errors);
}

/** The spec's Problem, with `code` narrowed to the catalogue's codes. */
export type Problem = Omit<SpecProblem, 'code'> & { code: ErrorCode };

/** Unique and exclusion constraints whose violation is the client's conflict, not our bug. */
const conflictConstraints: Record<string, { code: ErrorCode; detail?: string }> = {
  users_email_lower_key: { code: 'email_taken' },
  // Two stays that hold dates on one property overlap: the loser of any race lands here.
  bookings_no_overlap: { code: 'dates_unavailable', detail: 'The property is already booked for some of those nights.' },
  // One review per booking, ever: a deleted review leaves its row behind, so this holds after deletion too.
  reviews_booking_id_key: { code: 'already_reviewed', detail: 'Each booking can be reviewed once, and this one has been.' },
  // One name per owner's wishlists, whatever the case: a retried create or a rename onto another list's name lands here.
  wishlists_owner_name_key: { code: 'wishlist_name_taken', detail: 'You already have a wishlist of that name.' },
};

interface PostgresError {
  code: string;
  constraint?: string;
}

function isPostgresError(err: unknown): err is PostgresError {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { code?: unknown }).code === 'string' &&
    /^[0-9A-Z]{5}$/.test((err as { code: string }).code)
  );
}

/** Turns anything thrown while serving a request into an ApiError; unknown errors become internal_error. */
export function toApiError(err: unknown): { error: ApiError; unexpected: boolean } {
  if (err instanceof ApiError) return { error: err, unexpected: false };
  if (isPostgresError(err)) {
    const mapped = err.constraint ? conflictConstraints[err.constraint] : undefined;
    if (mapped) return { error: new ApiError(mapped.code, mapped.detail), unexpected: false };
    // A constraint the request could not have known about was broken by a concurrent change
    // (a check such as max_nights >= min_nights, a unique key, or a row that was deleted meanwhile).
    if (err.code === '23514' || err.code === '23505' || err.code === '23503') {
      return { error: new ApiError('conflict', 'A concurrent change made this request impossible; reload and retry.'), unexpected: false };
    }
    // A serialization failure or deadlock under contention: the client may retry.
    if (err.code === '40001' || err.code === '40P01') {
      return { error: new ApiError('service_unavailable', 'Please retry the request.', undefined, { 'Retry-After': '1' }), unexpected: false };
    }
    // PostgreSQL is unreachable, restarting or shutting down: class 08 (connection exception;
    // db/index.ts reports a refused connection, a connect timeout and a lost connection so too),
    // 57P01-57P03 (terminated by an administrator, crash, cannot connect now). Back on its own.
    if (err.code.startsWith('08') || err.code === '57P01' || err.code === '57P02' || err.code === '57P03') {
      return { error: new ApiError('service_unavailable', 'The database is unavailable for a moment; retry shortly.', undefined, { 'Retry-After': '2' }), unexpected: false };
    }
  }
  // Koa's body parser reports a malformed or oversized body with an HTTP status.
  const status = (err as { status?: unknown })?.status;
  const type = (err as { type?: unknown })?.type;
  if (status === 413 || type === 'entity.too.large') return { error: new ApiError('payload_too_large'), unexpected: false };
  if (status === 415) return { error: new ApiError('unsupported_media_type'), unexpected: false };
  if (status === 400 && (type === 'entity.parse.failed' || err instanceof SyntaxError)) {
    return { error: new ApiError('malformed_json'), unexpected: false };
  }
  return { error: new ApiError('internal_error', 'Something went wrong on our side. Quote the request id when reporting it.'), unexpected: true };
}

/**
 * The spec's `maxItems` of a problem's `errors` (Problem.errors). A request can be wrong in
 * more places than that (an array of 150 bad items): the first ones are listed, and `detail`
 * says how many were found, so the document stays within its contract and its size.
 */
export const MAX_PROBLEM_ERRORS = 100;

/** The one way an ApiError becomes a problem document, for REST (server/app.ts) and GraphQL (server/graphql.ts) alike. */
export function toProblem(error: ApiError, requestId: string | undefined): Problem {
  const errors = error.errors ?? [];
  const shown = errors.slice(0, MAX_PROBLEM_ERRORS);
  const detail =
    errors.length > shown.length
      ? `${error.message.slice(0, 1800)} ${errors.length} problems were found; the first ${shown.length} are listed.`
      : error.message;
  return {
    type: `/problems/${error.code}`,
    title: problemCodes[error.code].title,
    status: error.status,
    detail: printable(detail).slice(0, 2000),
    code: error.code,
    ...(shown.length > 0 ? { errors: shown.map((field) => ({ path: fieldPath(field.path), message: printable(field.message).slice(0, 500) })) } : {}),
    ...(requestId ? { request_id: requestId } : {}),
  };
}

/** Control characters (bar tab and line breaks) have no place in a problem's text: a detail may quote what the client sent. */
function printable(text: string): string {
  return text.replace(/[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]/g, '\uFFFD');
}

/**
 * A field's path as the spec's ProblemFieldError.path allows it (no whitespace, at most
 * 300 characters): an unknown field may be named anything a client chose, spaces and
 * 5,000 characters included, and its path must still fit the document that reports it.
 */
function fieldPath(path: string): string {
  // An empty field name (`{"": 1}`) would leave `body.` or `body..x`, which the pattern refuses: name it `""`.
  const safe = path.replace(/[\s\x00-\x1F\x7F]/gu, (c) => encodeURIComponent(c)).replace(/\.(?=\.|$)/g, '.""');
  return safe.length > 300 ? `${safe.slice(0, 299)}…` : safe;
}

const clientErrors: Record<string, ErrorCode> = {
  HPE_HEADER_OVERFLOW: 'headers_too_large',
  ERR_HTTP_REQUEST_TIMEOUT: 'request_timeout',
};

/**
 * The raw HTTP answer to a request Node's parser refused before Koa saw it (headers over
 * 16 KiB, a malformed request line, a client too slow to send its headers): a problem
 * document like every other refusal, rather than Node's empty default.
 */
export function clientErrorResponse(err: { code?: string }): string {
  const error = new ApiError(clientErrors[err.code ?? ''] ?? 'malformed_request');
  const body = JSON.stringify(toProblem(error, undefined));
  return [
    `HTTP/1.1 ${error.status} ${problemCodes[error.code].title}`,
    'Content-Type: application/problem+json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}
