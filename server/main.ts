/**
 * Entry point of `npm start`: one server process configured from the environment
 * (and from `.env`, which the environment overrides).
 */
import { loadConfig, loadEnvFile } from './config.js';
import { startTelemetry } from './telemetry.js';

loadEnvFile();
const config = loadConfig();
// Tracing (when configured) patches http, koa, pg and ioredis as they load: start it before importing the server.
const telemetry = await startTelemetry(config);
const { startServer } = await import('./server.js');
const server = await startServer(config);
const log = server.logger;
const where = config.databaseUrl ? 'PostgreSQL' : `embedded PGlite (${config.dataDir})`;
log.info(`Staybook API listening on ${server.url} (${config.nodeEnv}, database: ${where}, sessions: ${server.deps.sessions.kind})`);
log.info(`Payments: ${config.paymentProvider} provider; jobs: ${server.deps.jobs.kind}${config.smtpUrl ? '; mail: SMTP' : `; mail outbox: ${config.mailOutboxDir}`}${telemetry ? '; traces: OTLP' : ''}`);
if (server.seeded) {
  log.info('Demo data seeded: sign in as host@example.com, guest@example.com or admin@example.com with "demo-password".');
  // Only SEED_DEMO_DATA=true gets here outside development: say loudly that an admin with a published password exists.
  if (config.nodeEnv !== 'development') log.warn('SEED_DEMO_DATA created demo accounts with the published password "demo-password", an admin among them: for a demo, never for real users.');
}
log.info(`API reference: ${server.url}/docs   spec: ${server.url}/openapi.json   metrics: ${server.url}/metrics`);

// SIGTERM (a deploy, `docker stop`): stop taking connections, finish the requests in
// flight and the jobs they owed, close the pools, exit 0. Should anything hang, the
// process still ends a little after the grace period it was given.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal} received: finishing requests in flight (up to ${config.shutdownGraceSeconds} s), then closing`);
    setTimeout(() => {
      log.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, (2 * config.shutdownGraceSeconds + 5) * 1000).unref();
    server.close().then(() => telemetry?.shutdown()).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ error: String((err as Error)?.stack ?? err) }, 'could not close cleanly');
        process.exit(1);
      },
    );
  });
}
