/**
 * Generates generated/db.ts, the Kysely table types, from the migrations:
 * an in-memory PGlite is migrated to latest and introspected by
 * kysely-codegen, so no running PostgreSQL is needed and the output is the
 * same on every machine (no paths, no timestamps).
 *
 * Text columns that a CHECK constraint limits to a list of values (`status in
 * (...)`, `amenities <@ array[...]`) are typed as that list instead of `string`:
 * as the spec's own type where the spec names one (BookingStatus, UserRole, ...)
 * and as a literal union otherwise. Where the spec enumerates a column's values,
 * the constraint must list exactly those, or generation stops and says which.
 *
 *   node --import tsx scripts/generate-db-types.ts            write generated/db.ts
 *   node --import tsx scripts/generate-db-types.ts --check    fail if it is stale
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sql } from 'kysely';
import { generate, PostgresDialect, type GenerateOptions } from 'kysely-codegen';
import { parse } from 'yaml';
import { IN_MEMORY, openDatabase, type Db } from '../db/index.js';
import { migrateToLatest } from '../db/migrate.js';

export const DB_TYPES_FILE = fileURLToPath(new URL('../generated/db.ts', import.meta.url));
const SPEC_FILE = fileURLToPath(new URL('../spec/openapi.yaml', import.meta.url));

/**
 * Columns whose values the spec enumerates: a named schema (the column is typed as
 * it, imported from the generated client types) or `Schema.property` for an enum
 * written inline in the spec (typed as the literal union).
 */
const SPEC_ENUMS: Record<string, string> = {
  'users.role': 'UserRole',
  'properties.cancellation_policy': 'CancellationPolicy',
  'properties.amenities': 'Amenity',
  'bookings.status': 'BookingStatus',
  'bookings.refund_status': 'RefundStatus',
  'payments.status': 'PaymentStatus',
  'payments.provider': 'PaymentProvider',
  'refunds.status': 'RefundStatus',
  'refunds.reason': 'RefundReason',
};

interface EnumColumn {
  column: string;
  values: string[];
  isArray: boolean;
  nullable: boolean;
  hasDefault: boolean;
}

/** Single-column CHECKs of the forms `col = ANY (ARRAY['a'::text, ...])` and `col <@ ARRAY['a'::text, ...]`, as PostgreSQL prints them. */
async function enumColumns(db: Db): Promise<EnumColumn[]> {
  const { rows } = await sql<{ table_name: string; column_name: string; definition: string; nullable: boolean; has_default: boolean }>`
    select c.conrelid::regclass::text as table_name, a.attname as column_name, pg_get_constraintdef(c.oid) as definition,
           not a.attnotnull as nullable, a.atthasdef as has_default
    from pg_constraint c
    join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
    where c.contype = 'c' and cardinality(c.conkey) = 1
    order by 1, 2`.execute(db);
  const columns: EnumColumn[] = [];
  for (const row of rows) {
    const match = /^CHECK \(\((\w+) (= ANY \(|<@ )ARRAY\[((?:'[a-z0-9_]+'::text(?:, )?)+)\]\)?\)\)$/.exec(row.definition);
    if (!match || match[1] !== row.column_name) continue;
    columns.push({
      column: `${row.table_name}.${row.column_name}`,
      values: [...match[3]!.matchAll(/'([a-z0-9_]+)'::text/g)].map((value) => value[1]!),
      isArray: match[2] === '<@ ',
      nullable: row.nullable,
      hasDefault: row.has_default,
    });
  }
  return columns;
}

/** kysely-codegen overrides (and the imports they need) for the CHECK-limited columns, checked against the spec. */
async function enumOverrides(db: Db): Promise<{ columns: Record<string, string>; imports: Record<string, string> }> {
  const schemas = (parse(await readFile(SPEC_FILE, 'utf8')) as { components: { schemas: Record<string, SpecSchema> } }).components.schemas;
  const found = await enumColumns(db);
  const columns: Record<string, string> = {};
  const imports: Record<string, string> = {};
  for (const { column, values, isArray, nullable, hasDefault } of found) {
    const specName = SPEC_ENUMS[column];
    let type = values.map((value) => `'${value}'`).join(' | ');
    if (specName) {
      const [schema, property] = specName.split('.');
      const spec = property ? schemas[schema!]?.properties?.[property] : schemas[schema!];
      const specValues = spec?.enum;
      if (!specValues || [...specValues].sort().join() !== [...values].sort().join()) {
        throw new Error(
          `The CHECK constraint on ${column} allows ${values.join(', ')}, but the spec's ${specName} ` +
            `enumerates ${specValues?.join(', ') ?? 'nothing'}. Make the migration and the spec agree.`,
        );
      }
      if (!property) {
        type = schema!;
        imports[schema!] = `./client/types.gen.js#${schema}`;
      }
    }
    if (isArray) type = type.includes('|') ? `(${type})[]` : `${type}[]`;
    if (nullable) type = `${type} | null`;
    columns[column] = hasDefault ? `Generated<${type}>` : type;
  }
  const unmatched = Object.keys(SPEC_ENUMS).filter((column) => !found.some((each) => each.column === column));
  if (unmatched.length > 0) throw new Error(`No CHECK constraint lists the values of ${unmatched.join(', ')}; SPEC_ENUMS in scripts/generate-db-types.ts expects one.`);
  return { columns, imports };
}

interface SpecSchema {
  enum?: string[];
  properties?: Record<string, SpecSchema>;
}

/** Returns the text of generated/db.ts for the current migrations. */
export async function generateDbTypes(): Promise<string> {
  const database = await openDatabase({ dataDir: IN_MEMORY });
  try {
    await migrateToLatest(database.db);
    const enums = await enumOverrides(database.db);
    return await generate({
      // kysely-codegen is CommonJS and types `db` with kysely's CJS declarations;
      // the object is the same at run time.
      db: database.db as unknown as GenerateOptions['db'],
      // `date` columns come back as 'YYYY-MM-DD' strings (see db/index.ts);
      // timestamptz stays Timestamp = ColumnType<Date, Date | string, Date | string>.
      dialect: new PostgresDialect({ dateParser: 'string', numericParser: 'string' }),
      excludePattern: 'kysely_migration*',
      overrides: { columns: enums.columns },
      customImports: enums.imports,
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
