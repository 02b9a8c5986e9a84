/**
 * The problem codes come from one catalogue in the spec (x-problem-codes on
 * Problem.code): the server's table, its problems and the introduction's table of
 * codes all follow it, and a malformed catalogue stops the codegen.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { problemCodes } from '../generated/problems.gen.js';
import { ApiError, toProblem, type ErrorCode } from '../server/errors.js';
import { problemCatalogue, withProblemTable } from '../scripts/generate-problems.js';

const specText = await readFile(new URL('../spec/openapi.yaml', import.meta.url), 'utf8');
const catalogue = problemCatalogue(parse(specText));

describe('the problem-code catalogue', () => {
  it('is what the server answers with: every code with its status and title', () => {
    expect(Object.keys(problemCodes)).toEqual(Object.keys(catalogue));
    for (const [code, { status, title }] of Object.entries(catalogue)) {
      const problem = toProblem(new ApiError(code as ErrorCode), 'req-1');
      expect(problem).toEqual({ type: `/problems/${code}`, title, status, detail: title, code, request_id: 'req-1' });
    }
  });

  it('is listed in the introduction of the spec as committed', () => {
    expect(withProblemTable(specText, catalogue)).toBe(specText);
    const rows = specText.match(/^ {4}\| \d{3} \| `[a-z_]+` \|/gm) ?? [];
    expect(rows).toHaveLength(Object.keys(catalogue).length);
  });

  it('rewrites an introduction table that disagrees with it', () => {
    const edited = specText.replace('| 409 | `conflict` |', '| 410 | `conflict` |').replace(/^ {4}\| 501 \| `not_implemented` .*\n/m, '');
    expect(edited).not.toBe(specText);
    expect(withProblemTable(edited, catalogue)).toBe(specText);
  });

  it('refuses a catalogue entry without a problem status, or with a field it does not know', () => {
    const spec = parse(specText);
    const codes = spec.components.schemas.Problem.properties.code['x-problem-codes'];
    codes.conflict.status = 200;
    expect(() => problemCatalogue(spec)).toThrow(/x-problem-codes[\s\S]*conflict\.status/);
    codes.conflict.status = 409;
    codes.conflict.retry = true;
    expect(() => problemCatalogue(spec)).toThrow(/conflict/);
  });
});
