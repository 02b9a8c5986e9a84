/**
 * The problem codes, kept in one place: `x-problem-codes` on the `code` property of
 * the spec's Problem schema, each code with its HTTP status, its title and what it
 * means. From that catalogue `npm run generate` makes
 *   - generated/problems.gen.ts, the code → { status, title } table server/errors.ts
 *     answers with (its keys are the only codes the server can type-check), and
 *   - the table of codes in the spec's introduction, between the `problem-codes`
 *     markers, so the rendered docs list what the catalogue says.
 */
import { z } from 'zod';

const catalogueSchema = z.record(
  z.string().regex(/^[a-z][a-z0-9_]*$/, 'a code is snake_case'),
  z.strictObject({
    status: z.int().min(400).max(599),
    title: z.string().min(1).max(200),
    description: z.string().min(1),
  }),
);

export type ProblemCatalogue = z.infer<typeof catalogueSchema>;

/** The catalogue of a parsed spec, refused with the place and reason if it is malformed. */
export function problemCatalogue(spec: unknown): ProblemCatalogue {
  const code = (spec as { components?: { schemas?: { Problem?: { properties?: { code?: Record<string, unknown> } } } } })
    .components?.schemas?.Problem?.properties?.code;
  const parsed = catalogueSchema.safeParse(code?.['x-problem-codes']);
  if (!parsed.success) {
    throw new Error(`spec/openapi.yaml: components.schemas.Problem.properties.code.x-problem-codes is not a valid catalogue:\n${z.prettifyError(parsed.error)}`);
  }
  if (Object.keys(parsed.data).length === 0) throw new Error('spec/openapi.yaml: x-problem-codes lists no code');
  return parsed.data;
}

/** generated/problems.gen.ts: the table, and the union of its codes. */
export function problemsModule(catalogue: ProblemCatalogue, header: string): string {
  const entries = Object.entries(catalogue).map(
    ([code, { status, title }]) => `  ${code}: { status: ${status}, title: ${JSON.stringify(title)} },`,
  );
  return [
    header,
    '/** Every problem code the API answers with: its HTTP status and its title (x-problem-codes in the spec). */',
    `export const problemCodes = {\n${entries.join('\n')}\n} as const;`,
    '',
    'export type ProblemCode = keyof typeof problemCodes;',
    '',
  ].join('\n');
}

const BEGIN = /^( *)<!-- problem-codes:begin\b.*-->\n/m;
const END = /^ *<!-- problem-codes:end -->\n/m;

/** The spec's text with the introduction's table of codes rendered from the catalogue. */
export function withProblemTable(specText: string, catalogue: ProblemCatalogue): string {
  const begin = BEGIN.exec(specText);
  const end = END.exec(specText);
  if (!begin || !end || end.index < begin.index) {
    throw new Error('spec/openapi.yaml: the introduction lost its <!-- problem-codes:begin ... --> / <!-- problem-codes:end --> markers');
  }
  const indent = begin[1]!;
  const rows = [
    '| status | code | meaning |',
    '|---|---|---|',
    ...Object.entries(catalogue).map(([code, { status, description }]) => `| ${status} | \`${code}\` | ${description} |`),
  ];
  const table = rows.map((row) => `${indent}${row}\n`).join('');
  return specText.slice(0, begin.index + begin[0].length) + table + specText.slice(end.index);
}
