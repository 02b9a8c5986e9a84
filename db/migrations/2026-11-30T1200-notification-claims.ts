/**
 * A notification is claimed before it is sent: `claimed_until` is the end of the
 * lease of the one run that may send it. Two runs of its job (a stalled job put
 * back while its first worker was only slow, the sweep's copy of a job that was
 * not lost) can then never send it at the same time; a run that died holding the
 * claim lets it go when the lease ends. Frozen in time: raw SQL.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table notifications add column claimed_until timestamptz`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table notifications drop column claimed_until`.execute(db);
}
