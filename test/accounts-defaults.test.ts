/**
 * Production defaults (issue 13, finding 9): the demo accounts, whose password is
 * published in the README, are seeded unasked only in development (what `npm start`
 * runs by default); production and test seed them only when SEED_DEMO_DATA asks.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { loadConfig } from '../server/config.js';
import { DEMO_PASSWORD } from '../server/demo-data.js';
import { startServer } from '../server/server.js';
import { clientFor } from './support/server.js';

/** A production deployment on the embedded database (no DATABASE_URL), as `docker run` of the image would be. */
function productionEnv(extra: Record<string, string> = {}) {
  return {
    NODE_ENV: 'production',
    DATA_DIR: 'memory://',
    PORT: '0',
    LOG_REQUESTS: 'false',
    LOG_LEVEL: 'error',
    // A demo deployment on the local provider, with a secret of its own.
    ALLOW_LOCAL_PAYMENTS_IN_PRODUCTION: 'true',
    STRIPE_WEBHOOK_SECRET: 'whsec_accounts_defaults_test_secret',
    ...extra,
  };
}

describe('SEED_DEMO_DATA', () => {
  it.each([
    [{}, true],
    [{ NODE_ENV: 'development' }, true],
    [{ NODE_ENV: 'production' }, false],
    [{ NODE_ENV: 'test' }, false],
    [{ NODE_ENV: 'production', SEED_DEMO_DATA: 'true' }, true],
    [{ NODE_ENV: 'development', SEED_DEMO_DATA: 'false' }, false],
  ])('%o seeds on a new embedded database: %s', (env, seeds) => {
    expect(loadConfig(env).seedOnFirstStart).toBe(seeds);
  });
});

// Each test starts a server on a new PGlite (migrations in WebAssembly) and hashes with production's argon2 profile:
// seconds alone, more when the whole suite shares the machine's cores.
describe('a production start without DATABASE_URL', { timeout: 120_000 }, () => {
  it('creates no demo accounts, so admin@example.com / demo-password signs nobody in', async () => {
    const server = await startServer(loadConfig(productionEnv()));
    try {
      expect(server.seeded).toBe(false);
      const users = await server.deps.db.selectFrom('users').select('email').execute();
      expect(users).toEqual([]);
      const login = await api.login({ client: clientFor(server.url), body: { email: 'admin@example.com', password: DEMO_PASSWORD } });
      expect(login.response.status).toBe(401);
    } finally {
      await server.close();
    }
  });

  it('seeds them when SEED_DEMO_DATA=true asks (a public demo)', async () => {
    const server = await startServer(loadConfig(productionEnv({ SEED_DEMO_DATA: 'true' })));
    try {
      expect(server.seeded).toBe(true);
      const admin = await server.deps.db.selectFrom('users').select('role').where('email', '=', 'admin@example.com').executeTakeFirst();
      expect(admin?.role).toBe('admin');
    } finally {
      await server.close();
    }
  });
});
