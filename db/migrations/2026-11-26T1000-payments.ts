/**
 * Payments, refunds, the provider events already applied, and the notifications
 * owed to users.
 *
 * The invariants the database keeps:
 * - a booking is paid at most once: at most one payment per booking that is in
 *   flight or has taken money (`payments_one_live_per_booking`); failed attempts
 *   may be many;
 * - what was refunded never exceeds what was paid, and a payment's refunded
 *   amount is the sum of its succeeded refunds (kept by the one query that
 *   records a refund's outcome, checked here as a bound);
 * - a provider event is applied once: its id is the primary key of
 *   `payment_events`, inserted in the same transaction as its effect;
 * - one refund per cancellation (`refunds_one_cancellation_per_booking`).
 *
 * Refunds and notifications are rows first and jobs second: the row is written in
 * the transaction that makes it owed, so a job lost with a crashed process is
 * found again by the sweep and nothing owed is forgotten.
 * Money is integer minor units. Frozen in time: raw SQL, no application imports.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table payments (
      id uuid primary key default gen_random_uuid(),
      booking_id uuid not null references bookings (id),
      payer_id uuid not null references users (id),
      amount integer not null constraint payments_amount_check check (amount > 0),
      currency text not null constraint payments_currency_check check (currency ~ '^[A-Z]{3}$'),
      status text not null default 'pending'
        constraint payments_status_check check (status in ('pending', 'succeeded', 'failed', 'refunded', 'partially_refunded')),
      payment_method text not null constraint payments_payment_method_check check (payment_method ~ '^[A-Za-z0-9_]{1,255}$'),
      provider text not null constraint payments_provider_check check (provider in ('stripe', 'local')),
      -- The provider's id of the charge (a PaymentIntent pi_...); null until the provider answered.
      provider_reference text,
      -- Sent with every call that creates the charge, so a retry after an unknown outcome
      -- (a timeout, a crash) gets the provider's first answer instead of a second charge.
      provider_idempotency_key text not null,
      failure_code text,
      failure_message text,
      refunded_amount integer not null default 0,
      created_at timestamptz not null default date_trunc('milliseconds', now()),
      updated_at timestamptz not null default date_trunc('milliseconds', now()),
      succeeded_at timestamptz,
      failed_at timestamptz,
      refunded_at timestamptz,
      constraint payments_refunded_amount_check check (refunded_amount between 0 and amount),
      constraint payments_failure_check check ((status = 'failed') = (failure_code is not null)),
      constraint payments_succeeded_at_check check ((status in ('succeeded', 'refunded', 'partially_refunded')) = (succeeded_at is not null)),
      constraint payments_refund_status_check check (
        (status = 'refunded') = (refunded_amount = amount)
        and (status = 'partially_refunded') = (refunded_amount > 0 and refunded_amount < amount)
      )
    )
  `.execute(db);
  await sql`create trigger payments_set_updated_at before update on payments for each row execute function set_updated_at()`.execute(db);
  await sql`
    create unique index payments_one_live_per_booking on payments (booking_id)
    where status in ('pending', 'succeeded', 'refunded', 'partially_refunded')
  `.execute(db);
  await sql`create unique index payments_provider_reference_key on payments (provider, provider_reference)`.execute(db);
  await sql`create index payments_payer_idx on payments (payer_id, created_at desc, id desc)`.execute(db);
  await sql`create index payments_created_idx on payments (created_at desc, id desc)`.execute(db);
  await sql`create index payments_booking_idx on payments (booking_id)`.execute(db);
  // The follow-up sweep looks for charges whose outcome is still unknown.
  await sql`create index payments_pending_idx on payments (updated_at) where status = 'pending'`.execute(db);

  await sql`
    create table refunds (
      id uuid primary key default gen_random_uuid(),
      payment_id uuid not null references payments (id),
      booking_id uuid not null references bookings (id),
      amount integer not null constraint refunds_amount_check check (amount > 0),
      currency text not null constraint refunds_currency_check check (currency ~ '^[A-Z]{3}$'),
      -- cancellation: the policy's share of a cancelled stay; booking_unavailable: a payment
      -- that succeeded after its booking had lapsed or been paid otherwise, returned in full.
      reason text not null constraint refunds_reason_check check (reason in ('cancellation', 'booking_unavailable')),
      status text not null default 'pending' constraint refunds_status_check check (status in ('pending', 'succeeded', 'failed')),
      provider_reference text,
      -- Calls to the provider so far; the idempotency key changes only after a definite failure.
      attempts integer not null default 0,
      failure_code text,
      failure_message text,
      -- When the sweep next hands it to the refund job. A new refund's job is started at
      -- once; the sweep steps in only if that job was lost.
      next_attempt_at timestamptz not null default date_trunc('milliseconds', now()) + interval '5 minutes',
      created_at timestamptz not null default date_trunc('milliseconds', now()),
      updated_at timestamptz not null default date_trunc('milliseconds', now()),
      succeeded_at timestamptz,
      constraint refunds_succeeded_at_check check ((status = 'succeeded') = (succeeded_at is not null))
    )
  `.execute(db);
  await sql`create trigger refunds_set_updated_at before update on refunds for each row execute function set_updated_at()`.execute(db);
  await sql`create unique index refunds_one_cancellation_per_booking on refunds (booking_id) where reason = 'cancellation'`.execute(db);
  await sql`create unique index refunds_one_unavailable_per_payment on refunds (payment_id) where reason = 'booking_unavailable'`.execute(db);
  await sql`create index refunds_payment_idx on refunds (payment_id, created_at)`.execute(db);
  await sql`create unique index refunds_provider_reference_key on refunds (provider_reference)`.execute(db);
  await sql`create index refunds_owed_idx on refunds (next_attempt_at) where status <> 'succeeded'`.execute(db);

  // Provider events already applied; a redelivery finds its id here and changes nothing.
  await sql`
    create table payment_events (
      id text primary key,
      type text not null,
      provider_created_at timestamptz not null,
      payment_id uuid references payments (id),
      refund_id uuid references refunds (id),
      received_at timestamptz not null default date_trunc('milliseconds', now())
    )
  `.execute(db);
  await sql`create index payment_events_payment_idx on payment_events (payment_id)`.execute(db);

  // Emails owed: written with the change they announce, sent by a job.
  await sql`
    create table notifications (
      id uuid primary key default gen_random_uuid(),
      kind text not null constraint notifications_kind_check
        check (kind in ('booking_confirmed', 'booking_cancelled', 'payment_receipt', 'refund_issued')),
      recipient_id uuid not null references users (id),
      booking_id uuid not null references bookings (id),
      payment_id uuid references payments (id),
      refund_id uuid references refunds (id),
      status text not null default 'pending' constraint notifications_status_check check (status in ('pending', 'sent', 'failed')),
      attempts integer not null default 0,
      last_error text,
      created_at timestamptz not null default date_trunc('milliseconds', now()),
      sent_at timestamptz,
      constraint notifications_sent_at_check check ((status = 'sent') = (sent_at is not null))
    )
  `.execute(db);
  await sql`create index notifications_owed_idx on notifications (created_at) where status = 'pending'`.execute(db);
  await sql`create index notifications_booking_idx on notifications (booking_id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table notifications`.execute(db);
  await sql`drop table payment_events`.execute(db);
  await sql`drop table refunds`.execute(db);
  await sql`drop table payments`.execute(db);
}
