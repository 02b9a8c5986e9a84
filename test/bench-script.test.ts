/**
 * `npm run bench` end to end, short: `--quick --size small` on the scenarios that
 * need no large data (P1, P2, P3, P7), on a throwaway database. It must print each
 * figure with its baseline, ratio, goal and verdict, and write the same as JSON.
 * (Whether a goal is met depends on the machine; that is the bench's report, not a test.)
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');

it('prints every figure beside its baseline and writes them as JSON', { timeout: 300_000 }, async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'scripts/bench.ts', '--quick', '--size', 'small', '--throwaway', '--only', 'P1,P2,P3,P7', '--seconds', '1'],
    { cwd: root, env: { ...process.env, NODE_ENV: '' }, maxBuffer: 16 * 1024 * 1024 },
  );

  const line = (scenario: string) => stdout.split('\n').find((l) => l.startsWith(`${scenario} `)) ?? '';
  expect(line('P1')).toMatch(/getProperty, cache off\s+\d+\s+\d+\s+\d+\s+0\s+node:http \+ pg\s+\d+\s+\d+\s+\d+ %\s+>= 70 %\s+(PASS|MISS)/);
  expect(line('P2')).toMatch(/warm cache/);
  expect(line('P3')).toMatch(/pipeline alone.*plain Koa, same handler\s+\d+\s+\d+\s+\d+ %\s+>= 60 %\s+(PASS|MISS)/);
  expect(line('P7')).toMatch(/cold start.*\d+\.\d\d s\s+<= 5 s\s+(PASS|MISS)/);
  const file = /results: (bench-results\/\S+\.json)/.exec(stdout)?.[1];
  expect(file).toBeDefined();
  const results = JSON.parse(readFileSync(path.join(root, file!), 'utf8')) as { rows: Array<{ scenario: string; pass: boolean | null; measured?: number }> };
  rmSync(path.join(root, file!));
  expect(results.rows.map((row) => row.scenario)).toEqual(['P1', 'P2', 'P3', 'P7']);
  for (const row of results.rows.filter((r) => r.scenario !== 'P2')) {
    expect(row.measured).toBeGreaterThan(0);
    expect(typeof row.pass).toBe('boolean');
  }
});
