/**
 * npm run db:seed                  insert the demo data (once; a second run does nothing)
 * npm run db:seed -- --large N     also make sure N generated listings exist, for benchmarks
 *
 * Migrates first. Uses DATABASE_URL, or else the embedded database in DATA_DIR; reads .env as the server does.
 */
import { openDatabase } from '../db/index.js';
import { migrateToLatest } from '../db/migrate.js';
import { DEMO_PASSWORD, DEMO_USERS, seedDemoData } from '../server/demo-data.js';
import { loadConfig, loadEnvFile } from '../server/config.js';

const args = process.argv.slice(2);
const largeAt = args.indexOf('--large');
const extraProperties = largeAt === -1 ? 0 : Number(args[largeAt + 1]);
if (!Number.isSafeInteger(extraProperties) || extraProperties < 0) {
  console.error('usage: npm run db:seed [-- --large N]');
  process.exit(2);
}

loadEnvFile();
const config = loadConfig();
const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
const where = database.kind === 'postgres' ? 'PostgreSQL' : `PGlite (${config.dataDir})`;
try {
  await migrateToLatest(database.db);
  const started = Date.now();
  const result = await seedDemoData(database.db, { extraProperties, bookings: config, passwordHashProfile: config.passwordHashProfile });
  if (result.created) {
    console.log(`${where}: demo data inserted; sign in with password "${DEMO_PASSWORD}" as:`);
    for (const user of DEMO_USERS) console.log(`  ${user.email} (${user.role})`);
  } else {
    console.log(`${where}: demo data already present, left as it was`);
  }
  if (extraProperties > 0) {
    console.log(
      `${where}: ${result.extraPropertiesCreated} generated listings added ` +
        `(${extraProperties} wanted) in ${Date.now() - started} ms`,
    );
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await database.close();
}
