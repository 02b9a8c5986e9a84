/**
 * node --import tsx scripts/bench/profile.ts [--root <checkout>] [--seconds 10] [--top 15] [--pipeline] [--anonymous]
 *
 * Where a request's time goes: starts one production-mode server of the checkout
 * (`--root`, default this one) under `node --cpu-prof`, on a database of its own
 * with the demo data and a signed-in guest, sends signed-in `GET /properties/{id}`
 * for a while, stops it, and prints the functions with the most self time (from
 * the .cpuprofile, which it keeps under bench-results/). Run it on an old checkout
 * and on this one to see what a change took away. With `--pipeline`, the server is
 * P3's (scripts/bench/baselines.ts pipeline: getProperty answering without the
 * database), so the profile shows the pipeline's own cost.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { measure } from './load.js';
import { BENCH_WEBHOOK_SECRET, repoRoot, startNode } from './processes.js';

const args = process.argv.slice(2);
const value = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : (args[at + 1] ?? fallback);
};
const root = path.resolve(value('root', repoRoot));
const seconds = Number(value('seconds', '10'));
const top = Number(value('top', '15'));
const pipelineOnly = args.includes('--pipeline');
/** Without a token: no session read, as P1 and P3 of the bench send. */
const anonymous = args.includes('--anonymous');
const adminUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const name = `staybook_profile_${process.pid}`;
const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
const profileDir = mkdtempSync(path.join(os.tmpdir(), 'staybook-profile-'));
const outbox = mkdtempSync(path.join(os.tmpdir(), 'staybook-profile-outbox-'));

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`create database "${name}"`);
try {
  await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/seed.ts'], { cwd: root, env: { ...process.env, DATABASE_URL: databaseUrl } });
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const property = (await db.query('select id from properties order by id limit 1')).rows[0].id as string;
  const token = `sbt_profile_${process.pid}`;
  await db.query(
    `insert into sessions (token_hash, user_id, expires_at)
     select encode(sha256(convert_to($1, 'UTF8')), 'hex'), id, now() + interval '1 hour' from users where role = 'guest' order by email limit 1`,
    [token],
  );
  await db.end();

  const server = await startNode(path.join(root, pipelineOnly ? 'scripts/bench/baselines.ts' : 'server/main.ts'), {
    args: pipelineOnly ? ['pipeline', property] : [],
    pattern: pipelineOnly ? /pipeline listening on (http:\/\/\S+)/ : undefined,
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
    env: {
      NODE_ENV: 'production', PORT: '0', DATABASE_URL: databaseUrl, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: `staybook-profile-${process.pid}:`, LOG_REQUESTS: 'false', PAYMENT_PROVIDER: 'local',
      ALLOW_LOCAL_PAYMENTS_IN_PRODUCTION: 'true', STRIPE_WEBHOOK_SECRET: BENCH_WEBHOOK_SECRET, MAIL_OUTBOX_DIR: outbox, RATE_LIMITS: 'false',
    },
  });
  const load = { url: `${server.url}/properties/${property}`, headers: anonymous ? {} : { authorization: `Bearer ${token}` } };
  await measure(load, 2);
  // Both clocks are the system's monotonic clock: samples before this moment (start-up, warm-up) are left out.
  const measuredFrom = Number(process.hrtime.bigint() / 1000n);
  const result = await measure(load, seconds);
  const measuredTo = Number(process.hrtime.bigint() / 1000n);
  await server.stop();
  console.log(`${root}: ${result.requests.average.toFixed(0)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ${result.non2xx + result.errors} errors`);

  const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('the server wrote no profile');
  const profile = JSON.parse(readFileSync(path.join(profileDir, file), 'utf8')) as {
    nodes: ProfileNode[];
    startTime: number;
    samples: number[];
    timeDeltas: number[];
  };
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of (node as ProfileNode & { children?: number[] }).children ?? []) parents.set(child, node.id);
  const label = (id: number) => {
    const { functionName, url, lineNumber } = nodes.get(id)!.callFrame;
    const where = url ? `${url.replace(/^file:\/\//, '').replace(/^.*node_modules\//, '').replace(root + '/', '')}:${lineNumber + 1}` : '';
    return `${functionName || '(anonymous)'} ${where}`.trim();
  };
  /** For the top functions: for whom they ran (the nearest frames outside node:*), by time. */
  const callers = new Map<string, Map<string, number>>();
  const self = new Map<string, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < measuredFrom || at > measuredTo) return;
    const key = label(id);
    self.set(key, (self.get(key) ?? 0) + delta / 1000);
    // The nearest two frames outside Node's own modules: which library or file the time is spent for.
    const frames: string[] = [];
    for (let up = parents.get(id); up !== undefined && frames.length < 2; up = parents.get(up)) {
      const url = nodes.get(up)!.callFrame.url;
      if (url && !url.startsWith('node:')) frames.push(label(up));
    }
    const chain = frames.join(' < ') || '(node internals)';
    const byCaller = callers.get(key) ?? new Map<string, number>();
    byCaller.set(chain, (byCaller.get(chain) ?? 0) + delta / 1000);
    callers.set(key, byCaller);
  });
  const busy = [...self].filter(([key]) => !key.startsWith('(idle)'));
  const total = busy.reduce((sum, [, ms]) => sum + ms, 0);
  if (total === 0) throw new Error('no samples in the measured window (clocks differ?)');
  console.log(`self time during the measured ${seconds} s, busy total ${total.toFixed(0)} ms:`);
  const sorted = busy.sort((a, b) => b[1] - a[1]);
  for (const [key, ms] of sorted.slice(0, top)) console.log(`${((ms / total) * 100).toFixed(1).padStart(5)} %  ${key}`);
  for (const [key] of sorted.slice(0, 2)) {
    console.log(`called from (${key}):`);
    const list = [...(callers.get(key) ?? [])].sort((a, b) => b[1] - a[1]).slice(0, 4);
    for (const [chain, ms] of list) console.log(`   ${((ms / total) * 100).toFixed(1).padStart(5)} %  ${chain}`);
  }
  mkdirSync(path.join(repoRoot, 'bench-results'), { recursive: true });
} finally {
  await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.end();
  rmSync(profileDir, { recursive: true, force: true });
  rmSync(outbox, { recursive: true, force: true });
  // The server's Redis keys (sessions, queue) under this run's prefix, and nobody else's.
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const keys = await redis.keys(`staybook-profile-${process.pid}:*`).catch(() => []);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
}
process.exit(0);
