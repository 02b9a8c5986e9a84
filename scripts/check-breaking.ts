/**
 * `npm run check:breaking`: the breaking-change gate of the contract (CI runs it after the codegen drift check).
 *
 * It compares spec/openapi.yaml and generated/schema.graphql at HEAD with a baseline: the newest release tag
 * (`v<semver>`) reachable from HEAD when HEAD is not that tag itself, else HEAD's first parent (main's previous
 * commit; on a merge that is main before the merge, so the whole merged branch is judged at once). `--base <ref>`
 * overrides the choice.
 *   - OpenAPI: api-smart-diff classifies every change per operation (removed operation, removed or newly required
 *     field, narrowed enum, changed type, tighter parameter bounds → breaking); we keep the changes under `paths`,
 *     where a change reaches clients (a component no operation uses reaches nobody).
 *   - GraphQL: @graphql-inspector/core's diff; criticality BREAKING counts.
 * A breaking change passes only when the commit message(s) since the baseline carry a `BREAKING CHANGE:` line AND
 * info.version's major is above the baseline's. Besides: info.version and package.json's version must agree, and
 * when the contract changed, CHANGELOG.md must have changed too with a non-empty `## Unreleased` (or `## <version>`)
 * section; `--changelog` prints a draft of that section from the diff.
 * Exit status: 0 pass, 1 gate failed, 2 could not run (no baseline in a shallow clone, git missing).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiCompare } from 'api-smart-diff';
import { CriticalityLevel, diff as graphqlDiff } from '@graphql-inspector/core';
import { buildSchema } from 'graphql';
import { parse } from 'yaml';

export const SPEC_PATH = 'spec/openapi.yaml';
export const GRAPHQL_PATH = 'generated/schema.graphql';
export const CHANGELOG_PATH = 'CHANGELOG.md';

export type Side = {
  spec: string;
  graphql?: string;
  changelog?: string;
};

export type Change = { surface: 'REST' | 'GraphQL'; breaking: boolean; where: string; message: string };

export type GateResult = {
  ok: boolean;
  changes: Change[];
  breaking: Change[];
  problems: string[];
  notes: string[];
  baseVersion: string;
  headVersion: string;
};

const MAJOR = /^(\d+)\.\d+\.\d+(?:[-+].*)?$/;

function specVersion(doc: { info?: { version?: unknown } }): string {
  return String(doc.info?.version ?? '');
}

/**
 * api-smart-diff calls a request field made required non-breaking when the field has a `default`; the server's
 * validator still refuses a body without it, so for a client that omitted it the change is breaking. Same for a
 * parameter whose `required` turns true.
 */
function newlyRequiredInput(d: { action: string; path: (string | number)[]; after?: unknown }): boolean {
  if (d.action === 'remove') return false;
  if (d.path.includes('requestBody') && d.path.at(-2) === 'required') return true;
  return d.path.includes('parameters') && d.path.at(-1) === 'required' && d.after === true;
}

/** The REST changes that reach a client: everything under `paths` that is not a mere annotation. */
type Parameter = { name?: string; in?: string; $ref?: string };
type PathItem = Record<string, unknown> & { parameters?: Parameter[] };

/**
 * Path-level parameters moved into each operation, an operation's own parameter of the
 * same name and place replacing the path's (OpenAPI's rule). api-smart-diff compares the
 * two lists separately and reports an operation that overrides a path parameter (to give
 * it its own example) as adding a required parameter, even against itself.
 */
function withOperationParameters(doc: Record<string, unknown>): Record<string, unknown> {
  const components = (doc.components as { parameters?: Record<string, Parameter> } | undefined)?.parameters ?? {};
  const key = (parameter: Parameter) => {
    const target = parameter.$ref ? (components[parameter.$ref.split('/').pop() as string] ?? parameter) : parameter;
    return `${target.in}:${target.name}`;
  };
  const paths = Object.fromEntries(
    Object.entries((doc.paths ?? {}) as Record<string, PathItem>).map(([path, item]) => {
      const { parameters: shared = [], ...operations } = item;
      const merged = Object.fromEntries(
        Object.entries(operations).map(([method, operation]) => {
          if (!operation || typeof operation !== 'object') return [method, operation];
          const own = ((operation as { parameters?: Parameter[] }).parameters ?? []);
          const ownKeys = new Set(own.map(key));
          const parameters = [...shared.filter((parameter) => !ownKeys.has(key(parameter))), ...own];
          return [method, { ...(operation as object), ...(parameters.length > 0 ? { parameters } : {}) }];
        }),
      );
      return [path, merged];
    }),
  );
  return { ...doc, paths };
}

export function restChanges(baseSpec: string, headSpec: string): Change[] {
  const before = withOperationParameters(parse(baseSpec) as Record<string, unknown>);
  const after = withOperationParameters(parse(headSpec) as Record<string, unknown>);
  const { diffs } = apiCompare(before, after) as {
    diffs: { type: string; action: string; path: (string | number)[]; description?: string; after?: unknown }[];
  };
  return diffs
    // x- fields (the problem-code catalogue, tags for tools) document; they do not change what is sent or accepted.
    .filter((d) => d.path[0] === 'paths' && d.type !== 'annotation' && !d.path.some((p) => String(p).startsWith('x-')))
    .map((d) => ({
      surface: 'REST' as const,
      // A value added to a response enum is "dangerous", as graphql-inspector calls it: clients must already cope
      // with values they do not know (the spec says so), so it is reported, not blocked. Removing one still blocks.
      breaking: newlyRequiredInput(d) || (d.type === 'breaking' && !(d.action === 'add' && d.path.includes('responses') && d.path.at(-2) === 'enum')),
      where: d.path.slice(1).join('.'),
      message: d.description ?? `${d.action} ${d.path.join('.')}`,
    }));
}

export async function graphqlChanges(baseSdl: string, headSdl: string): Promise<Change[]> {
  const changes = await graphqlDiff(buildSchema(baseSdl), buildSchema(headSdl));
  return changes.map((c) => ({
    surface: 'GraphQL' as const,
    breaking: c.criticality.level === CriticalityLevel.Breaking,
    where: c.path ?? '',
    message: c.message,
  }));
}

/** The section of CHANGELOG.md that describes what is not released yet (or the version being released). */
export function changelogSection(changelog: string, version: string): string | undefined {
  const lines = changelog.split('\n');
  const heading = (l: string) => /^## /.test(l);
  const matches = (l: string) => /^## \[?Unreleased\]?/i.test(l) || l.startsWith(`## ${version} `) || l === `## ${version}` || l.startsWith(`## [${version}]`);
  // Unreleased may sit empty above the section of the version being released: the first that says something counts.
  let found: string | undefined;
  lines.forEach((line, start) => {
    if (found || !matches(line)) return;
    const end = lines.findIndex((l, i) => i > start && heading(l));
    const body = lines.slice(start + 1, end < 0 ? undefined : end).join('\n').trim();
    if (body) found = body;
  });
  return found;
}

/** The gate itself, on contents only (the tests call it with planted changes; the CLI feeds it from git). */
export async function checkBreaking(input: {
  base: Side;
  head: Side;
  /** The commit message(s) between the baseline and HEAD. */
  message: string;
  packageVersion: string;
}): Promise<GateResult> {
  const baseVersion = specVersion(parse(input.base.spec));
  const headVersion = specVersion(parse(input.head.spec));
  const problems: string[] = [];
  const notes: string[] = [];

  if (headVersion !== input.packageVersion) {
    problems.push(`info.version (${headVersion}) and package.json's version (${input.packageVersion}) differ: the contract has one version`);
  }
  if (!MAJOR.test(headVersion)) problems.push(`info.version ${JSON.stringify(headVersion)} is not a semantic version`);

  const changes = restChanges(input.base.spec, input.head.spec);
  if (input.base.graphql !== undefined && input.head.graphql !== undefined) {
    changes.push(...(await graphqlChanges(input.base.graphql, input.head.graphql)));
  } else {
    notes.push('GraphQL schema missing on one side: only REST compared');
  }
  const breaking = changes.filter((c) => c.breaking);

  if (breaking.length > 0) {
    const declared = /^BREAKING[ -]CHANGE: \S/m.test(input.message);
    const baseMajor = Number(MAJOR.exec(baseVersion)?.[1] ?? NaN);
    const headMajor = Number(MAJOR.exec(headVersion)?.[1] ?? NaN);
    const bumped = headMajor > baseMajor;
    if (!declared || !bumped) {
      problems.push(
        `${breaking.length} breaking change(s) to the contract: allowed only with a \`BREAKING CHANGE: <why>\` line in the commit message ` +
          `(${declared ? 'present' : 'missing'}) and a major version bump of info.version and package.json ` +
          `(${baseVersion} → ${headVersion}: ${bumped ? 'bumped' : 'not bumped'})`,
      );
    } else {
      notes.push(`breaking change(s) declared and the major version bumped (${baseVersion} → ${headVersion})`);
    }
  }

  // The changelog rule a team can live with: any client-visible change means CHANGELOG.md changed in the same
  // range and its Unreleased (or this version's) section says something. Its wording stays human.
  if (changes.length > 0 && input.head.changelog !== undefined) {
    const section = changelogSection(input.head.changelog, headVersion);
    if (input.head.changelog === input.base.changelog) {
      problems.push(`the contract changed but ${CHANGELOG_PATH} did not: add a line under "## Unreleased" (\`npm run check:breaking -- --changelog\` drafts one)`);
    } else if (!section) {
      problems.push(`${CHANGELOG_PATH} has no non-empty "## Unreleased" or "## ${headVersion}" section describing the change`);
    }
  }

  return { ok: problems.length === 0, changes, breaking, problems, notes, baseVersion, headVersion };
}

/** A draft changelog section from the diff, grouped and de-duplicated per operation. */
export function changelogDraft(changes: Change[]): string {
  const group = (title: string, list: Change[]) => {
    const lines = [...new Set(list.map((c) => `- ${c.surface}: ${c.message}${c.surface === 'REST' ? ` (${c.where.split('.').slice(0, 2).join(' ')})` : ''}`))];
    return lines.length ? [`### ${title}`, ...lines, ''] : [];
  };
  return ['## Unreleased', '', ...group('Breaking', changes.filter((c) => c.breaking)), ...group('Changed', changes.filter((c) => !c.breaking))].join('\n');
}

export function report(result: GateResult, baseRef: string): string {
  const out = [`Contract compared with ${baseRef} (version ${result.baseVersion} → ${result.headVersion})`];
  const byBreaking = [...result.breaking, ...result.changes.filter((c) => !c.breaking)];
  if (byBreaking.length === 0) out.push('  no client-visible change');
  for (const c of byBreaking.slice(0, Math.max(40, result.breaking.length))) out.push(`  ${c.breaking ? 'BREAKING ' : 'additive '} ${c.surface.padEnd(7)} ${c.message}${c.where ? `  [${c.where}]` : ''}`);
  const shown = Math.max(40, result.breaking.length);
  if (byBreaking.length > shown) out.push(`  … and ${byBreaking.length - shown} more additive change(s)`);
  for (const n of result.notes) out.push(`note: ${n}`);
  for (const p of result.problems) out.push(`FAIL: ${p}`);
  out.push(result.ok ? 'breaking-change gate: passed' : 'breaking-change gate: FAILED');
  return out.join('\n');
}

// ---- the command line: git supplies both sides -------------------------------------------------------------

function git(args: string[], cwd: string): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryGit(args: string[], cwd: string): string | undefined {
  try {
    return git(args, cwd);
  } catch {
    return undefined;
  }
}

/** The newest `v*` tag reachable from HEAD unless it is HEAD itself (then that tag's predecessor), else HEAD^1. */
export function chooseBaseline(cwd: string): string | undefined {
  const head = git(['rev-parse', 'HEAD'], cwd).trim();
  const tag = tryGit(['describe', '--tags', '--abbrev=0', '--match', 'v[0-9]*', 'HEAD'], cwd)?.trim();
  if (tag && git(['rev-list', '-n', '1', tag], cwd).trim() !== head) return tag;
  const from = tag ? `${tag}^1` : 'HEAD^1';
  return tryGit(['rev-parse', '--verify', '--quiet', from], cwd) ? from : undefined;
}

async function main(argv: string[]): Promise<number> {
  // The repository it runs in (npm run starts scripts at the package root; the test runs it in a scratch clone).
  const cwd = process.cwd();
  const baseArg = argv.indexOf('--base');
  const baseRef = baseArg >= 0 ? argv[baseArg + 1] : chooseBaseline(cwd);
  if (!baseRef) {
    if (tryGit(['rev-parse', '--is-shallow-repository'], cwd)?.trim() === 'true') {
      console.error('check:breaking: shallow clone, no baseline to compare with: clone with full history (fetch-depth: 0)');
      return 2;
    }
    console.log('check:breaking: first commit, nothing to compare with');
    return 0;
  }
  const show = (file: string) => tryGit(['show', `${baseRef}:${file}`], cwd);
  const baseSpec = show(SPEC_PATH);
  if (baseSpec === undefined) {
    console.log(`check:breaking: ${baseRef} has no ${SPEC_PATH}: nothing to compare with`);
    return 0;
  }
  const read = (file: string) => {
    try {
      return readFileSync(path.join(cwd, file), 'utf8');
    } catch {
      return undefined;
    }
  };
  // HEAD's message, and on a merge the messages of every commit it brings in: a branch may declare its break anywhere.
  const message = git(['log', '--format=%B', `${baseRef}..HEAD`], cwd);
  const packageVersion = String((JSON.parse(read('package.json') ?? '{}') as { version?: string }).version);
  const result = await checkBreaking({
    base: { spec: baseSpec, graphql: show(GRAPHQL_PATH), changelog: show(CHANGELOG_PATH) },
    head: { spec: read(SPEC_PATH) ?? '', graphql: read(GRAPHQL_PATH), changelog: read(CHANGELOG_PATH) },
    message,
    packageVersion,
  });
  if (argv.includes('--changelog')) {
    console.log(changelogDraft(result.changes));
    return 0;
  }
  console.log(report(result, baseRef));
  return result.ok ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  process.exitCode = await main(process.argv.slice(2));
}
