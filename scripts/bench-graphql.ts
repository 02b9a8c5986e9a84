/**
 * npm run bench:graphql [-- --duration 10 --connections 20]
 *
 * The cost of the GraphQL layer: starts one server in this process (the embedded
 * PGlite in memory with the demo data, or DATABASE_URL / REDIS_URL when set), then
 * reads the same property through REST `GET /properties/{id}` and through GraphQL
 * `getProperty` (selecting every field REST returns), each for the same duration and
 * concurrency, and prints both throughputs, latencies and their ratio side by side.
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

const duration = option('duration', 10);
const connections = option('connections', 20);
const config = {
  ...loadConfig({ NODE_ENV: 'production', ...process.env }),
  port: 0,
  dataDir: process.env.DATA_DIR || 'memory://',
  logRequests: false,
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

  const run = async (title: string, request: Partial<autocannon.Options>) => {
    const options = { url: restUrl, connections, workers: 1, ...request } as autocannon.Options;
    await autocannon({ ...options, duration: 2 }); // warm-up: JIT, connection pools, prepared plans
    const result = await autocannon({ ...options, duration });
    if (result.errors || result.non2xx) throw new Error(`${title}: ${result.errors} errors, ${result.non2xx} non-2xx answers`);
    return result;
  };

  console.log(
    `Reading property ${id} for ${duration}s each, ${connections} connections, ` +
      `${config.databaseUrl ? 'PostgreSQL' : 'embedded PGlite (memory)'}, sessions in ${server.deps.sessions.kind}, ` +
      `NODE_ENV=${config.nodeEnv}, response validation ${config.validateResponses ? 'on' : 'off'}, Node ${process.version}\n`,
  );
  const rest = await run('REST', { url: restUrl });
  const graphql = await run('GraphQL', { url: graphqlUrl, method: 'POST', headers: { 'content-type': 'application/json' }, body: graphqlBody });

  const row = (name: string, r: autocannon.Result) =>
    `${name.padEnd(36)} ${r.requests.average.toFixed(0).padStart(8)} ${r.latency.average.toFixed(2).padStart(9)} ` +
    `${String(r.latency.p50).padStart(8)} ${String(r.latency.p99).padStart(8)} ${r.requests.total.toString().padStart(9)}`;
  console.log(`${'route'.padEnd(36)} ${'req/s'.padStart(8)} ${'avg ms'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'requests'.padStart(9)}`);
  console.log(row('REST    GET /properties/{id}', rest));
  console.log(row('GraphQL getProperty (POST /graphql)', graphql));
  const ratio = graphql.requests.average / rest.requests.average;
  console.log(
    `\nGraphQL / REST throughput: ${ratio.toFixed(2)} (GraphQL serves ${(ratio * 100).toFixed(0)}% of REST's requests per second; ` +
      `latency x${(graphql.latency.average / rest.latency.average).toFixed(2)})`,
  );
} finally {
  await server.close();
}
