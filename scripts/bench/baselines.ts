/**
 * The baselines a bench scenario is measured against, each a server process of its
 * own (started by scripts/bench.ts, which reads the URL it prints):
 *
 *   bare       node:http + pg: GET /properties/<id> is one `SELECT` by primary key,
 *              the row as JSON. What reading a property costs without a framework.
 *   pipeline   two servers in one process on the same data. Staybook's app (Koa,
 *              the error mapper, metrics, openapi-backend routing, validation,
 *              security, the post-response step) with getProperty answering a fixed
 *              body without touching the database, and plain Koa + @koa/router with
 *              the same handler: the pipeline's own cost, side by side.
 *
 * Settings come from the environment as for the Staybook servers (DATABASE_URL, …).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import Router from '@koa/router';
import pg from 'pg';
import { handlers } from '../../handlers/index.js';
import { createApp } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import type { Handlers } from '../../server/operations.js';
import { loadSpec, startServer } from '../../server/server.js';

const mode = process.argv[2];

const listen = (server: ReturnType<typeof createServer>) =>
  new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));

if (mode === 'bare') {
  // The same pool size as Staybook's (pg's default of 10).
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
  const server = createServer((request, response) => {
    const id = /^\/properties\/([0-9a-f-]{36})$/.exec(request.url ?? '')?.[1];
    if (!id) {
      response.writeHead(404).end();
      return;
    }
    pool.query('select * from properties where id = $1', [id]).then(
      ({ rows }) => {
        if (!rows[0]) return void response.writeHead(404).end();
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(rows[0]));
      },
      () => response.writeHead(500).end(),
    );
  });
  console.log(`bare listening on ${await listen(server)}`);
  process.once('SIGTERM', () => server.close(() => void pool.end().then(() => process.exit(0))));
} else if (mode === 'pipeline') {
  const config = { ...loadConfig(), port: 0, logRequests: false };
  const running = await startServer(config);
  const id = process.argv[3];
  const body = await fetch(`${running.url}/properties/${id}`).then((r) => r.json());
  const fixed = { status: 200, body };
  // Staybook's whole app with one handler that answers without the database.
  const staybookHandlers = { ...handlers, getProperty: async () => fixed } as unknown as Handlers;
  const { koa } = await createApp({ spec: await loadSpec(), handlers: staybookHandlers, deps: running.deps, logger: running.logger });
  const staybook = createServer(koa.callback());
  const plain = new Koa();
  const router = new Router();
  router.get('/properties/:property_id', (ctx) => {
    ctx.status = fixed.status;
    ctx.body = fixed.body;
  });
  plain.use(router.routes());
  const plainServer = createServer(plain.callback());
  console.log(`pipeline listening on ${await listen(staybook)} plain ${await listen(plainServer)}`);
  process.once('SIGTERM', () => {
    staybook.close();
    plainServer.close();
    void running.close().then(() => process.exit(0));
  });
} else {
  console.error('usage: baselines.ts bare | pipeline <property id>');
  process.exit(2);
}
