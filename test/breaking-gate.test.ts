/**
 * The breaking-change gate (scripts/check-breaking.ts): planted changes to copies of the real spec and GraphQL
 * schema are judged as a client would feel them, and the command fails in a scratch git repository where the last
 * commit removes an operation, then passes once the commit declares it and bumps the major version.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { checkBreaking, changelogDraft, report } from '../scripts/check-breaking.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const spec = readFileSync(path.join(root, 'spec/openapi.yaml'), 'utf8');
const graphql = readFileSync(path.join(root, 'generated/schema.graphql'), 'utf8');
const changelog = readFileSync(path.join(root, 'CHANGELOG.md'), 'utf8');
const packageVersion = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;

type Doc = {
  info: { version: string };
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, { enum?: string[]; required?: string[]; properties?: Record<string, unknown> }> };
};

function planted(change: (doc: Doc) => void): string {
  const doc = parse(spec) as Doc;
  change(doc);
  return stringify(doc);
}

const changelogWithLine = changelog.replace('## Unreleased\n', '## Unreleased\n\n- a planted change\n');
/** The next major version after the spec's own (whatever it is today). */
const nextMajor = `${Number(packageVersion.split('.')[0]) + 1}.0.0`;
const bump = (doc: Doc) => {
  doc.info.version = nextMajor;
};

async function gate(headSpec: string, options: { message?: string; version?: string; headGraphql?: string } = {}) {
  return checkBreaking({
    base: { spec, graphql, changelog },
    head: { spec: headSpec, graphql: options.headGraphql ?? graphql, changelog: changelogWithLine },
    message: options.message ?? 'a change',
    packageVersion: options.version ?? String((parse(headSpec) as Doc).info.version),
  });
}

const removals: [string, (doc: Doc) => void, RegExp][] = [
  ['an operation', (d) => void delete d.paths['/reviews/{review_id}/reply']!.delete, /Removed\] operation DELETE \/reviews\/\{review_id\}\/reply/],
  [
    'a response field',
    (d) => {
      const user = d.components.schemas.User!;
      delete user.properties!.bio;
      user.required = user.required!.filter((f) => f !== 'bio');
    },
    /property `bio`/,
  ],
  ['an enum value (narrowed)', (d) => void d.components.schemas.BookingStatus!.enum!.pop(), /possible values/],
  [
    'an optional request field made required',
    (d) => void d.components.schemas.PropertyInput!.required!.push('min_nights'),
    /required status to `min_nights`/,
  ],
];

describe('the breaking-change gate on planted changes', () => {
  it('one version: info.version and package.json agree', () => {
    expect((parse(spec) as Doc).info.version).toBe(packageVersion);
  });

  it('the contract compared with itself: no change, passes', async () => {
    const result = await gate(spec);
    expect(result.changes).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it.each(removals)('removing %s is breaking and fails the gate', async (_name, change, message) => {
    const result = await gate(planted(change));
    expect(result.ok).toBe(false);
    expect(result.breaking.map((c) => c.message).join('\n')).toMatch(message);
    expect(result.problems.join('\n')).toMatch(/breaking change\(s\).*BREAKING CHANGE:.*missing.*not bumped/);
    expect(report(result, 'base')).toMatch(/BREAKING .*\n[\s\S]*breaking-change gate: FAILED/);
  });

  it.each(removals)('removing %s passes with a BREAKING CHANGE: line and a major bump', async (_name, change) => {
    const head = planted((d) => {
      change(d);
      bump(d);
    });
    const result = await gate(head, { message: 'Drop it\n\nBREAKING CHANGE: clients must stop using it\n' });
    expect(result.breaking.length).toBeGreaterThan(0);
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it('the trailer alone, or the bump alone, is not enough', async () => {
    const removed = planted(removals[0]![1]);
    expect((await gate(removed, { message: 'BREAKING CHANGE: gone' })).ok).toBe(false);
    const bumped = planted((d) => {
      removals[0]![1](d);
      bump(d);
    });
    expect((await gate(bumped, { message: 'no declaration' })).ok).toBe(false);
  });

  it('an additive change (new operation, new optional response field) passes without a bump', async () => {
    const head = planted((d) => {
      d.paths['/ping'] = { get: { operationId: 'ping', security: [], responses: { '204': { description: 'Alive.' } } } };
      d.components.schemas.User!.properties!.pronouns = { type: 'string', maxLength: 40 };
    });
    const result = await gate(head);
    expect(result.breaking).toEqual([]);
    expect(result.changes.length).toBeGreaterThan(0);
    expect(result.ok).toBe(true);
    expect(changelogDraft(result.changes)).toMatch(/## Unreleased[\s\S]*### Changed[\s\S]*Added\] operation GET \/ping/);
  });

  it('a contract change without a CHANGELOG.md line fails; a version that disagrees with package.json fails', async () => {
    const head = planted((d) => void (d.paths['/ping'] = { get: { operationId: 'ping', responses: { '204': { description: 'Alive.' } } } }));
    const unchanged = await checkBreaking({ base: { spec, changelog }, head: { spec: head, changelog }, message: '', packageVersion });
    expect(unchanged.ok).toBe(false);
    expect(unchanged.problems.join('\n')).toMatch(/CHANGELOG\.md did not/);
    const skewed = await gate(spec, { version: '0.1.0' });
    expect(skewed.problems.join('\n')).toContain(`info.version (${packageVersion}) and package.json's version (0.1.0) differ`);
  });

  it('a GraphQL field removed from generated/schema.graphql is breaking', async () => {
    const removed = graphql.replace(/^type User \{\n  avatar_url: String\n/m, 'type User {\n');
    expect(removed).not.toBe(graphql);
    const result = await gate(spec, { headGraphql: removed });
    expect(result.ok).toBe(false);
    expect(result.breaking.map((c) => `${c.surface} ${c.message}`)).toContain("GraphQL Field 'avatar_url' was removed from object type 'User'");
  });
});

describe('npm run check:breaking in a git repository', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'staybook-gate-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=Gate Test', '-c', 'user.email=gate@example.com', ...args], { cwd: dir, encoding: 'utf8' });
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const run = () => spawnSync(process.execPath, ['--import', tsx, path.join(root, 'scripts/check-breaking.ts')], { cwd: dir, encoding: 'utf8' });
  const write = (file: string, text: string) => writeFileSync(path.join(dir, file), text);

  it('fails on a commit that removes an operation, passes once it is declared and the major version bumped', () => {
    git('init', '-q', '-b', 'main');
    for (const sub of ['spec', 'generated']) mkdirSync(path.join(dir, sub));
    cpSync(path.join(root, 'spec/openapi.yaml'), path.join(dir, 'spec/openapi.yaml'));
    cpSync(path.join(root, 'generated/schema.graphql'), path.join(dir, 'generated/schema.graphql'));
    write('package.json', JSON.stringify({ name: 'planted', version: packageVersion }));
    write('CHANGELOG.md', changelog);
    git('add', '-A');
    git('commit', '-q', '-m', 'release');
    git('tag', `v${packageVersion}`);

    write('spec/openapi.yaml', planted(removals[0]![1]));
    write('CHANGELOG.md', changelogWithLine);
    git('commit', '-q', '-am', 'Remove the reply deletion');
    const failed = run();
    expect(failed.stdout).toContain(`compared with v${packageVersion}`);
    expect(failed.stdout).toMatch(/BREAKING +REST +\[Removed\] operation DELETE \/reviews\/\{review_id\}\/reply/);
    expect(failed.stdout).toMatch(/breaking-change gate: FAILED/);
    expect(failed.status).toBe(1);

    write('spec/openapi.yaml', planted((d) => {
      removals[0]![1](d);
      bump(d);
    }));
    write('package.json', JSON.stringify({ name: 'planted', version: nextMajor }));
    git('commit', '-q', '-am', `Version ${nextMajor}\n\nBREAKING CHANGE: replies can no longer be deleted`);
    const passed = run();
    expect(passed.stdout).toMatch(/breaking-change gate: passed/);
    expect(passed.status).toBe(0);
  });
});
