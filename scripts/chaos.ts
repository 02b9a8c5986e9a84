/**
 * `npm run chaos`: dependencies that come and go, under a small load.
 *
 * By default it starts a PostgreSQL and a Redis of its own on free ports (never
 * the machine's), two server processes on them, runs a load of anonymous searches
 * and signed-in reads against both, kills Redis for a few seconds, then stops
 * PostgreSQL for a few seconds, and prints, phase by phase, the requests and
 * their answers by kind, and how long each recovery took. It exits 1 if a server
 * process exited or any answer was neither 200 nor 503 service_unavailable.
 *
 *   npm run chaos -- [--outage 5] [--concurrency 4]
 *   npm run chaos -- --url http://127.0.0.1:3000 [--url ...] [--seconds 60]
 *
 * With --url it starts nothing: it loads the given servers (anonymous searches,
 * and signed-in reads as a user it registers) for --seconds while you stop and
 * start their PostgreSQL or Redis yourself, then prints every stretch of failed
 * answers with its length and the answers by kind.
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { propertyInput, uniqueEmail } from '../test/support/factories.js';
import {
  call,
  kindOf,
  startLoad,
  startOwnPostgres,
  startOwnRedis,
  startServerProcess,
  timeUntil,
  type Answer,
  type OwnPostgres,
  type OwnRedis,
  type ServerProcess,
} from '../test/support/instances.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string', multiple: true },
    seconds: { type: 'string', default: '60' },
    outage: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '4' },
  },
});
const outageMs = Number(values.outage) * 1000;
const concurrency = Number(values.concurrency);
/** No run may go on longer than this, whatever happens. */
const HARD_LIMIT_MS = 5 * 60_000;

type Timed = Answer & { label: string; at: number };

async function signUpAndIn(url: string, role: 'guest' | 'host'): Promise<string> {
  const email = uniqueEmail(`chaos-${role}`);
  const password = 'chaos monkey passphrase';
  const registered = await call(`${url}/users`, { method: 'POST', body: { email, password, name: `Chaos ${role}`, role } });
  if (registered.status !== 201) throw new Error(`registerUser: ${kindOf(registered)} ${JSON.stringify(registered.body)}`);
  const login = await call(`${url}/auth/login`, { method: 'POST', body: { email, password } });
  if (login.status !== 200) throw new Error(`login: ${kindOf(login)} ${JSON.stringify(login.body)}`);
  return (login.body as { access_token: string }).access_token;
}

function loadFor(urls: string[], token: string) {
  return startLoad(
    urls.flatMap((url) => [
      { label: 'anonymous search', url: `${url}/properties?limit=5` },
      { label: 'signed-in read', url: `${url}/users/me`, token },
    ]),
    { concurrency, maxMs: HARD_LIMIT_MS, pauseMs: 10 },
  );
}

function tally(answers: Timed[]): string[] {
  const counts = new Map<string, { n: number; slowest: number }>();
  for (const answer of answers) {
    const key = `${answer.label}: ${kindOf(answer)}`;
    const entry = counts.get(key) ?? { n: 0, slowest: 0 };
    entry.n += 1;
    entry.slowest = Math.max(entry.slowest, answer.ms);
    counts.set(key, entry);
  }
  return [...counts].sort().map(([key, { n, slowest }]) => `   ${key.padEnd(52)} ${String(n).padStart(6)}   slowest ${slowest} ms`);
}

function acceptable(answer: Answer): boolean {
  return answer.status === 200 || (answer.status === 503 && answer.code === 'service_unavailable' && answer.retryAfter !== null);
}

async function ownChaos(): Promise<boolean> {
  const outboxDir = mkdtempSync(path.join(tmpdir(), 'staybook-chaos-outbox-'));
  let postgres: OwnPostgres | undefined;
  let redis: OwnRedis | undefined;
  const servers: ServerProcess[] = [];
  try {
    console.log('Starting a PostgreSQL, a Redis and two server processes of our own...');
    [postgres, redis] = await Promise.all([startOwnPostgres(), startOwnRedis()]);
    const env = {
      DATABASE_URL: postgres.url, REDIS_URL: redis.url, MAIL_OUTBOX_DIR: outboxDir, NODE_ENV: 'production', ALLOW_LOCAL_PAYMENTS_IN_PRODUCTION: 'true', STRIPE_WEBHOOK_SECRET: 'whsec_chaos_run', LOG_REQUESTS: 'false',
      // The load comes from one address: the outage is the subject here, not the rate limits.
      RATE_LIMITS: 'false',
    };
    servers.push(await startServerProcess(env));
    servers.push(await startServerProcess(env));
    console.log(`   PostgreSQL :${postgres.port}, Redis :${redis.port}, servers ${servers.map((s) => s.url).join(' and ')}`);
    const [first] = servers as [ServerProcess];
    const host = await signUpAndIn(first.url, 'host');
    const listing = await call(`${first.url}/properties`, { method: 'POST', token: host, body: propertyInput() });
    if (listing.status !== 201) throw new Error(`createProperty: ${kindOf(listing)}`);
    const guest = await signUpAndIn(first.url, 'guest');

    const load = loadFor(servers.map((s) => s.url), guest);
    const phases: Array<{ name: string; from: number; to: number; note?: string }> = [];
    const phase = async (name: string, work: () => Promise<string | undefined>) => {
      const from = Date.now();
      const note = await work();
      phases.push({ name, from, to: Date.now(), ...(note ? { note } : {}) });
    };
    const everyServer = (url: (server: ServerProcess) => string, ok: (answer: Answer) => boolean, token?: string) =>
      Promise.all(servers.map((server) => timeUntil(() => call(url(server), { token }), ok, 30_000)));

    await phase('1. all up', async () => {
      await sleep(2000);
      return undefined;
    });
    await phase(`2. Redis killed for ${outageMs / 1000} s`, async () => {
      await redis!.stop();
      await sleep(outageMs);
      return undefined;
    });
    await phase('3. Redis back', async () => {
      await redis!.start();
      const took = await everyServer((s) => `${s.url}/readyz`, (a) => (a.body as { status?: string })?.status === 'ok');
      await sleep(1000);
      return `/readyz ok again after ${took.join(' ms and ')} ms`;
    });
    await phase(`4. PostgreSQL stopped for ${outageMs / 1000} s`, async () => {
      await postgres!.stop();
      await sleep(outageMs);
      return undefined;
    });
    await phase('5. PostgreSQL back', async () => {
      await postgres!.start();
      const took = await everyServer((s) => `${s.url}/users/me`, (a) => a.status === 200, guest);
      await sleep(1000);
      return `signed-in reads 200 again after ${took.join(' ms and ')} ms`;
    });
    const answers = await load.stop();

    console.log(`\n${answers.length} requests, ${concurrency} at a time, across ${servers.length} processes`);
    for (const { name, from, to, note } of phases) {
      const inPhase = answers.filter((answer) => answer.at >= from && answer.at < to);
      console.log(`${name} (${((to - from) / 1000).toFixed(1)} s, ${inPhase.length} requests)${note ? `: ${note}` : ''}`);
      for (const line of tally(inPhase)) console.log(line);
    }
    const exited = servers.filter((server) => server.exited());
    const bad = answers.filter((answer) => !acceptable(answer));
    console.log(`\nserver processes that exited: ${exited.length}`);
    for (const server of exited) console.log(`   ${server.url}: ${JSON.stringify(server.exited())}\n${server.output().slice(-2000)}`);
    console.log(`answers other than 200 or 503 service_unavailable with Retry-After: ${bad.length}`);
    return exited.length === 0 && bad.length === 0;
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    await Promise.all([postgres?.destroy(), redis?.destroy()]);
    rmSync(outboxDir, { recursive: true, force: true });
  }
}

/** Loads running servers while an operator breaks their dependencies by hand. */
async function givenChaos(urls: string[]): Promise<boolean> {
  const seconds = Math.min(Number(values.seconds), HARD_LIMIT_MS / 1000);
  const guest = await signUpAndIn(urls[0] as string, 'guest');
  console.log(`Loading ${urls.join(', ')} for ${seconds} s: stop and start their PostgreSQL or Redis now.`);
  const load = loadFor(urls, guest);
  await sleep(seconds * 1000);
  const answers = await load.stop();
  console.log(`\n${answers.length} requests, ${concurrency} at a time`);
  for (const line of tally(answers)) console.log(line);
  // Stretches of time in which answers failed, and how long until they succeeded again.
  let since: number | undefined;
  let kinds = new Set<string>();
  console.log('\nstretches without success:');
  for (const answer of answers) {
    if (answer.status !== 200 && since === undefined) since = answer.at;
    if (answer.status !== 200) kinds.add(kindOf(answer));
    if (answer.status === 200 && since !== undefined) {
      console.log(`   from ${new Date(since).toISOString()}: ${answer.at - since} ms until the next 200 (${[...kinds].join(', ')})`);
      since = undefined;
      kinds = new Set();
    }
  }
  if (since !== undefined) console.log(`   from ${new Date(since).toISOString()}: not recovered by the end (${[...kinds].join(', ')})`);
  return answers.every(acceptable);
}

const hardStop = setTimeout(() => {
  console.error(`chaos: still running after ${HARD_LIMIT_MS / 1000} s; giving up`);
  process.exit(2);
}, HARD_LIMIT_MS + 60_000);
hardStop.unref();

const ok = values.url?.length ? await givenChaos(values.url) : await ownChaos();
console.log(ok ? 'OK: no process exited; every answer was 200 or 503 service_unavailable with Retry-After.' : 'FAILED: see above.');
process.exit(ok ? 0 : 1);
