/**
 * Conversations between a guest and a listing's host: one thread per guest and
 * listing, its messages, each participant's read marker and block, the record
 * of admins' moderation reads, and the batched "new messages" email.
 *
 * The invariants the database keeps:
 * - one thread per guest and listing (`conversations_guest_property_key`), and
 *   never with oneself (`conversations_parties_check`);
 * - a message's text is 1 to 4000 characters, not blank, with no control
 *   characters but tab and newline (`messages_body_check`), whatever wrote it;
 * - at most one pending `new_messages` email per thread and recipient
 *   (`notifications_one_pending_digest`): concurrent sends all land on it.
 *
 * Notifications gain `conversation_id` (a `new_messages` email is about a
 * thread, not a booking: `booking_id` becomes nullable, one of the two is set),
 * `not_before` (a digest waits for the burst it batches) and the status
 * `skipped` (the recipient read everything before it was due). The kinds CHECK
 * is made again with the full list, the request-to-book kinds included, as
 * this migration runs after 2026-12-01T0900-request-to-book.
 * Frozen in time: raw SQL, no application imports.
 */
import { sql, type Kysely } from 'kysely';

const KINDS_BEFORE = `'booking_confirmed', 'booking_cancelled', 'payment_receipt', 'refund_issued', 'booking_requested', 'booking_accepted', 'booking_declined', 'booking_request_expired'`;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table conversations (
      id uuid primary key default gen_random_uuid(),
      property_id uuid not null references properties (id),
      guest_id uuid not null references users (id),
      -- The listing's host when the thread began: a listing does not change hosts.
      host_id uuid not null references users (id),
      -- The latest booking of this guest on this listing, once there is one.
      booking_id uuid references bookings (id),
      created_at timestamptz not null default date_trunc('milliseconds', now()),
      -- The last message's time (or the thread's start): what lists sort by.
      last_activity_at timestamptz not null default date_trunc('milliseconds', now()),
      constraint conversations_guest_property_key unique (guest_id, property_id),
      constraint conversations_parties_check check (guest_id <> host_id)
    )
  `.execute(db);
  await sql`create index conversations_host_activity_idx on conversations (host_id, last_activity_at desc, id desc)`.execute(db);
  await sql`create index conversations_guest_activity_idx on conversations (guest_id, last_activity_at desc, id desc)`.execute(db);

  await sql`
    create table conversation_participants (
      conversation_id uuid not null references conversations (id) on delete cascade,
      user_id uuid not null references users (id),
      role text not null constraint conversation_participants_role_check check (role in ('guest', 'host')),
      -- Messages of the other participant after this are unread; null: none read yet.
      last_read_at timestamptz,
      -- Set while this participant blocks the other: no new messages either way.
      blocked_at timestamptz,
      primary key (conversation_id, user_id)
    )
  `.execute(db);

  await sql`
    create table messages (
      id uuid primary key default gen_random_uuid(),
      conversation_id uuid not null references conversations (id) on delete cascade,
      sender_id uuid not null references users (id),
      body text not null constraint messages_body_check check (
        char_length(body) between 1 and 4000
        and body ~ '[^[:space:]]'
        and body !~ '[\\x01-\\x08\\x0b-\\x1f\\x7f]'
      ),
      created_at timestamptz not null default clock_timestamp()
    )
  `.execute(db);
  await sql`create index messages_conversation_created_idx on messages (conversation_id, created_at desc, id desc)`.execute(db);

  await sql`
    create table conversation_admin_reads (
      id uuid primary key default gen_random_uuid(),
      conversation_id uuid not null references conversations (id) on delete cascade,
      admin_id uuid not null references users (id),
      operation text not null constraint conversation_admin_reads_operation_check check (operation in ('getConversation', 'listMessages')),
      created_at timestamptz not null default date_trunc('milliseconds', now())
    )
  `.execute(db);
  await sql`create index conversation_admin_reads_conversation_idx on conversation_admin_reads (conversation_id, created_at)`.execute(db);

  await sql`alter table notifications alter column booking_id drop not null`.execute(db);
  await sql`alter table notifications add column conversation_id uuid references conversations (id)`.execute(db);
  await sql`alter table notifications add column not_before timestamptz`.execute(db);
  await sql`alter table notifications add constraint notifications_subject_check check (booking_id is not null or conversation_id is not null)`.execute(db);
  await sql`alter table notifications drop constraint notifications_kind_check`.execute(db);
  await sql.raw(`alter table notifications add constraint notifications_kind_check check (kind in (${KINDS_BEFORE}, 'new_messages'))`).execute(db);
  await sql`alter table notifications drop constraint notifications_status_check`.execute(db);
  await sql`alter table notifications add constraint notifications_status_check check (status in ('pending', 'sent', 'failed', 'skipped'))`.execute(db);
  await sql`
    create unique index notifications_one_pending_digest on notifications (conversation_id, recipient_id)
    where status = 'pending' and kind = 'new_messages'
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`delete from notifications where kind = 'new_messages'`.execute(db);
  await sql`drop index notifications_one_pending_digest`.execute(db);
  await sql`alter table notifications drop constraint notifications_status_check`.execute(db);
  await sql`alter table notifications add constraint notifications_status_check check (status in ('pending', 'sent', 'failed'))`.execute(db);
  await sql`alter table notifications drop constraint notifications_kind_check`.execute(db);
  await sql.raw(`alter table notifications add constraint notifications_kind_check check (kind in (${KINDS_BEFORE}))`).execute(db);
  await sql`alter table notifications drop constraint notifications_subject_check`.execute(db);
  await sql`alter table notifications drop column not_before`.execute(db);
  await sql`alter table notifications drop column conversation_id`.execute(db);
  await sql`alter table notifications alter column booking_id set not null`.execute(db);
  await sql`drop table conversation_admin_reads`.execute(db);
  await sql`drop table messages`.execute(db);
  await sql`drop table conversation_participants`.execute(db);
  await sql`drop table conversations`.execute(db);
}
