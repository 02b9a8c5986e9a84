/**
 * What settling a payment may now refuse, and what the hold limits count:
 * - `payments.settlement_issue`: why a charge the provider reports as succeeded
 *   did not confirm its booking (the amount or currency differs from the
 *   booking's total, or the charge was one we had seen fail); null when none;
 * - refunds of reason `amount_mismatch`: the money of such a charge goes back,
 *   at most once per payment;
 * - an index on a guest's unpaid holds, which createBooking counts under the
 *   guest's row lock (the concurrent-hold cap and the re-hold limit).
 * Frozen in time: raw SQL.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table payments add column settlement_issue text
    constraint payments_settlement_issue_check check (settlement_issue in ('amount_mismatch', 'currency_mismatch', 'succeeded_after_failure'))`.execute(db);
  await sql`alter table refunds drop constraint refunds_reason_check`.execute(db);
  await sql`alter table refunds add constraint refunds_reason_check check (reason in ('cancellation', 'booking_unavailable', 'amount_mismatch'))`.execute(db);
  await sql`create unique index refunds_one_mismatch_per_payment on refunds (payment_id) where reason = 'amount_mismatch'`.execute(db);
  await sql`create index bookings_unpaid_holds_idx on bookings (guest_id, created_at) where confirmed_at is null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index bookings_unpaid_holds_idx`.execute(db);
  await sql`drop index refunds_one_mismatch_per_payment`.execute(db);
  await sql`delete from refunds where reason = 'amount_mismatch'`.execute(db);
  await sql`alter table refunds drop constraint refunds_reason_check`.execute(db);
  await sql`alter table refunds add constraint refunds_reason_check check (reason in ('cancellation', 'booking_unavailable'))`.execute(db);
  await sql`alter table payments drop column settlement_issue`.execute(db);
}
