/**
 * The check every refusal gets: status, problem media type, stable code and,
 * for a field error, the field's path.
 */
import { expect } from 'vitest';
import type { Problem } from '../../generated/client/types.gen.js';

export function expectProblem(result: { error?: unknown; response: Response }, status: number, code: string, path?: string): Problem {
  expect(result.response.status).toBe(status);
  expect(result.response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem = result.error as Problem;
  expect(problem).toMatchObject({ type: `/problems/${code}`, status, code });
  if (path !== undefined) expect(problem.errors?.map((error) => error.path)).toContain(path);
  return problem;
}
