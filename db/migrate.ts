/**
 * Runs the migrations of db/migrations with Kysely's Migrator, on PostgreSQL
 * or PGlite alike. Failures throw, naming the migration that failed.
 */
import type { Kysely } from 'kysely';
import { Migrator, NO_MIGRATIONS, type MigrationResultSet } from 'kysely/migration';
import { migrations } from './migrations/index.js';

function migrator(db: Kysely<any>): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
  });
}

/** Applies every pending migration; returns the names it applied, in order. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  return applied(await migrator(db).migrateToLatest(), 'up');
}

/**
 * Reverts the newest `steps` applied migrations (default 1; `Infinity` reverts
 * them all); returns the names it reverted, newest first.
 */
export async function migrateDown(db: Kysely<any>, steps = 1): Promise<string[]> {
  if (!(steps >= 1)) throw new Error(`migrateDown: steps must be at least 1, got ${steps}`);
  const m = migrator(db);
  if (steps === Infinity) return applied(await m.migrateTo(NO_MIGRATIONS), 'down');
  const reverted: string[] = [];
  for (let i = 0; i < steps; i++) {
    const names = applied(await m.migrateDown(), 'down');
    if (names.length === 0) break;
    reverted.push(...names);
  }
  return reverted;
}

function applied({ error, results = [] }: MigrationResultSet, direction: 'up' | 'down'): string[] {
  if (error !== undefined) {
    const failed = results.find((result) => result.status === 'Error');
    const which = failed ? `migration ${failed.migrationName} (${direction})` : `migrating ${direction}`;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Database ${which} failed: ${reason}`, { cause: error });
  }
  return results.filter((result) => result.status === 'Success').map((result) => result.migrationName);
}
