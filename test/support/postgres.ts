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
    // `with (force)` ends connections a test left open (PostgreSQL 13+).
    drop: () => withClient(adminUrl, (client) => client.query(`drop database if exists ${name} with (force)`)),
  };
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
