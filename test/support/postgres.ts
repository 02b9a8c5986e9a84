/**
 * A throwaway PostgreSQL database per test file, so test files can run in
 * parallel without seeing each other's rows. Created from the server named by
 * DATABASE_URL (default: the local test server) through its `postgres` db.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_SERVER_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `staybook_test_${randomBytes(6).toString('hex')}`;
  const adminUrl = withDatabase(TEST_SERVER_URL, 'postgres');
  await withClient(adminUrl, (client) => client.query(`create database ${name}`));
  return {
    url: withDatabase(TEST_SERVER_URL, name),
    drop: () =>
      withClient(adminUrl, async (client) => {
        // pg's pool.end() resolves once it has asked its connections to close, not once they
        // have: a forced drop at that moment terminates them, and their clients, already
        // released by the pool, raise 57P01 as an uncaught error. Give them a moment to go.
        for (let wait = 0; wait < 50 && (await connectionsTo(client, name)) > 0; wait++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        // `with (force)` then only ends connections a test really left open (PostgreSQL 13+).
        await client.query(`drop database if exists ${name} with (force)`);
      }),
  };
}

async function connectionsTo(client: pg.Client, database: string): Promise<number> {
  const { rows } = await client.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where datname = $1', [database]);
  return rows[0]?.n ?? 0;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function withClient(url: string, work: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}
