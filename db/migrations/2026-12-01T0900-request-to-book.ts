/**
 * Request-to-book (issue 16): a listing is instant-bookable (as before) or takes
 * requests the host accepts or declines.
 *
 * - properties.instant_book, true by default, so every existing listing keeps
 *   today's behaviour.
 * - Two booking statuses: `requested` (the dates are held, nothing is charged,
 *   the host has until expires_at to answer) and `declined` (the host said no;
 *   the dates are free). A request not answered in time becomes `expired`, like
 *   a lapsed hold, and keeps its deadline in expires_at.
 * - requested_at (when a booking was made as a request; null for an instant
 *   booking, so an expired request and a lapsed hold stay told apart),
 *   responded_at (when the host accepted or declined) and decline_reason.
 * - A requested stay holds its dates: the exclusion constraint, and the index of
 *   live stays the search probes, cover it.
 * - The state machine in the database: a trigger refuses any status change not
 *   in the table below, and a new row that starts as `declined` (a decline is
 *   always an answer to a request). Rows written as history (confirmed,
 *   completed, cancelled, expired: the demo data, the scale seed) are still
 *   inserted as they stand.
 * - Four notification kinds, one per transition of a request.
 * Frozen in time: raw SQL against Kysely<any>, no application imports.
 */
import { sql, type Kysely } from 'kysely';

const OLD_KINDS = `'booking_confirmed', 'booking_cancelled', 'payment_receipt', 'refund_issued'`;
const NEW_KINDS = `${OLD_KINDS}, 'booking_requested', 'booking_accepted', 'booking_declined', 'booking_request_expired'`;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table properties add column instant_book boolean not null default true`.execute(db);

  await sql`alter table bookings drop constraint bookings_status_check`.execute(db);
  await sql`alter table bookings add constraint bookings_status_check
    check (status in ('requested', 'pending', 'confirmed', 'completed', 'cancelled', 'expired', 'declined'))`.execute(db);
  // A request's deadline, a pending hold's end, and the moment either lapsed.
  await sql`alter table bookings drop constraint bookings_hold_check`.execute(db);
  await sql`alter table bookings add constraint bookings_hold_check
    check ((status in ('requested', 'pending', 'expired')) = (expires_at is not null))`.execute(db);

  await sql`alter table bookings add column requested_at timestamptz`.execute(db);
  await sql`alter table bookings add column responded_at timestamptz`.execute(db);
  await sql`alter table bookings add column decline_reason text`.execute(db);
  // Unanswered while requested; answered once declined; accepted stays (pending onwards) keep when.
  await sql`alter table bookings add constraint bookings_response_check
    check ((status <> 'requested' or (requested_at is not null and responded_at is null))
      and (status <> 'declined' or responded_at is not null)
      and (responded_at is null or requested_at is not null))`.execute(db);
  await sql`alter table bookings add constraint bookings_decline_reason_check
    check ((status = 'declined') = (decline_reason is not null) and (decline_reason is null or char_length(decline_reason) between 1 and 500))`.execute(db);

  await sql`alter table bookings drop constraint bookings_no_overlap`.execute(db);
  await sql`alter table bookings add constraint bookings_no_overlap exclude using gist (
      property_id with =,
      daterange(check_in, check_out, '[)') with &&
    ) where (status in ('requested', 'pending', 'confirmed'))`.execute(db);
  await sql`drop index bookings_live_stays_idx`.execute(db);
  await sql`create index bookings_live_stays_idx on bookings (property_id, check_out) include (check_in)
    where status in ('requested', 'pending', 'confirmed')`.execute(db);
  // The sweep that writes down unanswered requests.
  await sql`create index bookings_requested_expiry_idx on bookings (expires_at) where status = 'requested'`.execute(db);

  await sql`
    create function bookings_check_transition() returns trigger
    language plpgsql as $$
    begin
      if tg_op = 'INSERT' then
        if new.status = 'declined' then
          raise exception 'a booking cannot start as declined' using errcode = '23514', constraint = 'bookings_status_transition';
        end if;
        return new;
      end if;
      if new.status = old.status
        or (old.status = 'requested' and new.status in ('pending', 'declined', 'expired', 'cancelled'))
        or (old.status = 'pending' and new.status in ('confirmed', 'expired', 'cancelled'))
        or (old.status = 'confirmed' and new.status in ('completed', 'cancelled')) then
        return new;
      end if;
      raise exception 'a booking cannot go from % to %', old.status, new.status
        using errcode = '23514', constraint = 'bookings_status_transition';
    end;
    $$
  `.execute(db);
  await sql`
    create trigger bookings_status_transition before insert or update of status on bookings
    for each row execute function bookings_check_transition()
  `.execute(db);

  await sql`alter table notifications drop constraint notifications_kind_check`.execute(db);
  await sql`alter table notifications add constraint notifications_kind_check check (kind in (${sql.raw(NEW_KINDS)}))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`delete from notifications where kind in ('booking_requested', 'booking_accepted', 'booking_declined', 'booking_request_expired')`.execute(db);
  await sql`alter table notifications drop constraint notifications_kind_check`.execute(db);
  await sql`alter table notifications add constraint notifications_kind_check check (kind in (${sql.raw(OLD_KINDS)}))`.execute(db);
  await sql`drop trigger bookings_status_transition on bookings`.execute(db);
  await sql`drop function bookings_check_transition()`.execute(db);
  // Requests have no place in the old statuses: an open one is let go, a declined one too.
  await sql`update bookings set status = 'expired' where status in ('requested', 'declined')`.execute(db);
  await sql`update bookings set expires_at = coalesce(expires_at, responded_at, updated_at) where status = 'expired'`.execute(db);
  await sql`drop index bookings_requested_expiry_idx`.execute(db);
  await sql`drop index bookings_live_stays_idx`.execute(db);
  await sql`create index bookings_live_stays_idx on bookings (property_id, check_out) include (check_in)
    where status in ('pending', 'confirmed')`.execute(db);
  await sql`alter table bookings drop constraint bookings_no_overlap`.execute(db);
  await sql`alter table bookings add constraint bookings_no_overlap exclude using gist (
      property_id with =,
      daterange(check_in, check_out, '[)') with &&
    ) where (status in ('pending', 'confirmed'))`.execute(db);
  await sql`alter table bookings drop constraint bookings_decline_reason_check`.execute(db);
  await sql`alter table bookings drop constraint bookings_response_check`.execute(db);
  await sql`alter table bookings drop column decline_reason`.execute(db);
  await sql`alter table bookings drop column responded_at`.execute(db);
  await sql`alter table bookings drop column requested_at`.execute(db);
  await sql`alter table bookings drop constraint bookings_hold_check`.execute(db);
  await sql`alter table bookings add constraint bookings_hold_check check ((status in ('pending', 'expired')) = (expires_at is not null))`.execute(db);
  await sql`alter table bookings drop constraint bookings_status_check`.execute(db);
  await sql`alter table bookings add constraint bookings_status_check
    check (status in ('pending', 'confirmed', 'completed', 'cancelled', 'expired'))`.execute(db);
  await sql`alter table properties drop column instant_book`.execute(db);
}
