/**
 * Counts the SQL statements a test server runs: installs a Kysely plugin on its
 * `deps.db` (handlers read it per request), so a test can say how many queries a
 * request cost (batched GraphQL links, a refusal that must run none).
 */
import type { KyselyPlugin } from 'kysely';
import type { TestServer } from './server.js';

export interface StatementCounter {
  /** Runs `work` and says how many statements the server ran meanwhile. */
  count<T>(work: () => Promise<T>): Promise<{ result: T; statements: number }>;
}

export function countStatementsOf(server: TestServer): StatementCounter {
  let statements = 0;
  const plugin: KyselyPlugin = {
    transformQuery: (args) => {
      statements += 1;
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  server.deps.db = server.deps.db.withPlugin(plugin);
  return {
    async count(work) {
      const before = statements;
      const result = await work();
      return { result, statements: statements - before };
    },
  };
}
