/**
 * Entry point of `npm start`: one server process configured from the environment.
 */
import { loadConfig } from './config.js';
import { startServer } from './server.js';

const config = loadConfig();
const server = await startServer(config);
const where = config.databaseUrl ? 'PostgreSQL' : `embedded PGlite (${config.dataDir})`;
console.log(`Staybook API listening on ${server.url} (${config.nodeEnv}, database: ${where}, sessions: ${server.deps.sessions.kind})`);
console.log(`Payments: ${config.paymentProvider} provider; jobs: ${server.deps.jobs.kind}${config.smtpUrl ? '; mail: SMTP' : `; mail outbox: ${config.mailOutboxDir}`}`);
if (server.seeded) console.log('Demo data seeded: sign in as host@example.com, guest@example.com or admin@example.com with "demo-password".');
console.log(`API reference: ${server.url}/docs   spec: ${server.url}/openapi.json`);

// SIGTERM (a deploy, `docker stop`): stop taking connections, finish the requests in
// flight and the jobs they owed, close the pools, exit 0. Should anything hang, the
// process still ends a little after the grace period it was given.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal} received: finishing requests in flight (up to ${config.shutdownGraceSeconds} s), then closing`);
    setTimeout(() => {
      console.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, (2 * config.shutdownGraceSeconds + 5) * 1000).unref();
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
}
