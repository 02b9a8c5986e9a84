/**
 * Reviews of stays, the host's reply to each, and the trigger that keeps every
 * property's `rating_sum` and `review_count` equal to its live reviews.
 *
 * The invariants PostgreSQL keeps itself:
 *   - one review per booking, ever: UNIQUE (booking_id), and a deleted review
 *     stays as a tombstone (its content erased), so the booking cannot be
 *     reviewed again (violation 23505 on reviews_booking_id_key);
 *   - a review's author is its booking's guest and its property the booking's
 *     property: a composite foreign key to bookings (id, property_id, guest_id);
 *   - a rating is 1..5 and a comment 1..2000 characters, not blank;
 *   - the aggregates: an AFTER trigger adds each change of a live review to its
 *     property in the same statement, so every writer (the API, the seed, an
 *     operator's SQL) keeps them right, in the writer's transaction.
 * Frozen in time: raw SQL against Kysely<any>, no application imports; one
 * statement per `sql` call (PGlite).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // What the composite foreign key below refers to (a foreign key needs a unique key on exactly its columns).
  await sql`alter table bookings add constraint bookings_id_property_guest_key unique (id, property_id, guest_id)`.execute(db);

  await sql`
    create table reviews (
      id uuid primary key default gen_random_uuid(),
      booking_id uuid not null,
      -- Copied from the booking (the foreign key below keeps them equal) so that lists by
      -- property or author, and the aggregates, need no join.
      property_id uuid not null,
      author_id uuid not null,
      -- Null only once deleted: a tombstone keeps no content.
      rating smallint constraint reviews_rating_check check (rating between 1 and 5),
      comment text constraint reviews_comment_check check (char_length(comment) between 1 and 2000 and comment ~ '[^[:space:]]'),
      host_reply text constraint reviews_host_reply_check check (char_length(host_reply) between 1 and 2000 and host_reply ~ '[^[:space:]]'),
      host_replied_at timestamptz,
      host_reply_updated_at timestamptz,
      created_at timestamptz not null default date_trunc('milliseconds', now()),
      updated_at timestamptz not null default date_trunc('milliseconds', now()),
      deleted_at timestamptz,
      deleted_by uuid references users (id),
      constraint reviews_booking_id_key unique (booking_id),
      constraint reviews_booking_fkey foreign key (booking_id, property_id, author_id)
        references bookings (id, property_id, guest_id),
      constraint reviews_host_reply_dates_check check (
        (host_reply is null) = (host_replied_at is null) and (host_reply is null) = (host_reply_updated_at is null)
      ),
      constraint reviews_tombstone_check check (
        case when deleted_at is null then rating is not null and comment is not null and deleted_by is null
        else rating is null and comment is null and host_reply is null and deleted_by is not null end
      )
    )
  `.execute(db);

  await sql`
    create trigger reviews_set_updated_at before update on reviews
    for each row execute function set_updated_at()
  `.execute(db);

  // Lists of live reviews newest first, by property, by author and of everyone (listReviews).
  await sql`create index reviews_property_idx on reviews (property_id, created_at desc, id desc) where deleted_at is null`.execute(db);
  await sql`create index reviews_author_idx on reviews (author_id, created_at desc, id desc) where deleted_at is null`.execute(db);
  await sql`create index reviews_newest_idx on reviews (created_at desc, id desc) where deleted_at is null`.execute(db);

  // A live review counts towards its property; a tombstone does not. Each change moves the
  // aggregates by its difference with one relative UPDATE, which takes the property's row
  // lock: concurrent reviews of one listing queue there and never lose an increment.
  // Nothing is written when the rating and liveness did not change (an edited comment, a reply).
  await sql`
    create function reviews_keep_property_ratings() returns trigger
    language plpgsql as $$
    declare
      old_live boolean := tg_op <> 'INSERT' and old.deleted_at is null;
      new_live boolean := tg_op <> 'DELETE' and new.deleted_at is null;
    begin
      if tg_op = 'UPDATE' and new.property_id = old.property_id then
        if old_live is distinct from new_live or (new_live and new.rating <> old.rating) then
          update properties
          set rating_sum = rating_sum + (case when new_live then new.rating else 0 end) - (case when old_live then old.rating else 0 end),
              review_count = review_count + (case when new_live then 1 else 0 end) - (case when old_live then 1 else 0 end)
          where id = new.property_id;
        end if;
        return null;
      end if;
      if old_live then
        update properties set rating_sum = rating_sum - old.rating, review_count = review_count - 1 where id = old.property_id;
      end if;
      if new_live then
        update properties set rating_sum = rating_sum + new.rating, review_count = review_count + 1 where id = new.property_id;
      end if;
      return null;
    end;
    $$
  `.execute(db);

  await sql`
    create trigger reviews_keep_property_ratings after insert or update or delete on reviews
    for each row execute function reviews_keep_property_ratings()
  `.execute(db);

  // sort=rating: the same expression db/properties.ts orders by, so a page is read off the index.
  await sql`
    create index properties_rating_idx on properties (
      (case when review_count > 0 then rating_sum::float8 / review_count else 0 end) desc, id desc
    ) where deleted_at is null
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index properties_rating_idx`.execute(db);
  await sql`drop table reviews`.execute(db);
  await sql`drop function reviews_keep_property_ratings()`.execute(db);
  await sql`alter table bookings drop constraint bookings_id_property_guest_key`.execute(db);
}
