/**
 * npm run bench [-- --size small|large|xl] [--quick] [--only P1,P3] [--compare bench-results/<file>.json]
 *                  [--rounds N] [--seconds S] [--throwaway | --fresh]
 *
 * Starts what it needs and measures Staybook beside baselines, in the same run,
 * in alternating rounds (scripts/bench/load.ts):
 *   P1 getProperty (read cache off) vs a bare node:http + pg SELECT by primary key   goal >= 70 %
 *   P2 getProperty with a warm read cache vs the same bare server                   goal >= 100 %
 *   P3 the pipeline alone (a getProperty that answers without the database) vs plain Koa   goal >= 60 %
 *   P4 search by city + free dates + max price, 32 connections                      goal p99 <= 50 ms
 *   P5 GraphQL getProperty, and a search page with hosts, vs the same through REST  goal >= 70 %
 *   P6 createBooking across two server processes, distinct free stays              goal >= 1,000 bookings/s
 *      then a check that no two live stays of a property overlap
 *   P7 cold start of the embedded default (no DATABASE_URL) to a healthy /healthz   goal <= 5 s
 *
 * PostgreSQL: a database `staybook_bench_<size>` on BENCH_POSTGRES_URL (default the
 * local server), created and seeded with `npm run db:seed -- --size <size>` when
 * missing and kept for the next run (`--fresh`: dropped and made again first, e.g. when
 * the seed refuses data of another size; `--throwaway`: a new one, dropped at the end).
 * Redis: REDIS_URL (default local), under a key prefix of this run, removed at the end.
 * Servers run in production mode, rate limits off, each in its own process.
 * Results go to bench-results/<timestamp>.json (git-ignored).
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { alone, figures, measure, sideBySide, type Figures, type Load } from './bench/load.js';
import { BENCH_WEBHOOK_SECRET, repoRoot, settingVariable, startNode, startStaybook, type Child } from './bench/processes.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const value = (name: string) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? undefined : args[at + 1];
};
const quick = flag('quick');
const size = value('size') ?? 'large';
if (!['small', 'medium', 'large', 'xl'].includes(size)) throw new Error('--size must be small, medium, large or xl');
const only = value('only')?.split(',').map((s) => s.trim().toUpperCase());
const wanted = (scenario: string) => !only || only.includes(scenario);
const timing = {
  rounds: Number(value('rounds') ?? (quick ? 1 : 3)),
  seconds: Number(value('seconds') ?? (quick ? 1 : 5)),
  warmup: quick ? 1 : 2,
};
const compareWith = value('compare');

const adminUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomBytes(4).toString('hex');
const databaseName = flag('throwaway') ? `staybook_bench_${run}` : `staybook_bench_${size}`;
const databaseUrl = (() => {
  const url = new URL(adminUrl);
  url.pathname = `/${databaseName}`;
  return url.toString();
})();
const redisKeyPrefix = `staybook-bench-${run}:`;
const outboxDir = mkdtempSync(path.join(os.tmpdir(), 'staybook-bench-outbox-'));
const cacheVariable = settingVariable(/^(CACHE|READ_CACHE|CACHE_ENABLED)$/);

interface Row {
  scenario: string;
  title: string;
  figures?: Figures;
  baseline?: { title: string; figures: Figures };
  /** The figure the goal is about, e.g. the ratio to the baseline or p99 in ms. */
  measured?: number;
  goal: { text: string; met: (measured: number) => boolean };
  note?: string;
}
const rows: Row[] = [];
const started: Child[] = [];

async function start<T extends Child>(child: Promise<T>): Promise<T> {
  const c = await child;
  started.push(c);
  return c;
}
async function stop(child: Child | undefined): Promise<void> {
  if (!child) return;
  await child.stop();
  started.splice(started.indexOf(child), 1);
}

const ratioGoal = (percent: number) => ({ text: `>= ${percent} %`, met: (ratio: number) => ratio * 100 >= percent });

async function prepareDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    if (flag('fresh')) await admin.query(`drop database if exists "${databaseName}" with (force)`);
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [databaseName]);
    if (!rowCount) await admin.query(`create database "${databaseName}"`);
  } finally {
    await admin.end();
  }
  // The data helper's sized seed when this checkout has it; else the demo data plus generated listings.
  const seedSource = readFileSync(path.join(repoRoot, 'scripts/seed.ts'), 'utf8');
  const seedArgs = seedSource.includes('--size') ? ['--size', size] : size === 'small' ? [] : ['--large', size === 'xl' ? '100000' : '20000'];
  if (!seedSource.includes('--size')) console.log(`(this checkout's seed has no --size; seeding with: db:seed ${seedArgs.join(' ') || '(demo data)'})`);
  const t0 = performance.now();
  await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/seed.ts', ...seedArgs], {
    cwd: repoRoot,
    env: { ...process.env, DATABASE_URL: databaseUrl, NODE_ENV: 'development' },
    maxBuffer: 64 * 1024 * 1024,
  }).catch((err: Error & { stderr?: string }) => {
    throw new Error(`seeding ${databaseName} failed (run again with --fresh to start from an empty database):\n${err.stderr ?? err.message}`);
  });
  console.log(`database ${databaseName} ready (${size}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** What the scenarios read: a property, the busiest city, a mid price, dates a month out. */
async function pickTargets(db: pg.Client) {
  const property = (await db.query('select id from properties where deleted_at is null order by id limit 1')).rows[0]?.id as string | undefined;
  if (!property) throw new Error('no property in the bench database');
  const city = (await db.query('select city from properties where deleted_at is null group by city order by count(*) desc limit 1')).rows[0].city as string;
  const price = Number((await db.query('select percentile_disc(0.5) within group (order by price_per_night) as p from properties')).rows[0].p);
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  const counts = (await db.query(
    `select (select count(*) from users)::int as users, (select count(*) from properties)::int as properties,
            (select count(*) from bookings)::int as bookings, (select count(*) from reviews)::int as reviews`,
  )).rows[0] as Record<string, number>;
  return { property, city, maxPrice: price, checkIn: day(30), checkOut: day(33), counts };
}

function graphqlLoad(url: string, query: string, variables: Record<string, unknown>): Load {
  return { url: `${url}/graphql`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) };
}

async function checkGraphql(url: string, load: Load): Promise<void> {
  const answer = (await fetch(load.url, { method: 'POST', headers: load.headers as Record<string, string>, body: load.body as string }).then((r) => r.json())) as {
    errors?: unknown;
  };
  if (answer.errors) throw new Error(`GraphQL at ${url} answered errors: ${JSON.stringify(answer.errors).slice(0, 500)}`);
}

/**
 * P6: guests with sessions made in SQL (production password hashing would take minutes).
 * The same guests serve every run on a kept database: made once, their sessions renewed.
 */
async function prepareBookings(db: pg.Client, guests: number) {
  await db.query(
    `insert into users (email, password_hash, role, name)
     select 'bench-guest-' || i || '@example.com', 'not-a-hash', 'guest', 'Bench guest ' || i from generate_series(1, $1::int) as i
     where not exists (select 1 from users u where u.email = 'bench-guest-' || i || '@example.com')`,
    [guests],
  );
  await db.query(
    `insert into sessions (token_hash, user_id, expires_at)
     select encode(sha256(convert_to('sbt_bench_' || substring(email from '^bench-guest-([0-9]+)@'), 'UTF8')), 'hex'), id, now() + interval '1 day'
     from users where email like 'bench-guest-%'
     on conflict (token_hash) do update set expires_at = excluded.expires_at`,
  );
  const tokens = Array.from({ length: guests }, (_, i) => `sbt_bench_${i + 1}`);
  // Listings without a live stay in the window, so that every request books a free stay.
  const windowStart = 60;
  const slots = 20;
  const { rows } = await db.query(
    `select p.id, p.min_nights from properties p
     where p.deleted_at is null and p.min_nights <= 2 and p.max_nights >= 2
       and not exists (select 1 from bookings b where b.property_id = p.id and b.status in ('pending', 'confirmed')
                       and b.check_out > current_date + $1::int and b.check_in < current_date + $2::int)
     order by p.id limit 5000`,
    [windowStart, windowStart + slots * 3],
  );
  return { tokens, properties: rows as Array<{ id: string; min_nights: number }>, windowStart, slots };
}

function bookingLoad(url: string, side: 0 | 1, plan: Awaited<ReturnType<typeof prepareBookings>>, amount: number): Load {
  let next = 0;
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  const P = plan.properties.length;
  return {
    url,
    connections: 16,
    amount,
    requests: [
      {
        method: 'POST',
        path: '/bookings',
        setupRequest: (request) => {
          // Even stays on one process, odd on the other: every request a distinct free stay.
          const k = next++ * 2 + side;
          const property = plan.properties[k % P]!;
          const slot = Math.floor(k / P) % plan.slots;
          const checkIn = plan.windowStart + slot * 3;
          return {
            ...request,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${plan.tokens[k % plan.tokens.length]}` },
            body: JSON.stringify({ property_id: property.id, check_in: day(checkIn), check_out: day(checkIn + Math.max(1, property.min_nights)), guests: 1 }),
          };
        },
      },
    ],
  };
}

async function coldStart(): Promise<number> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'staybook-bench-cold-'));
  try {
    // What `npm start` on a fresh clone runs after its build: the compiled server, no DATABASE_URL,
    // no REDIS_URL, the embedded PGlite, demo data. The build is not part of the start-up measured.
    const built = performance.now();
    await promisify(execFile)('npm', ['run', '--silent', 'build'], { cwd: repoRoot });
    console.log(`P7: built dist/ with \`npm run build\` in ${((performance.now() - built) / 1000).toFixed(1)} s (not counted); measuring \`node dist/server/main.js\``);
    const t0 = performance.now();
    const child = await start(startNode('dist/server/main.js', { env: { PORT: '0', DATA_DIR: dataDir, MAIL_OUTBOX_DIR: outboxDir, LOG_REQUESTS: 'false' } }));
    for (;;) {
      const response = await fetch(`${child.url}/healthz`).catch(() => undefined);
      if (response?.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const seconds = (performance.now() - t0) / 1000;
    await stop(child);
    return seconds;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(
    `Staybook bench: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, Node ${process.version}; size ${size}; ` +
      `${timing.rounds} round(s) of ${timing.seconds} s per side${quick ? ' (quick)' : ''}`,
  );
  if (os.loadavg()[0]! > os.cpus().length * 0.5) console.log('note: the machine is busy with other work; figures are noisy, ratios less so');
  const needsData = ['P1', 'P2', 'P3', 'P4', 'P5', 'P6'].some(wanted);
  let db: pg.Client | undefined;
  let staybook: Child | undefined;
  let bare: Child | undefined;
  try {
    if (needsData) {
      await prepareDatabase();
      db = new pg.Client({ connectionString: databaseUrl });
      await db.connect();
    }
    const targets = db ? await pickTargets(db) : undefined;
    if (targets) console.log(`data: ${Object.entries(targets.counts).map(([k, v]) => `${v} ${k}`).join(', ')}; PostgreSQL ${(await db!.query('show server_version')).rows[0].server_version}`);
    const server = (env: Record<string, string> = {}) =>
      start(startStaybook({ databaseUrl, redisUrl, redisKeyPrefix, outboxDir, env: { ...(cacheVariable ? { [cacheVariable]: 'false' } : {}), ...env } }));

    if (targets && ['P1', 'P2', 'P4', 'P5'].some(wanted)) {
      staybook = await server();
      bare = await start(startNode('scripts/bench/baselines.ts', { args: ['bare'], env: { DATABASE_URL: databaseUrl } }));
    }
    const propertyPath = `/properties/${targets?.property}`;

    if (targets && staybook && bare && wanted('P1')) {
      const [a, b] = await sideBySide({ url: staybook.url + propertyPath }, { url: bare.url + propertyPath }, timing);
      rows.push({ scenario: 'P1', title: 'getProperty, cache off', figures: a, baseline: { title: 'node:http + pg', figures: b }, measured: a.rps / b.rps, goal: ratioGoal(70) });
    }
    if (targets && bare && wanted('P2')) {
      if (!cacheVariable) {
        rows.push({ scenario: 'P2', title: 'getProperty, warm cache', goal: ratioGoal(100), note: 'cache not available (no cache setting in this checkout)' });
      } else {
        const cached = await server({ [cacheVariable]: 'true' });
        const [a, b] = await sideBySide({ url: cached.url + propertyPath }, { url: bare.url + propertyPath }, timing);
        await stop(cached);
        rows.push({ scenario: 'P2', title: 'getProperty, warm cache', figures: a, baseline: { title: 'node:http + pg', figures: b }, measured: a.rps / b.rps, goal: ratioGoal(100) });
      }
    }
    if (targets && staybook && wanted('P4')) {
      const query = new URLSearchParams({ city: targets.city, check_in: targets.checkIn, check_out: targets.checkOut, max_price: String(targets.maxPrice) });
      const a = await alone({ url: `${staybook.url}/properties?${query}`, connections: 32 }, timing);
      rows.push({ scenario: 'P4', title: `search ${targets.city} + dates + max price, 32 conn.`, figures: a, measured: a.p99, goal: { text: 'p99 <= 50 ms', met: (p99) => p99 <= 50 } });
    }
    if (targets && staybook && wanted('P5')) {
      const restBody = (await fetch(staybook.url + propertyPath).then((r) => r.json())) as Record<string, unknown>;
      const one = graphqlLoad(staybook.url, `query P($id: UUID!) { getProperty(property_id: $id) { ${Object.keys(restBody).join(' ')} } }`, { id: targets.property });
      await checkGraphql(staybook.url, one);
      const [a, b] = await sideBySide(one, { url: staybook.url + propertyPath }, timing);
      rows.push({ scenario: 'P5a', title: 'GraphQL getProperty', figures: a, baseline: { title: 'REST getProperty', figures: b }, measured: a.rps / b.rps, goal: ratioGoal(70) });

      // A search page of 20 with each listing's host: one GraphQL query, or REST's page and then each distinct host.
      const page = (await fetch(`${staybook.url}/properties?city=${encodeURIComponent(targets.city)}&limit=20`).then((r) => r.json())) as { data: Array<{ host_id: string }> };
      const hosts = [...new Set(page.data.map((p) => p.host_id))];
      const pageQuery = graphqlLoad(
        staybook.url,
        'query S($city: String) { listProperties(city: $city, limit: 20) { data { id name city price_per_night host { id name } } next_cursor } }',
        { city: targets.city },
      );
      await checkGraphql(staybook.url, pageQuery);
      const restPage: Load = {
        url: staybook.url,
        requests: [
          { method: 'GET', path: `/properties?city=${encodeURIComponent(targets.city)}&limit=20` },
          ...hosts.map((host) => ({ method: 'GET' as const, path: `/users/${host}` })),
        ],
      };
      const [g, r] = await sideBySide(pageQuery, restPage, timing);
      // REST's figures count requests; a page is 1 + hosts of them.
      const perPage = 1 + hosts.length;
      const restPages = { ...r, rps: r.rps / perPage, requests: Math.round(r.requests / perPage) };
      rows.push({
        scenario: 'P5b',
        title: `GraphQL search page + ${hosts.length} hosts`,
        figures: g,
        baseline: { title: `REST page + ${hosts.length} GET /users (pages/s)`, figures: restPages },
        measured: g.rps / restPages.rps,
        goal: ratioGoal(70),
      });
    }
    await stop(bare);
    bare = undefined;

    if (targets && wanted('P3')) {
      const pipeline = await start(
        startNode('scripts/bench/baselines.ts', {
          args: ['pipeline', targets.property],
          pattern: /pipeline listening on (http:\/\/\S+ plain http:\/\/\S+)/,
          env: { NODE_ENV: 'production', DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: redisKeyPrefix, PORT: '0', LOG_REQUESTS: 'false', PAYMENT_PROVIDER: 'local', ALLOW_LOCAL_PAYMENTS_IN_PRODUCTION: 'true', STRIPE_WEBHOOK_SECRET: BENCH_WEBHOOK_SECRET, MAIL_OUTBOX_DIR: outboxDir, ...(settingVariable(/^RATE_LIMITS?$/) ? { [settingVariable(/^RATE_LIMITS?$/)!]: 'false' } : {}) },
        }),
      );
      const [ours, plain] = pipeline.url.split(' plain ') as [string, string];
      const [a, b] = await sideBySide({ url: ours + propertyPath }, { url: plain + propertyPath }, timing);
      await stop(pipeline);
      rows.push({ scenario: 'P3', title: 'pipeline alone (fixed getProperty)', figures: a, baseline: { title: 'plain Koa, same handler', figures: b }, measured: a.rps / b.rps, goal: ratioGoal(60) });
    }

    if (db && wanted('P6')) {
      staybook ??= await server();
      const second = await server();
      const plan = await prepareBookings(db, quick ? 500 : 10_000);
      const capacity = plan.properties.length * plan.slots;
      // Capped by the free stays there are; stopped after p6Seconds otherwise.
      const perSide = Math.max(16, Math.floor(capacity / 2));
      const t0 = performance.now();
      const p6Seconds = timing.seconds * 2;
      const results = await Promise.all([measure(bookingLoad(staybook.url, 0, plan, perSide), p6Seconds), measure(bookingLoad(second.url, 1, plan, perSide), p6Seconds)]);
      const seconds = (performance.now() - t0) / 1000;
      await stop(second);
      const created = results.reduce((sum, r) => sum + (r['2xx'] ?? 0), 0);
      const all = figures(results);
      const overlaps = Number(
        (await db.query(
          `select count(*)::int as n from bookings a join bookings b on a.property_id = b.property_id and a.id < b.id
           where a.status in ('pending', 'confirmed') and b.status in ('pending', 'confirmed')
             and daterange(a.check_in, a.check_out, '[)') && daterange(b.check_in, b.check_out, '[)')`,
        )).rows[0].n,
      );
      rows.push({
        scenario: 'P6',
        title: `createBooking, 2 processes, ${plan.properties.length} listings`,
        figures: { ...all, rps: created / seconds },
        measured: created / seconds,
        goal: { text: '>= 1000 /s', met: (rate) => rate >= 1000 && overlaps === 0 },
        note: `${created} bookings created in ${seconds.toFixed(1)} s, ${all.errors} refused or failed; overlapping live stays afterwards: ${overlaps}`,
      });
    }
    await stop(staybook);
    staybook = undefined;

    if (wanted('P7')) {
      const seconds = await coldStart();
      rows.push({ scenario: 'P7', title: 'cold start, embedded PGlite, to /healthz', measured: seconds, goal: { text: '<= 5 s', met: (s) => s <= 5 }, note: `${seconds.toFixed(2)} s (node dist/server/main.js, as npm start runs it after its build)` });
    }
  } finally {
    for (const child of [...started]) await stop(child);
    await db?.end();
    await cleanUp();
  }
  report();
}

async function cleanUp(): Promise<void> {
  rmSync(outboxDir, { recursive: true, force: true });
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisKeyPrefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch {
    // Redis gone: nothing of ours is left in it worth a failure.
  } finally {
    redis.disconnect();
  }
  if (flag('throwaway')) {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`drop database if exists "${databaseName}" with (force)`);
    await admin.end();
  }
}

function report(): void {
  const previous = compareWith ? (JSON.parse(readFileSync(compareWith, 'utf8')) as { rows: Array<{ scenario: string; figures?: Figures; measured?: number }> }) : undefined;
  const num = (n: number | undefined, digits = 0) => (n === undefined ? '-' : n.toFixed(digits));
  const header = ['', 'scenario', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'baseline', 'base req/s', 'base p99', 'measured', 'goal', '', ...(previous ? ['previous'] : [])];
  const lines = rows.map((row) => {
    const measured = row.measured === undefined ? '-' : row.goal.text.includes('%') ? `${(row.measured * 100).toFixed(0)} %` : row.goal.text.includes('ms') ? `${row.measured} ms` : row.goal.text.includes(' s') ? `${row.measured.toFixed(2)} s` : row.measured.toFixed(0);
    const before = previous?.rows.find((r) => r.scenario === row.scenario);
    const beforeText = before?.measured === undefined ? '-' : row.goal.text.includes('%') ? `${(before.measured * 100).toFixed(0)} %` : before.measured.toFixed(2);
    return [
      row.scenario,
      row.title,
      num(row.figures?.rps),
      num(row.figures?.p50),
      num(row.figures?.p99),
      num(row.figures?.errors),
      row.baseline?.title ?? '',
      num(row.baseline?.figures.rps),
      num(row.baseline?.figures.p99),
      measured,
      row.goal.text,
      row.measured === undefined ? 'n/a' : row.goal.met(row.measured) ? 'PASS' : 'MISS',
      ...(previous ? [beforeText] : []),
    ];
  });
  const widths = header.map((_, i) => Math.max(...[header, ...lines].map((line) => String(line[i] ?? '').length)));
  const print = (line: string[]) => console.log(line.map((cell, i) => (i >= 2 && i <= 5 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd());
  console.log('');
  print(header);
  for (const line of lines) print(line);
  for (const row of rows) if (row.note) console.log(`${row.scenario}: ${row.note}`);
  mkdirSync(path.join(repoRoot, 'bench-results'), { recursive: true });
  const file = path.join('bench-results', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    path.join(repoRoot, file),
    JSON.stringify(
      {
        at: new Date().toISOString(),
        machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), loadavg: os.loadavg(), node: process.version },
        options: { size, quick, ...timing },
        rows: rows.map(({ goal, ...row }) => ({ ...row, goal: goal.text, pass: row.measured === undefined ? null : goal.met(row.measured) })),
      },
      null,
      2,
    ),
  );
  console.log(`\nresults: ${file}${existsSync(path.join(repoRoot, file)) ? '' : ' (not written)'}`);
}

await main();
process.exit(0);
