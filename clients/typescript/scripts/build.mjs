/**
 * Builds the package: the project's codegen output (generated/client from @hey-api/openapi-ts, and the problem
 * catalogue and operation map beside it, all made by `npm run generate` from spec/openapi.yaml) is copied into
 * src/generated/, a small module of facts the wrapper needs at run time is derived from the spec, and tsc emits
 * dist/ (JS and .d.ts). Copying instead of running a second hey-api config keeps one codegen and one output to
 * review; the package is built from the repository, never from the registry.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const here = fileURLToPath(new URL('..', import.meta.url));
const repo = path.resolve(here, '../..');
const generated = path.join(here, 'src/generated');
const require = createRequire(import.meta.url);

rmSync(path.join(here, 'dist'), { recursive: true, force: true });
rmSync(generated, { recursive: true, force: true });
mkdirSync(generated, { recursive: true });
cpSync(path.join(repo, 'generated/client'), path.join(generated, 'client'), { recursive: true });
for (const file of ['problems.gen.ts', 'operations.gen.ts']) cpSync(path.join(repo, 'generated', file), path.join(generated, file));

const spec = parse(readFileSync(path.join(repo, 'spec/openapi.yaml'), 'utf8'));
const pkg = JSON.parse(readFileSync(path.join(here, 'package.json'), 'utf8'));
if (pkg.version !== spec.info.version) {
  throw new Error(`clients/typescript/package.json has version ${pkg.version}, the spec's info.version is ${spec.info.version}: make them agree.`);
}
const operations = Object.values(spec.paths).flatMap((item) => Object.values(item).filter((op) => op && typeof op === 'object' && op.operationId));
const resolve = (param) => (param.$ref ? param.$ref.split('/').reduce((node, key) => (key === '#' ? spec : node[key]), spec) : param);
const idempotent = operations
  .filter((op) => (op.parameters ?? []).map(resolve).some((param) => param.in === 'header' && param.name === 'Idempotency-Key'))
  .map((op) => op.operationId);
writeFileSync(
  path.join(generated, 'meta.gen.ts'),
  [
    '// Written by scripts/build.mjs from spec/openapi.yaml.',
    `export const specVersion = ${JSON.stringify(spec.info.version)};`,
    '/** Operations that take an Idempotency-Key header: the client sends a fresh key on each call unless given one. */',
    `export const idempotentOperations: readonly string[] = ${JSON.stringify(idempotent)};`,
    '',
  ].join('\n'),
);

execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(here, 'tsconfig.json')], { stdio: 'inherit' });
