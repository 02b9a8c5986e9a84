/**
 * npm run db:migrate            apply pending migrations
 * npm run db:migrate -- down    revert the newest one (`down 3`, `down all`)
 *
 * Uses DATABASE_URL, or else the embedded database in DATA_DIR (default .data/pglite); reads .env as the server does.
 */
import { openDatabase } from '../db/index.js';
import { migrateDown, migrateToLatest } from '../db/migrate.js';
import { loadConfig, loadEnvFile } from '../server/config.js';

const [command = 'up', count] = process.argv.slice(2);
if (command !== 'up' && command !== 'down') {
  console.error('usage: npm run db:migrate [-- down [N|all]]');
  process.exit(2);
}
const steps = count === 'all' ? Infinity : Number(count ?? 1);
if (command === 'down' && !(Number.isInteger(steps) || steps === Infinity)) {
  console.error(`not a number of migrations: ${count}`);
  process.exit(2);
}

loadEnvFile();
const config = loadConfig();
const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
const where = database.kind === 'postgres' ? 'PostgreSQL' : `PGlite (${config.dataDir})`;
try {
  const names = command === 'up' ? await migrateToLatest(database.db) : await migrateDown(database.db, steps);
  if (names.length === 0) console.log(`${where}: nothing to migrate ${command}`);
  for (const name of names) console.log(`${where}: migrated ${command} ${name}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await database.close();
}
