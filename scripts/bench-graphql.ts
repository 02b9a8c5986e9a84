/**
 * npm run bench:graphql [-- --duration 15 --connections 20 --rounds 3]   (duration per route, split over the rounds)
 *
 * The cost of the GraphQL layer: starts one server in this process (the embedded
 * PGlite in memory with the demo data, or DATABASE_URL / REDIS_URL when set), then
 * reads the same property through REST `GET /properties/{id}` and through GraphQL
 * `getProperty` (selecting every field REST returns), each for the same duration and
 * concurrency, and prints both throughputs, latencies and their ratio side by side.
 * The two alternate in rounds (REST, GraphQL, REST, GraphQL, …) so that a change in
 * the machine's load during the run weighs on both alike; totals are over all rounds.
 *
 * NODE_ENV defaults to production here (no response validation, no access logs),
 * as a deployment would run; set NODE_ENV=development to measure with validation.
 * autocannon's client runs in a worker thread so that it does not share the
 * server's event loop.
 */
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
};

const server = await startServer(config);
try {
  const list = await fetch(`${server.url}/properties?limit=1`).then((r) => r.json() as Promise<{ data: { id: string }[] }>);
  const id = list.data[0]?.id;
  if (!id) throw new Error('No property to read: seed one with `npm run db:seed` (DATABASE_URL) or use the embedded default.');

  const restUrl = `${server.url}/properties/${id}`;
  const restBody = (await fetch(restUrl).then((r) => r.json())) as Record<string, unknown>;
  const query = `query Property($id: UUID!) { getProperty(property_id: $id) { ${Object.keys(restBody).join(' ')} } }`;
  const graphqlBody = JSON.stringify({ query, variables: { id } });
  const graphqlUrl = `${server.url}/graphql`;

  // Both must answer the same property before their speed means anything.
  const check = (await fetch(graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: graphqlBody }).then((r) => r.json())) as {
    data?: { getProperty?: unknown };
    errors?: unknown;
  };
  if (check.errors || JSON.stringify(check.data?.getProperty) !== JSON.stringify(restBody)) {
    throw new Error(`GraphQL and REST disagree: ${JSON.stringify(check).slice(0, 500)}`);
  }

  const restRequest: Partial<autocannon.Options> = { url: restUrl };
  const graphqlRequest: Partial<autocannon.Options> = { url: graphqlUrl, method: 'POST', headers: { 'content-type': 'application/json' }, body: graphqlBody };
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

  console.log(
    `Reading property ${id} for ${rounds} x ${secondsPerRound}s each, ${connections} connections, ` +
      `${config.databaseUrl ? 'PostgreSQL' : 'embedded PGlite (memory)'}, sessions in ${server.deps.sessions.kind}, ` +
      `NODE_ENV=${config.nodeEnv}, response validation ${config.validateResponses ? 'on' : 'off'}, Node ${process.version}\n`,
  );
  // Warm-up: JIT, connection pools, the parse and validation caches.
  await run('REST', restRequest, 2);
  await run('GraphQL', graphqlRequest, 2);
  const restRounds: autocannon.Result[] = [];
  const graphqlRounds: autocannon.Result[] = [];
  for (let round = 1; round <= rounds; round++) {
    const rest = await run('REST', restRequest, secondsPerRound);
    const graphql = await run('GraphQL', graphqlRequest, secondsPerRound);
    restRounds.push(rest);
    graphqlRounds.push(graphql);
    console.log(`round ${round}: REST ${rest.requests.average.toFixed(0)} req/s, GraphQL ${graphql.requests.average.toFixed(0)} req/s, ratio ${(graphql.requests.average / rest.requests.average).toFixed(2)}`);
  }
  const rest = total(restRounds);
  const graphql = total(graphqlRounds);

  const row = (name: string, r: ReturnType<typeof total>) =>
    `${name.padEnd(36)} ${r.perSecond.toFixed(0).padStart(8)} ${r.average.toFixed(2).padStart(9)} ` +
    `${String(r.p50).padStart(8)} ${String(r.p99).padStart(8)} ${r.requests.toString().padStart(9)}`;
  console.log(`\n${'route'.padEnd(36)} ${'req/s'.padStart(8)} ${'avg ms'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'requests'.padStart(9)}`);
  console.log(row('REST    GET /properties/{id}', rest));
  console.log(row('GraphQL getProperty (POST /graphql)', graphql));
  const ratio = graphql.perSecond / rest.perSecond;
  console.log(
    `\nGraphQL / REST throughput: ${ratio.toFixed(2)} (GraphQL serves ${(ratio * 100).toFixed(0)}% of REST's requests per second; ` +
      `average latency x${(graphql.average / rest.average).toFixed(2)})`,
  );
} finally {
  await server.close();
}
