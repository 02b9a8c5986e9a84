/**
 * Wishlists: a user's named lists of listings, private unless the owner shares
 * one by a link token.
 *
 * The invariants PostgreSQL keeps itself:
 *   - a name is 1..50 characters, not blank, without control characters, and
 *     unique per owner regardless of case (wishlists_owner_name_key, answered as
 *     409 wishlist_name_taken), so a retried create shows as a conflict instead
 *     of a silent duplicate;
 *   - a share token is 43 base64url characters (32 random bytes) and unique; it
 *     is kept as it is, not hashed: it grants only a read of the rows that sit
 *     beside it in this same database, so a hash would protect nothing a leak of
 *     the database had not already shown, and the owner can copy the link again;
 *   - a listing is in a list at most once (the primary key), and items go with
 *     their list (on delete cascade). A withdrawn listing keeps its item row; the
 *     queries leave it out, so it disappears from every list without errors;
 *   - deleting an account (users.deleted_at set) deletes its wishlists, share
 *     links included: they are its personal data.
 * Frozen in time: raw SQL against Kysely<any>, no application imports; one
 * statement per `sql` call (PGlite).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table wishlists (
      id uuid primary key default gen_random_uuid(),
      owner_id uuid not null references users (id) on delete cascade,
      name text not null constraint wishlists_name_check check (
        char_length(name) between 1 and 50 and name ~ '[^[:space:]]' and name !~ '[[:cntrl:]]'
      ),
      share_token text constraint wishlists_share_token_check check (share_token ~ '^[A-Za-z0-9_-]{43}$'),
      created_at timestamptz not null default date_trunc('milliseconds', now()),
      updated_at timestamptz not null default date_trunc('milliseconds', now()),
      constraint wishlists_share_token_key unique (share_token)
    )
  `.execute(db);

  await sql`create unique index wishlists_owner_name_key on wishlists (owner_id, lower(name))`.execute(db);
  // listWishlists: an owner's lists, newest first, a page read off the index.
  await sql`create index wishlists_owner_idx on wishlists (owner_id, created_at desc, id desc)`.execute(db);

  await sql`
    create trigger wishlists_set_updated_at before update on wishlists
    for each row execute function set_updated_at()
  `.execute(db);

  await sql`
    create table wishlist_items (
      wishlist_id uuid not null references wishlists (id) on delete cascade,
      property_id uuid not null references properties (id) on delete cascade,
      added_at timestamptz not null default date_trunc('milliseconds', now()),
      primary key (wishlist_id, property_id)
    )
  `.execute(db);

  // A list's items newest first (getWishlist), and the foreign key's lookups from properties.
  await sql`create index wishlist_items_added_idx on wishlist_items (wishlist_id, added_at desc, property_id)`.execute(db);
  await sql`create index wishlist_items_property_idx on wishlist_items (property_id)`.execute(db);

  await sql`
    create function wishlists_forget_deleted_owner() returns trigger
    language plpgsql as $$
    begin
      delete from wishlists where owner_id = new.id;
      return null;
    end;
    $$
  `.execute(db);

  await sql`
    create trigger users_delete_wishlists after update of deleted_at on users
    for each row when (old.deleted_at is null and new.deleted_at is not null)
    execute function wishlists_forget_deleted_owner()
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger users_delete_wishlists on users`.execute(db);
  await sql`drop function wishlists_forget_deleted_owner()`.execute(db);
  await sql`drop table wishlist_items`.execute(db);
  await sql`drop table wishlists`.execute(db);
}
