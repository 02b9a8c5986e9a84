/**
 * The processes a bench run starts and always stops: Staybook servers (production
 * mode, each in its own Node process, as deployed), the baseline servers of
 * scripts/bench/baselines.ts, and the embedded cold start. Each child prints the
 * URL it listens on; everything it prints is kept for the error message should it
 * die early.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { settingsMeta } from '../../server/config.js';

/** The local provider's webhook secret for this run's production-mode servers (production refuses the public default). */
export const BENCH_WEBHOOK_SECRET = `whsec_bench_${randomBytes(8).toString('hex')}`;

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface Child {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
// Whatever ends the bench (an error, Ctrl-C), no server outlives it.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of running) child.kill('SIGKILL');
    process.exit(130);
  });
}
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Runs `node --import tsx <script>` (or plain `node <script>` for built JavaScript, dist/**.js) and resolves with the first URL it prints (`pattern`'s first group). */
export function startNode(
  script: string,
  options: { env: Record<string, string | undefined>; args?: string[]; nodeArgs?: string[]; pattern?: RegExp; timeoutMs?: number },
): Promise<Child & { startedIn: number }> {
  const pattern = options.pattern ?? /listening on (http:\/\/[^\s"]+)/;
  const started = performance.now();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...(script.endsWith('.js') ? [] : ['--import', 'tsx']), script, ...(options.args ?? [])], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    running.delete(child);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${script} did not start within ${options.timeoutMs ?? 60_000} ms:\n${output.slice(-2000)}`));
    }, options.timeoutMs ?? 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 100_000) output = output.slice(-50_000);
      const match = pattern.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        child.stdout?.removeAllListeners('data');
        // Keep draining, so a chatty child never blocks on a full pipe.
        child.stdout?.resume();
        resolve({ url: match[1], pid: child.pid!, stop, startedIn: performance.now() - started });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}) before listening:\n${output.slice(-2000)}`));
    });
  });
}

/** The variable of a setting, when this checkout has it (rate limits and the read cache come from other work). */
export function settingVariable(candidates: RegExp): string | undefined {
  return settingsMeta().find((meta) => candidates.test(meta.env))?.env;
}

export interface StaybookOptions {
  databaseUrl?: string | undefined;
  redisUrl?: string | undefined;
  redisKeyPrefix: string;
  outboxDir: string;
  /** Extra settings (variables) for this server. */
  env?: Record<string, string>;
  nodeArgs?: string[];
}

/** A production-mode Staybook server, as `npm start` runs it (through tsx instead of a build). */
export function startStaybook(options: StaybookOptions): Promise<Child & { startedIn: number }> {
  const rateLimits = settingVariable(/^RATE_LIMITS?$/);
  return startNode('server/main.ts', {
    nodeArgs: options.nodeArgs,
    env: {
      NODE_ENV: 'production',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: options.databaseUrl,
      REDIS_URL: options.redisUrl,
      REDIS_KEY_PREFIX: options.redisKeyPrefix,
      LOG_REQUESTS: 'false',
      LOG_LEVEL: 'info',
      PAYMENT_PROVIDER: 'local',
      ALLOW_LOCAL_PAYMENTS_IN_PRODUCTION: 'true',
      // Production refuses the local provider's public default secret.
      STRIPE_WEBHOOK_SECRET: BENCH_WEBHOOK_SECRET,
      MAIL_OUTBOX_DIR: options.outboxDir,
      // The bench measures the pipeline, not the limits that would refuse its load.
      ...(rateLimits ? { [rateLimits]: 'false' } : {}),
      ...options.env,
    },
  });
}
