/**
 * Typed problems: every answer of the API that is not a success is an RFC 9457 problem document whose `code`
 * names one entry of the spec's catalogue (x-problem-codes). The client throws them as StaybookProblem, so a
 * caller can `switch (err.code)` over a closed union and read the field errors of a 400.
 */
import type { Problem } from './generated/client/types.gen.js';
import { problemCodes } from './generated/problems.gen.js';

/** Every code the API answers with, from the spec's catalogue. */
export type ProblemCode = keyof typeof problemCodes;

/** The problem document as sent, with `code` narrowed to the catalogue. */
export type ProblemDocument = Omit<Problem, 'code'> & { code: ProblemCode };

export class StaybookProblem extends Error {
  override readonly name = 'StaybookProblem';
  /** HTTP status of the answer. */
  readonly status: number;
  readonly code: ProblemCode;
  /** The whole problem document (title, detail, field `errors`, `request_id`). */
  readonly problem: ProblemDocument;
  /** The answer itself, for its headers (e.g. `Retry-After` on a 429). */
  readonly response: Response;

  constructor(problem: ProblemDocument, response: Response) {
    super(`${problem.status} ${problem.code}: ${problem.detail}`);
    this.status = response.status;
    this.code = problem.code;
    this.problem = problem;
    this.response = response;
  }
}

/** Whether `code` is one the catalogue lists. */
export function isProblemCode(code: unknown): code is ProblemCode {
  return typeof code === 'string' && Object.hasOwn(problemCodes, code);
}

/**
 * An error answer that is not one of the API's problem documents (a proxy's HTML 502, say). Kept apart from
 * StaybookProblem rather than given a made-up code, so that `err.code` is always what the server said.
 */
export class UnexpectedResponse extends Error {
  override readonly name = 'UnexpectedResponse';
  readonly status: number;
  readonly body: unknown;
  readonly response: Response;

  constructor(body: unknown, response: Response) {
    super(`HTTP ${response.status} without a Staybook problem document`);
    this.status = response.status;
    this.body = body;
    this.response = response;
  }
}

/**
 * `304 Not Modified`: the answer to a conditional read (`headers: { 'If-None-Match': etag }`) whose resource has
 * not changed since; keep using the copy you have. Thrown so that a method's result is always a full body.
 */
export class NotModified extends Error {
  override readonly name = 'NotModified';
  readonly status = 304;
  readonly etag: string | null;
  readonly response: Response;

  constructor(response: Response) {
    super('304 Not Modified');
    this.etag = response.headers.get('ETag');
    this.response = response;
  }
}

/** What an error answer is thrown as. */
export function errorOf(body: unknown, response: Response): StaybookProblem | UnexpectedResponse | NotModified {
  if (response.status === 304) return new NotModified(response);
  if (body && typeof body === 'object' && isProblemCode((body as { code?: unknown }).code)) {
    return new StaybookProblem(body as ProblemDocument, response);
  }
  return new UnexpectedResponse(body, response);
}
