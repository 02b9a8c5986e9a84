/**
 * A check that a refusal's body is the spec's Problem document, as a client reading
 * the contract expects it: Ajv compiles components/schemas/Problem straight from
 * spec/openapi.yaml (with the formats the server validates), so a problem that breaks
 * its own schema (too many `errors`, a control character in `detail`) fails the test.
 */
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { loadSpec } from '../../server/server.js';

export type ProblemCheck = (body: unknown) => string | undefined;

/** Returns a function that says what is wrong with a problem body, or undefined when it matches the spec. */
export async function problemSchemaCheck(): Promise<ProblemCheck> {
  const spec = (await loadSpec()) as unknown as { components: Record<string, unknown> };
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv, { mode: 'full', formats: ['date', 'date-time', 'email', 'uri', 'uuid', 'uri-reference', 'int32', 'int64'] });
  const validate = ajv.compile({ $ref: '#/components/schemas/Problem', components: spec.components });
  return (body) => (validate(body) ? undefined : ajv.errorsText(validate.errors));
}
