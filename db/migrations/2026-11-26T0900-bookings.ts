/**
 * Bookings, the nights hosts block on their calendars, and the idempotency keys
 * that make createBooking (and later createPayment) safe to retry.
 *
 * The one invariant that matters most is kept by PostgreSQL itself: two stays
 * that hold dates (`pending` or `confirmed`) on one property never overlap. The
 * exclusion constraint `bookings_no_overlap` compares half-open date ranges
 * `[check_in, check_out)`, so a stay that checks out on the 4th and one that
 * checks in on the 4th do not overlap. It holds under any concurrency and across
 * any number of server processes; its violation is SQLSTATE 23P01.
 *
 * Money is integer minor units, and the price breakdown is checked for
 * consistency (subtotal = nights x rate, total = subtotal + fees).
 * Frozen in time: raw SQL against Kysely<any>, no application imports.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table bookings (
      id uuid primary key default gen_random_uuid(),
      property_id uuid not null references properties (id),
      guest_id uuid not null references users (id),
      check_in date not null,
      check_out date not null,
      guests integer not null constraint bookings_guests_check check (guests between 1 and 50),
      -- The stored status; a pending hold past expires_at reads as expired and a
      -- confirmed stay past check_out as completed before a sweep writes it down.
      status text not null default 'pending'
        constraint bookings_status_check check (status in ('pending', 'confirmed', 'completed', 'cancelled', 'expired')),
      nights integer not null,
      nightly_rate integer not null constraint bookings_nightly_rate_check check (nightly_rate > 0),
      subtotal integer not null,
      cleaning_fee integer not null constraint bookings_cleaning_fee_check check (cleaning_fee >= 0),
      service_fee integer not null constraint bookings_service_fee_check check (service_fee >= 0),
      total integer not null,
      currency text not null constraint bookings_currency_check check (currency ~ '^[A-Z]{3}$'),
      expires_at timestamptz,
      confirmed_at timestamptz,
      cancelled_at timestamptz,
      cancelled_by uuid references users (id),
      cancellation_reason text,
      refund_amount integer,
      refund_status text constraint bookings_refund_status_check check (refund_status in ('pending', 'succeeded', 'failed')),
      created_at timestamptz not null default date_trunc('milliseconds', now()),
      updated_at timestamptz not null default date_trunc('milliseconds', now()),
      constraint bookings_dates_check check (check_out > check_in),
      constraint bookings_nights_check check (nights = check_out - check_in and nights between 1 and 365),
      constraint bookings_price_check check (subtotal = nights * nightly_rate and total = subtotal + cleaning_fee + service_fee),
      -- A pending booking holds its dates until expires_at; an expired one keeps the time it lapsed.
      constraint bookings_hold_check check ((status in ('pending', 'expired')) = (expires_at is not null)),
      constraint bookings_cancellation_check check ((status = 'cancelled') = (cancelled_at is not null)),
      constraint bookings_refund_check check (
        (refund_amount is null) = (refund_status is null)
        and (refund_amount is null or (status = 'cancelled' and refund_amount between 0 and total))
      ),
      constraint bookings_no_overlap exclude using gist (
        property_id with =,
        daterange(check_in, check_out, '[)') with &&
      ) where (status in ('pending', 'confirmed'))
    )
  `.execute(db);

  await sql`
    create trigger bookings_set_updated_at before update on bookings
    for each row execute function set_updated_at()
  `.execute(db);

  // A guest's stays and the stays on a host's properties, newest first (listBookings).
  await sql`create index bookings_guest_idx on bookings (guest_id, created_at desc, id desc)`.execute(db);
  await sql`create index bookings_property_idx on bookings (property_id, created_at desc, id desc)`.execute(db);
  // The sweep that writes down lapsed holds and finished stays.
  await sql`create index bookings_pending_expiry_idx on bookings (expires_at) where status = 'pending'`.execute(db);
  await sql`create index bookings_confirmed_check_out_idx on bookings (check_out) where status = 'confirmed'`.execute(db);

  // Nights a host took off the calendar, one row a night so any subset can be unblocked.
  await sql`
    create table blocked_nights (
      property_id uuid not null references properties (id),
      night date not null,
      created_at timestamptz not null default date_trunc('milliseconds', now()),
      primary key (property_id, night)
    )
  `.execute(db);

  // A retried request with the same key replays the stored response instead of doing the work again.
  await sql`
    create table idempotency_keys (
      user_id uuid not null references users (id),
      operation text not null,
      -- 1 to 255 visible ASCII characters ('!' to '~'), as the spec's header schema says.
      key text not null constraint idempotency_keys_key_check check (key ~ '^[!-~]{1,255}$'),
      request_hash text not null constraint idempotency_keys_request_hash_check check (request_hash ~ '^[0-9a-f]{64}$'),
      -- Written in the same transaction as the work, after it; a concurrent retry waits
      -- on this row's primary key until then, so it never reads them empty.
      response_status integer,
      response_headers jsonb,
      response_body jsonb,
      created_at timestamptz not null default date_trunc('milliseconds', now()),
      primary key (user_id, operation, key)
    )
  `.execute(db);
  await sql`create index idempotency_keys_created_at_idx on idempotency_keys (created_at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table idempotency_keys`.execute(db);
  await sql`drop table blocked_nights`.execute(db);
  await sql`drop table bookings`.execute(db);
}
