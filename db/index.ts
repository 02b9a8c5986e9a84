/**
 * Opens the database: PostgreSQL when a connection string is given, otherwise
 * the embedded PGlite (a data directory, or `memory://`). Both speak the same
 * SQL, run the same migrations and return the same JavaScript types.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { btree_gist } from '@electric-sql/pglite/contrib/btree_gist';
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { DB } from '../generated/db.js';
import { PGliteDialect, pgliteTypeParsers } from './pglite-dialect.js';

export type { DB } from '../generated/db.js';
export type Db = Kysely<DB>;
export type Tx = Transaction<DB>;

/** How busy a connection pool is (pg.Pool's own counts), for /metrics. */
export type PoolUsage = Pick<pg.Pool, 'totalCount' | 'idleCount' | 'waitingCount'>;

export interface Database {
  db: Kysely<DB>;
  kind: 'postgres' | 'pglite';
  /** The PostgreSQL pool's counts; undefined on PGlite, which has one connection and no pool. */
  pool?: PoolUsage | undefined;
  /** True when the embedded data directory was created by this open (or is in memory). */
  isNew: boolean;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL connection string; without it the embedded PGlite is used. */
  databaseUrl?: string | undefined;
  /** PGlite data directory (default `.data/pglite`); `memory://` keeps nothing. */
  dataDir?: string | undefined;
}

export const DEFAULT_DATA_DIR = '.data/pglite';
export const IN_MEMORY = 'memory://';

export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl);
  return openPglite(options.dataDir || DEFAULT_DATA_DIR);
}

/**
 * node-postgres type parsers, set on this pool only (not pg's global types),
 * matching pgliteTypeParsers: `date` stays 'YYYY-MM-DD' (pg would make a Date at
 * local midnight) and numeric[] stays string[] like numeric (pg would make
 * floats). int8 and numeric are strings and timestamptz a Date by default.
 */
function pgTypeParsers(): pg.TypeOverrides {
  const types = new pg.TypeOverrides();
  const textArray = types.getTypeParser(1009) as unknown as (value: string) => string[]; // pg's text[] parser
  types.setTypeParser(1082, (value: string) => value); // date
  types.setTypeParser(1182, textArray); // date[]
  types.setTypeParser(1231, textArray); // numeric[]
  return types;
}

async function openPostgres(databaseUrl: string): Promise<Database> {
  const pool = new pg.Pool({ connectionString: databaseUrl, types: pgTypeParsers() });
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return { db, kind: 'postgres', isNew: false, pool, close: () => db.destroy() };
}

async function openPglite(dataDir: string): Promise<Database> {
  const inMemory = dataDir.startsWith(IN_MEMORY);
  let isNew = true;
  let location = dataDir;
  if (!inMemory) {
    location = resolve(dataDir);
    // PG_VERSION is written by initdb: a directory without it was never a database.
    isNew = !existsSync(join(location, 'PG_VERSION'));
    mkdirSync(location, { recursive: true });
  }
  const pglite = await PGlite.create(location, {
    extensions: { btree_gist },
    parsers: pgliteTypeParsers,
  });
  const db = new Kysely<DB>({ dialect: new PGliteDialect({ pglite }) });
  return { db, kind: 'pglite', isNew, close: () => db.destroy() };
}
