/**
 * A conversation's last activity is never older than its newest message, kept by the
 * database: a trigger moves conversations.last_activity_at forward to each message
 * inserted after it, whoever inserts it. The inbox order (listConversations) and the
 * hosts' response numbers (hostResponseCounts reads only threads active in its window)
 * rely on it; until now only insertMessage kept it, so a message written by anything
 * else (a repair, an import) could fall out of both.
 *
 * Only forward: history written with its own times (the demo data, the scale seed,
 * which disables the trigger for its bulk insert and sets the times itself) keeps the
 * last activity it was given when that is later. Existing threads are brought in line.
 * Frozen in time: raw SQL against Kysely<any>, no application imports.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    update conversations c set last_activity_at = newest.at
    from (select conversation_id, max(created_at) as at from messages group by conversation_id) newest
    where newest.conversation_id = c.id and c.last_activity_at < newest.at
  `.execute(db);
  await sql`
    create function conversations_follow_messages() returns trigger
    language plpgsql as $$
    begin
      update conversations set last_activity_at = new.created_at
      where id = new.conversation_id and last_activity_at < new.created_at;
      return null;
    end;
    $$
  `.execute(db);
  await sql`
    create trigger messages_move_conversation_activity after insert on messages
    for each row execute function conversations_follow_messages()
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger messages_move_conversation_activity on messages`.execute(db);
  await sql`drop function conversations_follow_messages()`.execute(db);
}
