/**
 * The one setup a test file needs: `const { env, server } = useTestApp()` at the top
 * of the file gives it a throwaway database, a server on it (with the generated
 * client at `server.client`), and closes both after its last test. Further servers
 * on the same database and Redis come from `env.start(overrides)`, and are closed
 * with it.
 */
import { afterAll, beforeAll } from 'vitest';
import type { Config } from '../../server/config.js';
import { testEnvironment, type TestEnvironment, type TestServer } from './server.js';

export interface TestAppOptions {
  /** `false`: sessions in the database and jobs in process, as on a machine without Redis. */
  redis?: boolean;
  /**
   * Settings of the file's server, over the test defaults of testEnvironment(); a
   * function when they depend on something an earlier beforeAll starts (a fake provider).
   */
  config?: Partial<Config> | (() => Partial<Config>);
}

export interface TestApp {
  env: TestEnvironment;
  server: TestServer;
}

/**
 * Registers the file's beforeAll/afterAll and returns the environment and server
 * they make. Both objects exist at once, so a file can destructure them at its top
 * level, and are filled in by the beforeAll: use them in hooks and tests, not while
 * the file is being collected.
 */
export function useTestApp(options: TestAppOptions = {}): TestApp {
  const env = {} as TestEnvironment;
  const server = {} as TestServer;
  beforeAll(async () => {
    Object.assign(env, await testEnvironment({ redis: options.redis }));
    Object.assign(server, await env.start(typeof options.config === 'function' ? options.config() : options.config));
  });
  afterAll(async () => {
    // Absent when testEnvironment() itself failed: that failure is the one to read.
    if (env.close) await env.close();
  });
  return { env, server };
}
