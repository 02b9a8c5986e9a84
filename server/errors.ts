/**
 * The one error type of the API and the one mapper that turns any thrown value
 * into RFC 9457 problem details. Business code throws `ApiError`; database
 * constraint violations that mean "conflict" are recognised here by SQLSTATE and
 * constraint name, never by message text.
 */
export const errorStatus = {
  validation_failed: 400,
  malformed_json: 400,
  unauthenticated: 401,
  invalid_credentials: 401,
  card_declined: 402,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  email_taken: 409,
  already_reviewed: 409,
  payment_in_progress: 409,
  conflict: 409,
  dates_unavailable: 409,
  idempotency_key_reused: 409,
  property_has_upcoming_stays: 409,
  account_has_upcoming_stays: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  current_password_incorrect: 422,
  invalid_state: 422,
  payment_method_invalid: 422,
  booking_rule_violated: 422,
  review_window_closed: 422,
  rate_limited: 429,
  internal_error: 500,
  not_implemented: 501,
  service_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export interface FieldError {
  path: string;
  message: string;
}

const titles: Record<ErrorCode, string> = {
  validation_failed: 'The request is not valid',
  malformed_json: 'The request body is not valid JSON',
  unauthenticated: 'Authentication required',
  invalid_credentials: 'Wrong email or password',
  card_declined: 'The card was declined',
  forbidden: 'Not allowed',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  email_taken: 'That email is already registered',
  already_reviewed: 'This booking already has a review',
  payment_in_progress: 'A payment of this booking is in progress',
  conflict: 'The change conflicts with the current state',
  dates_unavailable: 'Those dates are not available',
  idempotency_key_reused: 'Idempotency key reused with another request',
  property_has_upcoming_stays: 'The property has upcoming stays',
  account_has_upcoming_stays: 'The account has upcoming stays',
  payload_too_large: 'Request body too large',
  unsupported_media_type: 'Unsupported content type',
  current_password_incorrect: 'The current password is wrong',
  invalid_state: 'Not possible in the current state',
  payment_method_invalid: 'Unknown payment method',
  booking_rule_violated: 'The booking breaks a rule of the listing',
  review_window_closed: 'The review window has closed',
  rate_limited: 'Too many requests',
  internal_error: 'Internal server error',
  not_implemented: 'Not implemented yet',
  service_unavailable: 'Service unavailable',
};

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    detail?: string,
    readonly errors?: FieldError[],
    /** Extra response headers, e.g. Retry-After on 429, Allow on 405. */
    readonly headers?: Record<string, string>,
  ) {
    super(detail ?? titles[code]);
    this.status = errorStatus[code];
  }
}

/** The one way to refuse bad input: 400 validation_failed listing each bad field. */
export function invalidFields(errors: FieldError[], detail?: string): ApiError {
  const summary = errors.length === 1 && errors[0] ? `${errors[0].path} ${errors[0].message}.` : `${errors.length} fields are invalid; see errors.`;
  return new ApiError('validation_failed', detail ?? summary, errors);
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  errors?: FieldError[];
  request_id?: string;
}

/** Unique and exclusion constraints whose violation is the client's conflict, not our bug. */
const conflictConstraints: Record<string, { code: ErrorCode; detail?: string }> = {
  users_email_lower_key: { code: 'email_taken' },
  // Two stays that hold dates on one property overlap: the loser of any race lands here.
  bookings_no_overlap: { code: 'dates_unavailable', detail: 'The property is already booked for some of those nights.' },
  // One review per booking, ever: a deleted review leaves its row behind, so this holds after deletion too.
  reviews_booking_id_key: { code: 'already_reviewed', detail: 'Each booking can be reviewed once, and this one has been.' },
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

export function toProblem(error: ApiError, requestId: string | undefined): Problem {
  return {
    type: `/problems/${error.code}`,
    title: titles[error.code],
    status: error.status,
    detail: error.message,
    code: error.code,
    ...(error.errors && error.errors.length > 0 ? { errors: error.errors } : {}),
    ...(requestId ? { request_id: requestId } : {}),
  };
}
