/**
 * `npm run conformance -- --base URL [--seed N] [--runs N] [--token T] [--read-only] [--invalid] [--max-retry-after S]`
 * Sends requests generated from spec/openapi.yaml to a running deployment and reports every answer that does not
 * conform (status, body, headers), each with a curl line to reproduce it. It creates data (a host user of its own,
 * properties, bookings...): on a shared deployment use --read-only (GETs only) or a --token of a throwaway account.
 * Exit code 1 when any request failed. See scripts/conformance/run.ts.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { runConformance } from './conformance/run.js';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    spec: { type: 'string', default: new URL('../spec/openapi.yaml', import.meta.url).pathname },
    seed: { type: 'string' },
    runs: { type: 'string', default: '10' },
    token: { type: 'string' },
    'read-only': { type: 'boolean', default: false },
    invalid: { type: 'boolean', default: false },
    'max-retry-after': { type: 'string', default: '5' },
  },
});
if (!values.base) {
  console.error('usage: npm run conformance -- --base http://localhost:3000 [--seed N] [--runs N] [--token T] [--read-only]');
  process.exit(2);
}
const seed = values.seed ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const report = await runConformance({
  base: values.base,
  spec: parse(await readFile(values.spec, 'utf8')),
  seed,
  runs: Number(values.runs),
  token: values.token ?? process.env.TOKEN,
  readOnly: values['read-only'],
  invalid: values.invalid,
  maxRetryAfter: Number(values['max-retry-after']),
  log: (line) => console.log(line),
});
console.log(
  `${report.requests} requests over ${report.operations} operations, ${report.failures.length} failures (seed ${report.seed}; rerun with --seed ${report.seed}).` +
    (report.failures.length ? ' The curl lines use $TOKEN: export TOKEN=<a bearer token> first.' : ''),
);
process.exit(report.failures.length > 0 ? 1 : 0);
