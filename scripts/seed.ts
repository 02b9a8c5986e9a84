/**
 * npm run db:seed                        insert the demo data (once; a second run does nothing)
 * npm run db:seed -- --size small        the same
 * npm run db:seed -- --size medium|large|xl [--force]
 *                                        the demo data plus generated data at scale (scripts/seed-scale.ts):
 *                                        medium 20k listings, large 100k listings and ~1M stays, xl about 3x large
 * npm run db:seed -- --large N           also make sure N generated listings exist (the older benchmark top-up)
 *
 * A sized seed writes a marker row (size and seed version). Run again with the same size it does nothing;
 * into a database that holds something else (another size or version, or users other than the demo
 * ones) it refuses, unless --force, which empties every table first.
 *
 * Migrates first. Uses DATABASE_URL, or else the embedded database in DATA_DIR; reads .env as the server does.
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { openDatabase } from '../db/index.js';
import { migrateToLatest } from '../db/migrate.js';
import { DEMO_PASSWORD, DEMO_USERS, seedDemoData } from '../server/demo-data.js';
import { loadConfig, loadEnvFile } from '../server/config.js';
import { hashPassword } from '../server/passwords.js';
import { SEED_VERSION, SIZES, seedAtScale, seedState, wipe, type ScaleProgress, type SizeName } from './seed-scale.js';

const usage = 'usage: npm run db:seed [-- --size small|medium|large|xl [--force]] [-- --large N]';
let args;
try {
  args = parseArgs({ options: { size: { type: 'string' }, force: { type: 'boolean' }, large: { type: 'string' } } }).values;
} catch (error) {
  console.error(`${error instanceof Error ? error.message : error}\n${usage}`);
  process.exit(2);
}
const size = (args.size ?? 'small') as SizeName;
const extraProperties = args.large === undefined ? 0 : Number(args.large);
if (!['small', ...Object.keys(SIZES)].includes(size) || !Number.isSafeInteger(extraProperties) || extraProperties < 0) {
  console.error(usage);
  process.exit(2);
}

loadEnvFile();
const config = loadConfig();
const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
const where = database.kind === 'postgres' ? 'PostgreSQL' : `PGlite (${config.dataDir})`;
try {
  await migrateToLatest(database.db);
  const started = Date.now();
  if (size !== 'small') {
    const state = await seedState(database.db, [...DEMO_USERS.map((u) => u.email), 'bench-host@example.com']);
    if (state.kind === 'seeded' && state.size === size && state.version === SEED_VERSION && !args.force) {
      console.log(`${where}: already seeded at size ${size} (seed version ${SEED_VERSION}), left as it was`);
      process.exit(0);
    }
    if (state.kind !== 'empty' && !args.force) {
      const holds = state.kind === 'seeded' ? `the ${state.size} seed (version ${state.version})` : `${state.users} users that are not the demo data`;
      console.error(`${where} holds ${holds}; refusing to seed ${size} into it. Run with --force to empty every table and seed ${size}.`);
      process.exit(1);
    }
    if (state.kind !== 'empty') {
      console.log(`${where}: --force: emptying every table`);
      await wipe(database.db);
    }
  }
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
  if (size !== 'small') {
    // One hash for every generated user: argon2 per user would take hours at these sizes.
    const passwordHash = await hashPassword(DEMO_PASSWORD, config.passwordHashProfile);
    const scaleStarted = Date.now();
    const { counts } = await seedAtScale(database.db, size, { ...config, passwordHash, progress: progressBar() });
    const seconds = (Date.now() - scaleStarted) / 1000;
    const rows = Object.values(counts).reduce((a, b) => a + b, 0);
    console.log(
      `${where}: seeded ${size} in ${seconds.toFixed(1)} s (${Math.round(rows / seconds)} rows/s): ` +
        Object.entries(counts).map(([table, n]) => `${n} ${table}`).join(', ') +
        `; generated users sign in as userN@seed.staybook.test with "${DEMO_PASSWORD}"`,
    );
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await database.close();
}

/** cli-progress with rows/s beside its own ETA. */
function progressBar(): ScaleProgress {
  const bar = new cliProgress.SingleBar(
    {
      format: '{bar} {percentage}% | {value}/{total} rows | {rate} rows/s | ETA {eta_formatted} | {phase}',
      etaBuffer: 20,
      // Without a terminal (CI, a log file) a line every few seconds instead of a redrawn bar.
      noTTYOutput: true,
      notTTYSchedule: 5000,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = 0;
  let done = 0;
  return {
    start(total) {
      started = Date.now();
      bar.start(total, 0, { rate: 0, phase: 'users' });
    },
    advance(rows, phase) {
      done += rows;
      bar.update(done, { rate: Math.round(done / Math.max(0.001, (Date.now() - started) / 1000)), phase });
    },
    stop() {
      bar.update(done, { phase: 'analyze' });
      bar.stop();
    },
  };
}
