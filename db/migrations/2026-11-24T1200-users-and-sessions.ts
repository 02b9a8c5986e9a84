/**
 * Users and their sign-in sessions, the shared `set_updated_at()` trigger
 * function, and btree_gist (the bookings' exclusion constraint needs it later).
 * Frozen in time: raw SQL against Kysely<any>, no application imports.
 * One statement per `sql` call: PGlite runs parameterised (extended protocol)
 * queries, which refuse several statements at once.
 * Timestamps are kept to the millisecond: that is what a JS Date holds, so a
 * timestamp that goes into a pagination cursor and back compares equal.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`create extension if not exists btree_gist`.execute(db);

  await sql`
    create function set_updated_at() returns trigger
    language plpgsql as $$
    begin
      new.updated_at := date_trunc('milliseconds', now());
      return new;
    end;
    $$
  `.execute(db);

  await sql`
    create table users (
      id uuid primary key default gen_random_uuid(),
      -- null only once the account is deleted and its personal data removed
      email text,
      password_hash text,
      role text not null constraint users_role_check check (role in ('guest', 'host', 'admin')),
      name text not null,
      phone text,
      bio text,
      avatar_url text,
      created_at timestamptz not null default date_trunc('milliseconds', now()),
      updated_at timestamptz not null default date_trunc('milliseconds', now()),
      deleted_at timestamptz,
      constraint users_email_present_check check (email is not null or deleted_at is not null)
    )
  `.execute(db);

  await sql`create unique index users_email_lower_key on users (lower(email)) where email is not null`.execute(db);

  await sql`
    create trigger users_set_updated_at before update on users
    for each row execute function set_updated_at()
  `.execute(db);

  await sql`
    create table sessions (
      token_hash text primary key constraint sessions_token_hash_check check (token_hash ~ '^[0-9a-f]{64}$'),
      user_id uuid not null references users (id) on delete cascade,
      created_at timestamptz not null default date_trunc('milliseconds', now()),
      expires_at timestamptz not null,
      constraint sessions_expiry_check check (expires_at > created_at)
    )
  `.execute(db);

  await sql`create index sessions_user_id_idx on sessions (user_id)`.execute(db);
  await sql`create index sessions_expires_at_idx on sessions (expires_at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table sessions`.execute(db);
  await sql`drop table users`.execute(db);
  await sql`drop function set_updated_at()`.execute(db);
  await sql`drop extension if exists btree_gist`.execute(db);
}
