/**
 * The README's promise that its examples work as pasted: every ```sh / ```bash block
 * of README.md and docs/*.md that follows a `<!-- run -->` line is run with
 * `bash -euo pipefail` against a test server that holds the demo data and runs as
 * `npm start` does (no Redis: sessions in the database, jobs in process, emails in
 * the outbox folder). The blocks are written for http://127.0.0.1:3000; the test
 * puts the test server's port in its place. A block passes when it exits 0.
 *
 * Blocks without the marker are not run (installing, starting servers, the walks,
 * which have tests of their own); a block that calls curl must carry the marker,
 * so that a new example cannot slip in untested.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoData } from '../server/demo-data.js';
import { eventually, testEnvironment, type TestEnvironment, type TestServer } from './support/server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const RUN_MARK = '<!-- run -->';
/** Where the examples say the server is: what `npm start` prints. */
const DOCUMENTED_ORIGIN = '127.0.0.1:3000';

interface ShellBlock {
  /** file:line of the opening fence, for messages. */
  where: string;
  code: string;
  run: boolean;
}

/** The ```sh and ```bash blocks of one Markdown file, in order. */
function shellBlocks(file: string): ShellBlock[] {
  const lines = readFileSync(path.join(root, file), 'utf8').split('\n');
  const blocks: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)(`{3,})(\S*)/.exec(lines[i] ?? '');
    if (!fence) continue;
    const [, indent = '', ticks = '```', language = ''] = fence;
    const close = lines.findIndex((line, j) => j > i && line.startsWith(indent + ticks) && line.trim() === ticks);
    if (close === -1) throw new Error(`${file}:${i + 1}: a code block is never closed`);
    if (language === 'sh' || language === 'bash') {
      let previous = i - 1;
      while (previous >= 0 && lines[previous]?.trim() === '') previous--;
      blocks.push({
        where: `${file}:${i + 1}`,
        code: lines.slice(i + 1, close).map((line) => line.slice(indent.length)).join('\n'),
        run: lines[previous]?.trim() === RUN_MARK,
      });
    }
    i = close;
  }
  return blocks;
}

/** README.md first, then the docs pages it links, in name order. */
function markdownFiles(): string[] {
  const docs = readdirSync(path.join(root, 'docs')).filter((name) => name.endsWith('.md')).sort();
  return ['README.md', ...docs.map((name) => `docs/${name}`)];
}

interface BlockResult {
  code: number | null;
  output: string;
}

/**
 * Runs a block as a fresh shell would: bash with -euo pipefail, the Node that runs
 * this test first on PATH, nothing else of the test's environment, in `cwd`. Runs
 * asynchronously: the server answering it lives in this process.
 */
function runBlock(code: string, origin: string, cwd: string): Promise<BlockResult> {
  const script = code.replaceAll(DOCUMENTED_ORIGIN, origin);
  const env = {
    PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: cwd,
    LANG: 'C.UTF-8',
  };
  return new Promise((resolve) => {
    execFile('bash', ['-euo', 'pipefail', '-c', script], { cwd, env, timeout: 60_000, maxBuffer: 10 * 1024 * 1024 }, (error, stdout, stderr) => {
      const exit = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code: exit, output: `${stdout}${stderr}${error?.killed ? '\n(killed: ran longer than 60 s)' : ''}` });
    });
  });
}

const blocks = markdownFiles().flatMap(shellBlocks);
const runnable = blocks.filter((block) => block.run);

let env: TestEnvironment;
let server: TestServer;
let origin: string;
/** The blocks' working directory: `.data/outbox` in it is the server's outbox, as with `npm start`. */
let cwd: string;
beforeAll(async () => {
  cwd = mkdtempSync(path.join(tmpdir(), 'staybook-readme-'));
  const outbox = path.join(cwd, '.data', 'outbox');
  mkdirSync(outbox, { recursive: true });
  env = await testEnvironment({ redis: false });
  server = await env.start({ mailOutboxDir: outbox });
  await seedDemoData(server.deps.db, { bookings: server.deps.config });
  origin = new URL(server.url).host;
});
afterAll(async () => {
  await env?.close();
  if (cwd) rmSync(cwd, { recursive: true, force: true });
});

describe('the README and docs/ examples', () => {
  it('mark every block that calls the server, and only those', () => {
    expect(runnable.length).toBeGreaterThanOrEqual(7);
    for (const block of blocks) {
      const callsServer = /\bcurl\b/.test(block.code);
      if (callsServer) expect(block.run, `${block.where} calls curl but has no ${RUN_MARK} line before it`).toBe(true);
      const commands = block.code.replace(/(^|\s)#.*$/gm, '');
      if (block.run) expect(commands, `${block.where} is marked to run but installs or starts a server`).not.toMatch(/\bnpm (ci|install|start)\b/);
      expect(block.code, `${block.where}: use ${DOCUMENTED_ORIGIN}, the address npm start prints`).not.toMatch(/localhost:3000/);
      expect(block.code, `${block.where}: jq and uuidgen are not on a fresh machine; read JSON with node`).not.toMatch(/\b(jq|uuidgen)\b/);
    }
  });

  it('fails a block that fails: a refused request, an unset variable, a failing pipe', async () => {
    const refused = await runBlock(`curl -sS --fail-with-body http://${DOCUMENTED_ORIGIN}/users/me`, origin, cwd);
    expect(refused.code).toBe(22);
    expect(refused.output).toContain('"code":"unauthenticated"');
    expect((await runBlock('echo "$TOKEN"', origin, cwd)).code).not.toBe(0);
    expect((await runBlock(`curl -sS http://${DOCUMENTED_ORIGIN}/healthz | false | cat`, origin, cwd)).code).not.toBe(0);
  });

  for (const block of runnable) {
    it(`runs ${block.where} as pasted`, async () => {
      if (block.code.includes('.data/outbox')) {
        // Someone pasting this has read a paragraph since the payment: its emails are out.
        await eventually(async () => {
          const owed = await server.deps.db.selectFrom('notifications').select('id').where('status', '=', 'pending').execute();
          expect(owed).toEqual([]);
        });
      }
      const { code, output } = await runBlock(block.code, origin, cwd);
      expect(code, `${block.where} exited ${code}:\n${block.code}\n--- output ---\n${output}`).toBe(0);
    });
  }
});
