/**
 * npm run bench:graphql [-- --duration 15 --connections 20 --rounds 3 --json FILE]   (duration per route, split over the rounds)
 *
 * The cost of the GraphQL layer: starts one server in this process (the embedded
 * PGlite in memory with the demo data, or DATABASE_URL / REDIS_URL when set), then
 * runs two scenarios, each through GraphQL beside its REST baseline for the same
 * duration and concurrency, and prints throughputs, latencies and their ratio:
 *   1. one property: REST `GET /properties/{id}` vs GraphQL `getProperty` selecting
 *      every field REST returns;
 *   2. a search page of 20 with hosts: REST `GET /properties?limit=20` (the page
 *      alone: REST has no way to join hosts) vs GraphQL `listProperties(limit: 20)`
 *      with every field and `host { id name bio }`, which also reads the hosts (one
 *      batched read since the links are batched; one getUser per listing before).
 * Each pair alternates in rounds (REST, GraphQL, REST, GraphQL, …) so that a change in
 * the machine's load during the run weighs on both alike; totals are over all rounds.
 * With `--json FILE` the figures are also written as JSON, to compare runs.
 *
 * NODE_ENV defaults to production here (no response validation, no access logs),
 * as a deployment would run; set NODE_ENV=development to measure with validation.
 * autocannon's client runs in a worker thread so that it does not share the
 * server's event loop.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import autocannon from 'autocannon';
import { loadConfig } from '../server/config.js';
import { startServer } from '../server/server.js';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at === -1 ? fallback : Number(process.argv[at + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

const duration = option('duration', 15);
const connections = option('connections', 20);
const rounds = Math.round(option('rounds', 3));
const secondsPerRound = Math.max(1, Math.round(duration / rounds));
const config = {
  ...loadConfig({ NODE_ENV: 'production', ...process.env }),
  port: 0,
  dataDir: process.env.DATA_DIR || 'memory://',
  logRequests: false,
  // autocannon sends everything from one address: measure the server, not its rate limits.
  rateLimits: false,
  // A benchmark on the embedded database reads the demo data, and takes no money.
  seedOnFirstStart: true,
  allowLocalPaymentsInProduction: true,
  // Production refuses the local provider's public default secret.
  stripeWebhookSecret: `whsec_bench_${randomBytes(8).toString('hex')}`,
};

const server = await startServer(config);
try {
  const list = await fetch(`${server.url}/properties?limit=1`).then((r) => r.json() as Promise<{ data: { id: string }[] }>);
  const id = list.data[0]?.id;
  if (!id) throw new Error('No property to read: seed one with `npm run db:seed` (DATABASE_URL) or use the embedded default.');
  const graphqlUrl = `${server.url}/graphql`;
  const asGraphQL = (query: string, variables: Record<string, unknown>): Partial<autocannon.Options> => ({
    url: graphqlUrl,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const post = async (request: Partial<autocannon.Options>) =>
    (await fetch(request.url!, { method: 'POST', headers: request.headers as Record<string, string>, body: request.body as string }).then((r) => r.json())) as {
      data?: Record<string, unknown>;
      errors?: unknown;
    };

  // 1. One property, every field REST returns.
  const restUrl = `${server.url}/properties/${id}`;
  const restBody = (await fetch(restUrl).then((r) => r.json())) as Record<string, unknown>;
  const propertyQuery = asGraphQL(`query Property($id: UUID!) { getProperty(property_id: $id) { ${Object.keys(restBody).join(' ')} } }`, { id });
  // Both must answer the same property before their speed means anything.
  const one = await post(propertyQuery);
  if (one.errors || JSON.stringify(one.data?.getProperty) !== JSON.stringify(restBody)) {
    throw new Error(`GraphQL and REST disagree: ${JSON.stringify(one).slice(0, 500)}`);
  }

  // 2. A search page with its hosts.
  const pageUrl = `${server.url}/properties?limit=20`;
  const restPage = (await fetch(pageUrl).then((r) => r.json())) as { data: Record<string, unknown>[] };
  const fields = Object.keys(restPage.data[0]!).filter((field) => field !== 'photos' && field !== 'distance_km');
  const pageQuery = asGraphQL(`query Page($limit: Int) { listProperties(limit: $limit) { data { ${fields.join(' ')} photos host { id name bio } } next_cursor } }`, { limit: 20 });
  const page = await post(pageQuery);
  const pageData = (page.data?.listProperties as { data?: { id: string; host?: unknown }[] } | undefined)?.data;
  if (page.errors || pageData?.map((p) => p.id).join() !== restPage.data.map((p) => p.id).join() || pageData?.some((p) => !p.host)) {
    throw new Error(`GraphQL's page differs from REST's or lacks hosts: ${JSON.stringify(page).slice(0, 500)}`);
  }

  const run = async (title: string, request: Partial<autocannon.Options>, seconds: number) => {
    const result = await autocannon({ connections, workers: 1, ...request, duration: seconds } as autocannon.Options);
    if (result.errors || result.non2xx) throw new Error(`${title}: ${result.errors} errors, ${result.non2xx} non-2xx answers`);
    return result;
  };
  /** Throughput over all rounds, latency averaged by request count, percentiles as the median round's. */
  const total = (results: autocannon.Result[]) => {
    const requests = results.reduce((sum, r) => sum + r.requests.total, 0);
    const seconds = results.reduce((sum, r) => sum + r.duration, 0);
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    return {
      requests,
      perSecond: requests / seconds,
      average: results.reduce((sum, r) => sum + r.latency.average * r.requests.total, 0) / requests,
      p50: median(results.map((r) => r.latency.p50)),
      p99: median(results.map((r) => r.latency.p99)),
    };
  };
  type Totals = ReturnType<typeof total>;

  console.log(
    `${rounds} rounds x ${secondsPerRound}s per route, ${connections} connections, ` +
      `${config.databaseUrl ? 'PostgreSQL' : 'embedded PGlite (memory)'}, sessions in ${server.deps.sessions.kind}, ` +
      `NODE_ENV=${config.nodeEnv}, response validation ${config.validateResponses ? 'on' : 'off'}, Node ${process.version}\n`,
  );
  const scenarios = [
    { name: 'one property', rest: { title: 'REST    GET /properties/{id}', request: { url: restUrl } }, graphql: { title: 'GraphQL getProperty', request: propertyQuery } },
    {
      name: 'search page of 20 with hosts',
      rest: { title: 'REST    GET /properties?limit=20', request: { url: pageUrl } },
      graphql: { title: 'GraphQL listProperties + host', request: pageQuery },
    },
  ];
  const results: { scenario: string; rest: Totals; graphql: Totals; ratio: number }[] = [];
  for (const scenario of scenarios) {
    // Warm-up: JIT, connection pools, the parse and validation caches.
    await run(scenario.rest.title, scenario.rest.request, 2);
    await run(scenario.graphql.title, scenario.graphql.request, 2);
    const restRounds: autocannon.Result[] = [];
    const graphqlRounds: autocannon.Result[] = [];
    for (let round = 1; round <= rounds; round++) {
      const rest = await run(scenario.rest.title, scenario.rest.request, secondsPerRound);
      const graphql = await run(scenario.graphql.title, scenario.graphql.request, secondsPerRound);
      restRounds.push(rest);
      graphqlRounds.push(graphql);
      console.log(`${scenario.name}, round ${round}: REST ${rest.requests.average.toFixed(0)} req/s, GraphQL ${graphql.requests.average.toFixed(0)} req/s, ratio ${(graphql.requests.average / rest.requests.average).toFixed(2)}`);
    }
    const rest = total(restRounds);
    const graphql = total(graphqlRounds);
    results.push({ scenario: scenario.name, rest, graphql, ratio: graphql.perSecond / rest.perSecond });
  }

  const row = (name: string, r: Totals) =>
    `${name.padEnd(36)} ${r.perSecond.toFixed(0).padStart(8)} ${r.average.toFixed(2).padStart(9)} ` +
    `${String(r.p50).padStart(8)} ${String(r.p99).padStart(8)} ${r.requests.toString().padStart(9)}`;
  console.log(`\n${'route'.padEnd(36)} ${'req/s'.padStart(8)} ${'avg ms'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'requests'.padStart(9)}`);
  for (const [index, result] of results.entries()) {
    console.log(row(scenarios[index]!.rest.title, result.rest));
    console.log(row(scenarios[index]!.graphql.title, result.graphql));
    console.log(`  ${result.scenario}: GraphQL / REST throughput ${result.ratio.toFixed(2)} (average latency x${(result.graphql.average / result.rest.average).toFixed(2)})`);
  }
  const jsonAt = process.argv.indexOf('--json');
  if (jsonAt !== -1 && process.argv[jsonAt + 1]) {
    await writeFile(process.argv[jsonAt + 1]!, `${JSON.stringify({ node: process.version, connections, rounds, secondsPerRound, results }, null, 2)}\n`);
  }
} finally {
  await server.close();
}
