/**
 * Generates generated/db.ts, the Kysely table types, from the migrations:
 * an in-memory PGlite is migrated to latest and introspected by
 * kysely-codegen, so no running PostgreSQL is needed and the output is the
 * same on every machine (no paths, no timestamps).
 *
 *   node --import tsx scripts/generate-db-types.ts            write generated/db.ts
 *   node --import tsx scripts/generate-db-types.ts --check    fail if it is stale
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { generate, PostgresDialect, type GenerateOptions } from 'kysely-codegen';
import { IN_MEMORY, openDatabase } from '../db/index.js';
import { migrateToLatest } from '../db/migrate.js';

export const DB_TYPES_FILE = fileURLToPath(new URL('../generated/db.ts', import.meta.url));

/** Returns the text of generated/db.ts for the current migrations. */
export async function generateDbTypes(): Promise<string> {
  const database = await openDatabase({ dataDir: IN_MEMORY });
  try {
    await migrateToLatest(database.db);
    return await generate({
      // kysely-codegen is CommonJS and types `db` with kysely's CJS declarations;
      // the object is the same at run time.
      db: database.db as unknown as GenerateOptions['db'],
      // `date` columns come back as 'YYYY-MM-DD' strings (see db/index.ts);
      // timestamptz stays Timestamp = ColumnType<Date, Date | string, Date | string>.
      dialect: new PostgresDialect({ dateParser: 'string', numericParser: 'string' }),
      excludePattern: 'kysely_migration*',
      outFile: null,
      print: false,
      typeOnlyImports: true,
    });
  } finally {
    await database.close();
  }
}

async function main(check: boolean): Promise<void> {
  const text = await generateDbTypes();
  if (check) {
    const current = await readFile(DB_TYPES_FILE, 'utf8').catch(() => '');
    if (current !== text) {
      console.error('generated/db.ts is out of date with db/migrations; run: npm run generate');
      process.exitCode = 1;
      return;
    }
    console.log('generated/db.ts is up to date');
    return;
  }
  await writeFile(DB_TYPES_FILE, text);
  console.log('wrote generated/db.ts');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.includes('--check'));
}
