/**
 * Opens the database: PostgreSQL when a connection string is given, otherwise
 * the embedded PGlite (a data directory, or `memory://`). Both speak the same
 * SQL, run the same migrations and return the same JavaScript types.
 *
 * A PostgreSQL that goes away is a normal event here: no pool or client error
 * ends the process, waiting for a connection is bounded, and every failure to
 * reach the server reaches the caller as SQLSTATE class 08 (connection
 * exception), which server/errors.ts answers with 503 and Retry-After. The pool
 * reconnects by itself once the server is back.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { btree_gist } from '@electric-sql/pglite/contrib/btree_gist';
import { Kysely, PostgresDialect, sql, type PostgresCursor, type PostgresPool, type PostgresPoolClient, type Transaction } from 'kysely';
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
  /** Where PostgreSQL's connection troubles are reported (one JSON line each); default stderr. */
  log?: ((line: Record<string, unknown>) => void) | undefined;
  /** Longest wait for a PostgreSQL connection (a new one, or a free one of the pool) before 08001. */
  connectTimeoutMs?: number | undefined;
}

export const DEFAULT_DATA_DIR = '.data/pglite';
export const IN_MEMORY = 'memory://';
/**
 * A refused or reset connection fails at once; this bounds the other cases: a
 * server that does not answer (a network partition), and a request queued
 * behind a pool whose every connection is busy, which then sheds load with 503.
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2000;

/** The cheapest round trip that proves the database answers (readiness probes). */
export async function pingDatabase(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}

export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  if (options.databaseUrl) {
    return openPostgres(options.databaseUrl, {
      log: options.log ?? ((line) => console.error(JSON.stringify(line))),
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    });
  }
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

/**
 * PostgreSQL could not be reached, or the connection a query ran on was lost.
 * Its `code` is the SQLSTATE of a connection exception, so it is mapped like the
 * ones the server itself sends: 08001 (could not connect), 08006 (lost).
 */
export class DatabaseConnectionError extends Error {
  constructor(
    readonly code: '08001' | '08006',
    cause: unknown,
  ) {
    super(code === '08001' ? 'Could not connect to PostgreSQL' : 'The connection to PostgreSQL was lost', { cause });
    this.name = 'DatabaseConnectionError';
  }
}

const hasSqlState = (err: unknown) => typeof (err as { code?: unknown })?.code === 'string' && /^[0-9A-Z]{5}$/.test((err as { code: string }).code);

async function openPostgres(databaseUrl: string, options: { log: NonNullable<OpenDatabaseOptions['log']>; connectTimeoutMs: number }): Promise<Database> {
  const { log } = options;
  const pool = new pg.Pool({ connectionString: databaseUrl, types: pgTypeParsers(), connectionTimeoutMillis: options.connectTimeoutMs });
  // Without these listeners an error event on a connection (the server restarting or
  // going away) is an uncaught exception that ends the process: the pool's for idle
  // connections, and one on every connection for the time it is checked out.
  const lost = new WeakSet<pg.PoolClient>();
  let reachable = true;
  const noteUnreachable = (err: unknown) => {
    if (reachable) log({ level: 'error', message: 'PostgreSQL is unreachable; answering 503 until it is back', error: String(err) });
    reachable = false;
  };
  pool.on('error', (err) => noteUnreachable(err));
  pool.on('connect', (client) => {
    client.on('error', (err) => {
      lost.add(client);
      noteUnreachable(err);
    });
  });

  // Kysely's view of the pool: acquiring a connection and running a query on one
  // that died fail with DatabaseConnectionError (the errors pg raises for them carry
  // no SQLSTATE: ECONNREFUSED, its own connect timeout, "Connection terminated").
  const clients = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  const kyselyPool: PostgresPool = {
    // Kysely 0.29 opens a control connection with these to cancel a running query.
    options: pool.options,
    async connect() {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        noteUnreachable(err);
        throw hasSqlState(err) ? err : new DatabaseConnectionError('08001', err);
      }
      if (!reachable) log({ level: 'info', message: 'PostgreSQL is reachable again' });
      reachable = true;
      let wrapped = clients.get(client);
      if (!wrapped) {
        const query = ((text: string | PostgresCursor<unknown>, parameters?: ReadonlyArray<unknown>) => {
          // A cursor (Kysely's stream()) is handed to pg as it is: pg returns it, not a promise.
          if (typeof text !== 'string') return client.query(text as unknown as pg.Submittable);
          return client.query(text, parameters as unknown[]).catch((err: unknown) => {
            throw lost.has(client) && !hasSqlState(err) ? new DatabaseConnectionError('08006', err) : err;
          });
        }) as unknown as PostgresPoolClient['query'];
        wrapped = { query, release: (destroy) => client.release(destroy || lost.has(client)) };
        clients.set(client, wrapped);
      }
      return wrapped;
    },
    end: () => pool.end(),
  };
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: kyselyPool }) });
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
