/**
 * The database layer on both engines it runs on: a throwaway PostgreSQL
 * database and an in-memory PGlite. The same migrations, the same JS types,
 * the same constraints, and PGlite's single connection never interleaving
 * two transactions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verify } from 'argon2';
import { sql, type Insertable } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database, type Db } from '../db/index.js';
import { migrateDown, migrateToLatest } from '../db/migrate.js';
import { migrations } from '../db/migrations/index.js';
import { DEMO_PASSWORD, seedDemoData } from '../server/demo-data.js';
import type { UserRole } from '../generated/client/types.gen.js';
import type { Properties } from '../generated/db.js';
import { loadConfig } from '../server/config.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';

const MIGRATIONS = Object.keys(migrations).sort();
const TABLES = [
  'blocked_nights', 'bookings', 'conversation_admin_reads', 'conversation_participants', 'conversations', 'idempotency_keys', 'messages',
  'notifications', 'payment_events', 'payments', 'properties', 'refunds', 'reviews', 'seed_marker', 'sessions', 'users', 'wishlist_items', 'wishlists',
];
/** What the newest migration adds (the trigger that moves a conversation's last activity to its messages, no table), which migrating one step down removes. */
const NEWEST_TABLES: string[] = [];
const NEWEST_TRIGGER = 'messages_move_conversation_activity';

/** The SQLSTATE a failed query reports, or undefined when it succeeds. */
async function sqlState(query: Promise<unknown>): Promise<string | undefined> {
  try {
    await query;
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

async function tableNames(db: Db): Promise<string[]> {
  const tables = await db.introspection.getTables();
  return tables.map((table) => table.name).sort();
}

async function hasTrigger(db: Db, name: string): Promise<boolean> {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_trigger where tgname = ${name}`.execute(db);
  return rows[0]?.n === 1;
}

let emailCounter = 0;
async function insertUser(db: Db, overrides: { email?: string; role?: UserRole } = {}): Promise<string> {
  emailCounter += 1;
  const { id } = await db
    .insertInto('users')
    .values({ email: `user${emailCounter}@example.com`, role: 'host', name: 'Test User', ...overrides })
    .returning('id')
    .executeTakeFirstOrThrow();
  return id;
}

function propertyValues(hostId: string): Insertable<Properties> {
  return {
    host_id: hostId,
    name: 'Test flat',
    description: 'A flat for tests.',
    city: 'Lisbon',
    country: 'PT',
    latitude: 38.72,
    longitude: -9.14,
    price_per_night: 10000,
    currency: 'EUR',
    max_guests: 2,
    bedrooms: 1,
    amenities: ['wifi', 'kitchen'],
    photos: ['https://images.example.com/test/1.jpg'],
  };
}

const engines = [
  {
    kind: 'postgres' as const,
    async open(): Promise<{ database: Database; cleanup(): Promise<void> }> {
      const testDb: TestDatabase = await createTestDatabase();
      const database = await openDatabase({ databaseUrl: testDb.url });
      return { database, cleanup: async () => (await database.close(), await testDb.drop()) };
    },
  },
  {
    kind: 'pglite' as const,
    async open(): Promise<{ database: Database; cleanup(): Promise<void> }> {
      const database = await openDatabase({ dataDir: 'memory://' });
      return { database, cleanup: () => database.close() };
    },
  },
];

describe.each(engines)('database on $kind', (engine) => {
  let database: Database;
  let db: Db;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ database, cleanup } = await engine.open());
    db = database.db;
  }, 60_000);

  afterAll(async () => {
    await cleanup?.();
  });

  it('opens the expected engine', () => {
    expect(database.kind).toBe(engine.kind);
    expect(database.isNew).toBe(engine.kind === 'pglite');
  });

  it('migrates up, down to zero, and up again', async () => {
    expect(await migrateToLatest(db)).toEqual(MIGRATIONS);
    expect(await tableNames(db)).toEqual(TABLES);
    expect(await migrateToLatest(db)).toEqual([]);

    expect(await hasTrigger(db, NEWEST_TRIGGER)).toBe(true);
    expect(await migrateDown(db)).toEqual(MIGRATIONS.slice(-1));
    expect(await tableNames(db)).toEqual(TABLES.filter((table) => !NEWEST_TABLES.includes(table)));
    expect(await hasTrigger(db, NEWEST_TRIGGER)).toBe(false);
    expect(await migrateDown(db, Infinity)).toEqual(MIGRATIONS.slice(0, -1).reverse());
    expect(await tableNames(db)).toEqual([]);

    expect(await migrateToLatest(db)).toEqual(MIGRATIONS);
    expect(await tableNames(db)).toEqual(TABLES);
  }, 60_000);

  it('returns the same JS types from a property row', async () => {
    const hostId = await insertUser(db);
    const { id } = await db.insertInto('properties').values(propertyValues(hostId)).returning('id').executeTakeFirstOrThrow();
    const row = await db.selectFrom('properties').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    expect(row).toMatchObject({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      price_per_night: 10000,
      cleaning_fee: 0,
      max_guests: 2,
      min_nights: 1,
      max_nights: 365,
      review_count: 0,
      latitude: 38.72,
      amenities: ['wifi', 'kitchen'],
      photos: ['https://images.example.com/test/1.jpg'],
      cancellation_policy: 'moderate',
      deleted_at: null,
    });
    expect(row.created_at).toBeInstanceOf(Date);
    expect(row.updated_at).toBeInstanceOf(Date);
  });

  it('returns dates as YYYY-MM-DD, counts cast to int as numbers, int8 and numeric as strings', async () => {
    const { rows } = await sql<Record<string, unknown>>`
      select '2027-03-01'::date as day, array['2027-03-01'::date] as days,
             count(*)::int as counted, count(*) as count8,
             12.50::numeric as amount, array[1.5::numeric] as amounts,
             now() as at
      from users
    `.execute(db);
    const counted = (rows[0]?.counted as number) ?? -1;
    expect(rows[0]).toEqual({
      day: '2027-03-01',
      days: ['2027-03-01'],
      counted: expect.any(Number),
      count8: String(counted),
      amount: '12.50',
      amounts: ['1.5'],
      at: expect.any(Date),
    });
  });

  it('keeps updated_at with the set_updated_at() trigger and reports one updated row', async () => {
    const id = await insertUser(db);
    const before = await db.selectFrom('users').select('updated_at').where('id', '=', id).executeTakeFirstOrThrow();
    const result = await db.updateTable('users').set({ bio: 'Updated' }).where('id', '=', id).executeTakeFirstOrThrow();
    expect(result.numUpdatedRows).toBe(1n);
    const after = await db.selectFrom('users').select('updated_at').where('id', '=', id).executeTakeFirstOrThrow();
    expect(after.updated_at.getTime()).toBeGreaterThan(before.updated_at.getTime());

    const deleted = await db.deleteFrom('users').where('id', '=', id).executeTakeFirstOrThrow();
    expect(deleted.numDeletedRows).toBe(1n);
  });

  it('refuses an email that differs only by case with 23505', async () => {
    await insertUser(db, { email: 'Case.Test@Example.com' });
    expect(await sqlState(insertUser(db, { email: 'case.test@example.COM' }))).toBe('23505');
  });

  it('allows several deleted users without an email', async () => {
    for (let i = 0; i < 2; i++) {
      await db
        .insertInto('users')
        .values({ email: null, role: 'guest', name: 'Deleted user', deleted_at: new Date() })
        .execute();
    }
    const missing = db.insertInto('users').values({ email: null, role: 'guest', name: 'No email' }).execute();
    expect(await sqlState(missing)).toBe('23514');
  });

  it('refuses an unknown role with 23514', async () => {
    // Not a role, so the types refuse it too; the cast shows that the database does.
    expect(await sqlState(insertUser(db, { role: 'owner' as UserRole }))).toBe('23514');
  });

  it('refuses a negative price, an unknown amenity and a bad country with 23514', async () => {
    const hostId = await insertUser(db);
    const insert = (overrides: Record<string, unknown>) =>
      db.insertInto('properties').values({ ...propertyValues(hostId), ...overrides }).execute();

    expect(await sqlState(insert({ price_per_night: -100 }))).toBe('23514');
    expect(await sqlState(insert({ amenities: ['wifi', 'helipad'] }))).toBe('23514');
    expect(await sqlState(insert({ country: 'pt' }))).toBe('23514');
    expect(await sqlState(insert({ currency: 'euro' }))).toBe('23514');
    expect(await sqlState(insert({ latitude: 91 }))).toBe('23514');
    expect(await sqlState(insert({ cancellation_policy: 'lenient' }))).toBe('23514');
    expect(await sqlState(insert({ min_nights: 5, max_nights: 2 }))).toBe('23514');
    expect(await sqlState(insert({ max_guests: 0 }))).toBe('23514');
    expect(await sqlState(insert({ host_id: '00000000-0000-4000-8000-000000000000' }))).toBe('23503');
  });

  it('deletes a user’s sessions with the user', async () => {
    const userId = await insertUser(db);
    await db
      .insertInto('sessions')
      .values({ token_hash: 'a'.repeat(64), user_id: userId, expires_at: new Date(Date.now() + 3_600_000) })
      .execute();
    await db.deleteFrom('users').where('id', '=', userId).execute();
    const left = await db.selectFrom('sessions').select('token_hash').where('user_id', '=', userId).execute();
    expect(left).toEqual([]);
  });

  it('seeds the demo data once', async () => {
    const first = await seedDemoData(db, { extraProperties: 30, bookings: loadConfig({}) });
    expect(first).toEqual({ created: true, extraPropertiesCreated: 30 });

    const host = await db
      .selectFrom('users')
      .select(['role', 'name', 'password_hash'])
      .where('email', '=', 'host@example.com')
      .executeTakeFirstOrThrow();
    expect(host).toMatchObject({ role: 'host', name: 'Hana Host' });
    expect(host.password_hash).toMatch(/^\$argon2id\$/);
    expect(await verify(host.password_hash ?? '', DEMO_PASSWORD)).toBe(true);

    const second = await seedDemoData(db, { extraProperties: 30, bookings: loadConfig({}) });
    expect(second).toEqual({ created: false, extraPropertiesCreated: 0 });

    const { count } = await db
      .selectFrom('users')
      .select((eb) => eb.cast<number>(eb.fn.countAll(), 'integer').as('count'))
      .where('email', 'in', ['host@example.com', 'guest@example.com', 'admin@example.com'])
      .executeTakeFirstOrThrow();
    expect(count).toBe(3);

    const cities = await db.selectFrom('properties').select('city').distinct().execute();
    expect(cities.length).toBeGreaterThanOrEqual(8);
  }, 30_000);

  it('keeps a property\'s rating_sum and review_count equal to its live reviews, whoever writes them', async () => {
    const hostId = await insertUser(db);
    const { id: propertyId } = await db.insertInto('properties').values(propertyValues(hostId)).returning('id').executeTakeFirstOrThrow();
    // Two one-night stays that ended long ago.
    const pastStay = async (guestId: string, checkIn: string, checkOut: string) => {
      const price = { nights: 1, nightly_rate: 100, subtotal: 100, cleaning_fee: 0, service_fee: 0, total: 100, currency: 'EUR' };
      const stay = { property_id: propertyId, guest_id: guestId, check_in: checkIn, check_out: checkOut, guests: 1, status: 'completed' as const };
      return (await db.insertInto('bookings').values({ ...stay, ...price }).returning('id').executeTakeFirstOrThrow()).id;
    };
    const [ana, ben] = [await insertUser(db, { role: 'guest' }), await insertUser(db, { role: 'guest' })];
    const anaStay = await pastStay(ana, '2026-01-01', '2026-01-02');
    const benStay = await pastStay(ben, '2026-01-02', '2026-01-03');
    const review = (bookingId: string, authorId: string, rating: number) =>
      db.insertInto('reviews').values({ booking_id: bookingId, property_id: propertyId, author_id: authorId, rating, comment: 'Fine.' }).returning('id').executeTakeFirstOrThrow();
    const aggregates = () => db.selectFrom('properties').select(['rating_sum', 'review_count', 'updated_at']).where('id', '=', propertyId).executeTakeFirstOrThrow();

    const first = await review(anaStay, ana, 4);
    const second = await review(benStay, ben, 2);
    expect(await aggregates()).toMatchObject({ rating_sum: 6, review_count: 2 });

    await db.updateTable('reviews').set({ rating: 5 }).where('id', '=', first.id).execute();
    expect(await aggregates()).toMatchObject({ rating_sum: 7, review_count: 2 });
    // A new comment or a reply leaves the property's row alone.
    const before = await aggregates();
    await db.updateTable('reviews').set({ comment: 'Better than fine.', host_reply: 'Thanks!', host_replied_at: new Date(), host_reply_updated_at: new Date() }).where('id', '=', first.id).execute();
    expect(await aggregates()).toEqual(before);

    // A tombstone no longer counts; a row deleted outright neither.
    await db.updateTable('reviews').set({ rating: null, comment: null, host_reply: null, host_replied_at: null, host_reply_updated_at: null, deleted_at: new Date(), deleted_by: ana }).where('id', '=', first.id).execute();
    expect(await aggregates()).toMatchObject({ rating_sum: 2, review_count: 1 });
    await db.deleteFrom('reviews').where('id', '=', second.id).execute();
    expect(await aggregates()).toMatchObject({ rating_sum: 0, review_count: 0 });

    // One review per booking, even after deletion; only by its guest, of its property; a rating 1..5.
    expect(await sqlState(review(anaStay, ana, 3))).toBe('23505');
    expect(await sqlState(review(benStay, ana, 3))).toBe('23503');
    expect(await sqlState(review(benStay, ben, 6))).toBe('23514');
    expect(await sqlState(db.insertInto('reviews').values({ booking_id: benStay, property_id: propertyId, author_id: ben, rating: 3, comment: '   ' }).execute())).toBe('23514');
    expect(await aggregates()).toMatchObject({ rating_sum: 0, review_count: 0 });
  });

  it('moves a conversation\'s last activity forward to each newer message, whoever inserts it, and never back', async () => {
    const hostId = await insertUser(db);
    const guestId = await insertUser(db, { role: 'guest' });
    const { id: propertyId } = await db.insertInto('properties').values(propertyValues(hostId)).returning('id').executeTakeFirstOrThrow();
    const startedAt = new Date('2026-03-01T10:00:00.000Z');
    const { id: conversationId } = await db
      .insertInto('conversations')
      .values({ property_id: propertyId, guest_id: guestId, host_id: hostId, created_at: startedAt, last_activity_at: startedAt })
      .returning('id')
      .executeTakeFirstOrThrow();
    const lastActivity = async () =>
      (await db.selectFrom('conversations').select('last_activity_at').where('id', '=', conversationId).executeTakeFirstOrThrow()).last_activity_at.toISOString();
    const message = (senderId: string, at: string) =>
      db.insertInto('messages').values({ conversation_id: conversationId, sender_id: senderId, body: 'Hello', created_at: new Date(at) }).execute();

    await message(guestId, '2026-03-02T09:00:00.000Z');
    expect(await lastActivity()).toBe('2026-03-02T09:00:00.000Z');
    await message(hostId, '2026-03-02T09:30:00.250Z');
    expect(await lastActivity()).toBe('2026-03-02T09:30:00.250Z');
    // A message from before (an import of old history) leaves it where it is.
    await message(guestId, '2026-03-01T12:00:00.000Z');
    expect(await lastActivity()).toBe('2026-03-02T09:30:00.250Z');
    // So no message of the thread is newer than its last activity, which the inbox and the hosts' response numbers rely on.
    const { newest } = await db.selectFrom('messages').select((eb) => eb.fn.max('created_at').as('newest')).where('conversation_id', '=', conversationId).executeTakeFirstOrThrow();
    expect(new Date(newest as Date).toISOString()).toBe(await lastActivity());
  });

  it('rolls back a failed transaction and keeps serving', async () => {
    const failing = db.transaction().execute(async (trx) => {
      await trx.insertInto('users').values({ email: 'rollback@example.com', role: 'guest', name: 'Rolled back' }).execute();
      throw new Error('boom');
    });
    await expect(failing).rejects.toThrow('boom');
    const found = await db.selectFrom('users').select('id').where('email', '=', 'rollback@example.com').execute();
    expect(found).toEqual([]);
  });
});

describe('the PGlite dialect', () => {
  it('never interleaves two transactions on the single PGlite connection', async () => {
    const { db, close } = await openDatabase({ dataDir: 'memory://' });
    await sql`create table test_counter (id int primary key, n int not null)`.execute(db);
    await sql`insert into test_counter values (1, 0)`.execute(db);

    // Each transaction reads, yields to the event loop, then writes what it read
    // plus one: if another query ran in between, an increment would be lost.
    const increment = () =>
      db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ n: number }>`select n from test_counter where id = 1`.execute(trx);
        await new Promise((resolve) => setTimeout(resolve, 5));
        const result = await sql`update test_counter set n = ${(rows[0]?.n ?? 0) + 1} where id = 1`.execute(trx);
        expect(result.numAffectedRows).toBe(1n);
      });
    // Plain queries issued meanwhile wait for the connection too.
    const reads = Array.from({ length: 5 }, () => sql`select n from test_counter`.execute(db));
    await Promise.all([...Array.from({ length: 10 }, increment), ...reads]);

    const { rows } = await sql<{ n: number }>`select n from test_counter where id = 1`.execute(db);
    expect(rows[0]?.n).toBe(10);
    await close();
  });
});

describe('embedded database on disk', () => {
  it('reports isNew only when it creates the data directory', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'staybook-pglite-'));
    const dataDir = join(parent, 'db');
    try {
      const first = await openDatabase({ dataDir });
      expect(first.isNew).toBe(true);
      await migrateToLatest(first.db);
      await first.close();

      const second = await openDatabase({ dataDir });
      expect(second.isNew).toBe(false);
      expect(await tableNames(second.db)).toEqual(TABLES);
      await second.close();
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  }, 60_000);
});
