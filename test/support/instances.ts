/**
 * A PostgreSQL, a Redis and Staybook server processes of a test's (or a
 * script's) own, on free loopback ports, that it may stop and start at will:
 * outage tests never touch the machine's shared PostgreSQL and Redis. Every
 * process started here is ended by its pid at process exit, should the caller
 * never stop it itself.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** PostgreSQL refuses to run as root; its instances run as this system user (created once). */
const PG_USER = 'staybookpg';

/** Every pid started here, ended at exit whatever happens to the caller. */
const started = new Set<number>();
process.once('exit', () => {
  for (const pid of started) killQuietly(pid, 'SIGKILL');
});

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function pgBin(name: string): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const candidate = path.join(root, version, 'bin', name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`PostgreSQL's ${name} was not found under ${root}`);
}

function asPgUser(command: string[]): string {
  const quoted = command.map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(' ');
  return execFileSync('su', [PG_USER, '-s', '/bin/sh', '-c', quoted], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function ensurePgUser(): void {
  try {
    execFileSync('id', ['-u', PG_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['-r', '-M', PG_USER], { stdio: 'ignore' });
  }
}

export interface OwnPostgres {
  port: number;
  /** The `postgres` database of this instance. */
  url: string;
  /** The postmaster's pid while running, else undefined. */
  pid(): number | undefined;
  start(): Promise<void>;
  /** `pg_ctl stop -m fast`: every connection is terminated (57P01), new ones are refused. */
  stop(): Promise<void>;
  /** Stops the server and deletes its data directory. */
  destroy(): Promise<void>;
}

/** initdb into a fresh temporary directory and start it on a free port. */
export async function startOwnPostgres(): Promise<OwnPostgres> {
  ensurePgUser();
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'staybook-pg-'));
  const { uid, gid } = userIds(PG_USER);
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
  const dataDir = path.join(dir, 'data');
  asPgUser([pgBin('initdb'), '-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const pidFile = path.join(dataDir, 'postmaster.pid');
  const readPid = () => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) || undefined : undefined);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const instance: OwnPostgres = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    pid: readPid,
    async start() {
      asPgUser([pgBin('pg_ctl'), '-D', dataDir, '-o', options, '-l', path.join(dir, 'log'), '-w', '-t', '30', 'start']);
      const pid = readPid();
      if (pid) started.add(pid);
    },
    async stop() {
      const pid = readPid();
      asPgUser([pgBin('pg_ctl'), '-D', dataDir, '-m', 'fast', '-w', '-t', '30', 'stop']);
      if (pid) started.delete(pid);
    },
    async destroy() {
      const pid = readPid();
      if (pid) {
        try {
          asPgUser([pgBin('pg_ctl'), '-D', dataDir, '-m', 'immediate', '-w', '-t', '10', 'stop']);
        } catch {
          killQuietly(pid, 'SIGKILL');
        }
        started.delete(pid);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await instance.start();
  return instance;
}

function userIds(name: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

export interface OwnRedis {
  port: number;
  url: string;
  pid(): number | undefined;
  start(): Promise<void>;
  /** Kills it (SIGKILL, like a crash): nothing is saved, it comes back empty. */
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

/** A Redis without persistence on a free port. */
export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'staybook-redis-'));
  const pidFile = path.join(dir, 'redis.pid');
  let pid: number | undefined;
  const instance: OwnRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: () => pid,
    async start() {
      execFileSync('redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--daemonize', 'yes', '--pidfile', pidFile, '--dir', dir, '--logfile', path.join(dir, 'log'),
      ]);
      pid = await waitFor(() => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) || undefined : undefined), 'redis pid file');
      started.add(pid);
    },
    async stop() {
      if (!pid) return;
      const stopping = pid;
      killQuietly(stopping, 'SIGKILL');
      started.delete(stopping);
      pid = undefined;
      rmSync(pidFile, { force: true });
      await waitFor(() => (isAlive(stopping) ? undefined : true), 'redis to exit');
    },
    async destroy() {
      await instance.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await instance.start();
  return instance;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor<T>(check: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote, for a failing test to show. */
  output(): string;
  /** Set once the process has exited (it should not, before stop()). */
  exited(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Its exit code, once it has exited (null when a signal ended it). */
  exitCode: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * `node --import tsx server/main.ts` with `env` added to a minimal environment,
 * on a free port; resolves once it prints the address it listens on.
 */
export async function startServerProcess(env: Record<string, string>, timeoutMs = 120_000): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'test', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid) started.add(child.pid);
  let output = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exitCode = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      if (child.pid) started.delete(child.pid);
      resolve(code);
    }),
  );
  const url = await waitFor(
    () => {
      if (exit) throw new Error(`server exited (${exit.code ?? exit.signal}) before listening:\n${output}`);
      return /listening on (http:\/\/\S+)/.exec(output)?.[1];
    },
    'the server to listen',
    timeoutMs,
  );
  return {
    url,
    child,
    output: () => output,
    exited: () => exit,
    exitCode,
    async stop() {
      if (exit || !child.pid) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

export interface Answer {
  /** The HTTP status, or 0 when no answer came (refused, reset, timed out). */
  status: number;
  /** The problem's `code`, when the answer is a problem document. */
  code: string | undefined;
  retryAfter: string | null;
  body: unknown;
  ms: number;
  /** Why no answer came (status 0). */
  error?: string;
}

/**
 * One request on a connection of its own (no keep-alive: a reused connection the
 * server has just closed would count as an outage it did not cause), never
 * waiting longer than `timeoutMs`.
 */
export async function call(
  url: string,
  options: { method?: string; token?: string | undefined; body?: unknown; timeoutMs?: number } = {},
): Promise<Answer> {
  const started = performance.now();
  const headers: Record<string, string> = { connection: 'close' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve) => {
    const finish = (answer: Omit<Answer, 'ms'>) => resolve({ ...answer, ms: Math.round(performance.now() - started) });
    const req = request(url, { method: options.method ?? 'GET', headers, agent: false, timeout: options.timeoutMs ?? 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('error', (err) => finish({ status: 0, code: undefined, retryAfter: null, body: undefined, error: String(err) }));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON: keep the text
        }
        const code = typeof (body as { code?: unknown })?.code === 'string' ? (body as { code: string }).code : undefined;
        const retryAfter = res.headers['retry-after'];
        finish({ status: res.statusCode ?? 0, code, retryAfter: typeof retryAfter === 'string' ? retryAfter : null, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => finish({ status: 0, code: undefined, retryAfter: null, body: undefined, error: err.message }));
    if (options.body !== undefined) req.end(JSON.stringify(options.body));
    else req.end();
  });
}

/** How an answer counts in a load's tally: `200`, `503 service_unavailable`, `no answer (ECONNRESET)`. */
export function kindOf(answer: Answer): string {
  if (answer.status === 0) return `no answer (${answer.error ?? 'unknown'})`;
  return answer.code ? `${answer.status} ${answer.code}` : String(answer.status);
}

export interface LoadRequest {
  label: string;
  url: string;
  token?: string | undefined;
}

export interface Load {
  /** Stops the load and returns every answer it got, oldest first. */
  stop(): Promise<Array<Answer & { label: string; at: number }>>;
}

/**
 * `concurrency` loops, each sending the requests in turn, one at a time, until
 * stopped or `maxMs` has passed (a load that can never run away).
 */
export function startLoad(requests: LoadRequest[], options: { concurrency: number; maxMs: number; pauseMs?: number }): Load {
  const answers: Array<Answer & { label: string; at: number }> = [];
  const deadline = Date.now() + options.maxMs;
  let stopped = false;
  const loops = Array.from({ length: options.concurrency }, async (_, loop) => {
    for (let i = loop; !stopped && Date.now() < deadline; i++) {
      const next = requests[i % requests.length] as LoadRequest;
      const at = Date.now();
      const answer = await call(next.url, { token: next.token, timeoutMs: 5000 });
      answers.push({ ...answer, label: next.label, at });
      if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return answers.sort((a, b) => a.at - b.at);
    },
  };
}

/** Calls `attempt` until `ok` holds for its answer; the milliseconds that took. Throws after `timeoutMs`. */
export async function timeUntil(attempt: () => Promise<Answer>, ok: (answer: Answer) => boolean, timeoutMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const answer = await attempt();
    if (ok(answer)) return Math.round(performance.now() - started);
    if (performance.now() - started > timeoutMs) throw new Error(`not recovered within ${timeoutMs} ms; last answer ${kindOf(answer)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
