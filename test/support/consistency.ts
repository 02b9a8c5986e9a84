/**
 * Whether a test database still adds up, checked in SQL against what is stored:
 * every money column equals its recomputation from its inputs, and every booking's
 * status agrees with its payments and refunds. Each rule is one query that returns
 * the rows breaking it, so a failure names the row and what is wrong with it.
 *
 * The rules are the product's, written down once more on purpose: they are checked
 * against the rows, not against the code that wrote them, so a bug in that code
 * (or a hand-written row in a test) shows up here.
 */
import { sql, type RawBuilder } from 'kysely';
import type { TestServer } from './server.js';

type Db = TestServer['deps']['db'];

interface Rule {
  name: string;
  /** Rows that break the rule, each with a `problem` saying how. */
  query: (serviceFeeBasisPoints: number) => RawBuilder<{ id: string; problem: string }>;
}

/** Money taken from the guest and not (all) given back: a payment in one of these states holds the booking's total. */
const TOOK_MONEY = sql`('succeeded', 'partially_refunded', 'refunded')`;

const rules: Rule[] = [
  {
    name: 'booking price: nights × rate = subtotal, subtotal + cleaning fee + service fee = total',
    query: () => sql<{ id: string; problem: string }>`
      select id, format('nights %s for %s..%s, subtotal %s, total %s', nights, check_in, check_out, subtotal, total) as problem
      from bookings
      where nights <> check_out - check_in
         or subtotal <> nights * nightly_rate
         or total <> subtotal + cleaning_fee + service_fee`,
  },
  {
    name: 'booking service fee: the basis points of subtotal + cleaning fee, rounded half up',
    query: (basisPoints) => sql<{ id: string; problem: string }>`
      select id, format('service_fee %s, recomputed %s', service_fee, ((subtotal + cleaning_fee)::bigint * ${basisPoints} + 5000) / 10000) as problem
      from bookings
      where service_fee <> ((subtotal + cleaning_fee)::bigint * ${basisPoints} + 5000) / 10000`,
  },
  {
    name: 'payment: the booking\'s total and currency, paid by its guest (unless recorded as a mismatch, which confirms nothing)',
    query: () => sql<{ id: string; problem: string }>`
      select p.id, format('amount %s %s by %s; booking total %s %s of guest %s', p.amount, p.currency, p.payer_id, b.total, b.currency, b.guest_id) as problem
      from payments p join bookings b on b.id = p.booking_id
      where ((p.amount <> b.total or p.currency <> b.currency) and p.settlement_issue is distinct from 'amount_mismatch' and p.settlement_issue is distinct from 'currency_mismatch')
        or p.payer_id <> b.guest_id`,
  },
  {
    name: 'payment refunded_amount = the sum of its succeeded refunds',
    query: () => sql<{ id: string; problem: string }>`
      select p.id, format('refunded_amount %s, succeeded refunds %s', p.refunded_amount, coalesce(sum(r.amount) filter (where r.status = 'succeeded'), 0)) as problem
      from payments p left join refunds r on r.payment_id = p.id
      group by p.id
      having p.refunded_amount <> coalesce(sum(r.amount) filter (where r.status = 'succeeded'), 0)`,
  },
  {
    name: 'refunds of a payment: of its booking, in its currency, together at most what was paid',
    // Failed refunds count: they are retried until they succeed, never given up.
    query: () => sql<{ id: string; problem: string }>`
      select p.id, format('refunds %s of a payment of %s %s for booking %s', string_agg(r.amount || ' ' || r.currency || ' for ' || r.booking_id, ', '), p.amount, p.currency, p.booking_id) as problem
      from payments p join refunds r on r.payment_id = p.id
      group by p.id
      having sum(r.amount) > p.amount or bool_or(r.currency <> p.currency or r.booking_id <> p.booking_id)`,
  },
  {
    name: 'confirmed or completed booking: exactly one payment, succeeded, nothing refunded',
    query: () => sql<{ id: string; problem: string }>`
      select b.id, format('%s with payments [%s]', b.status, coalesce(string_agg(p.status, ',' order by p.created_at), '')) as problem
      from bookings b left join payments p on p.booking_id = b.id and p.status in ${TOOK_MONEY}
      where b.status in ('confirmed', 'completed')
      group by b.id
      having count(p.id) <> 1 or bool_or(p.status <> 'succeeded')`,
  },
  {
    name: 'pending booking: no payment has taken money for it',
    query: () => sql<{ id: string; problem: string }>`
      select b.id, format('pending with a %s payment %s', p.status, p.id) as problem
      from bookings b join payments p on p.booking_id = b.id
      where b.status = 'pending' and p.status in ${TOOK_MONEY} and p.settlement_issue is null`,
  },
  {
    name: 'requested or declined booking: never paid (a request is paid only once its host accepts it)',
    query: () => sql<{ id: string; problem: string }>`
      select b.id, format('%s with a %s payment %s', b.status, p.status, p.id) as problem
      from bookings b join payments p on p.booking_id = b.id
      where b.status in ('requested', 'declined')`,
  },
  {
    name: 'cancelled booking: a refund (possibly of 0) exactly when it was paid, equal to its cancellation refund row',
    query: () => sql<{ id: string; problem: string }>`
      select b.id, format('refund_amount %s (%s), paid %s, cancellation refund %s (%s)', b.refund_amount, b.refund_status, paid.id is not null, r.amount, r.status) as problem
      from bookings b
      left join payments paid on paid.booking_id = b.id and paid.status in ${TOOK_MONEY}
        and not exists (select 1 from refunds u where u.payment_id = paid.id and u.reason in ('booking_unavailable', 'amount_mismatch'))
      left join refunds r on r.booking_id = b.id and r.reason = 'cancellation'
      where b.status = 'cancelled'
        and ((b.refund_amount is not null) <> (paid.id is not null)
          or (b.refund_amount > 0) <> (r.id is not null)
          or (r.id is not null and (r.amount <> b.refund_amount or r.status <> b.refund_status or r.payment_id <> paid.id))
          or (b.refund_amount = 0 and b.refund_status <> 'succeeded'))`,
  },
  {
    name: 'money taken for a booking that did not get it (lapsed, or paid otherwise) is refunded in full',
    query: () => sql<{ id: string; problem: string }>`
      select p.id, format('%s payment of %s for a %s booking, unavailable refunds %s', p.status, p.amount, b.status, coalesce(sum(u.amount), 0)) as problem
      from payments p
      join bookings b on b.id = p.booking_id
      left join refunds u on u.payment_id = p.id and u.reason = 'booking_unavailable'
      where p.status in ${TOOK_MONEY} and (b.status = 'expired' or u.id is not null)
      group by p.id, b.status
      having coalesce(sum(u.amount), 0) <> p.amount`,
  },
  {
    name: 'a charge that did not match its booking confirmed nothing, and what it took is being refunded',
    query: () => sql<{ id: string; problem: string }>`
      select p.id, format('%s payment (%s) for a %s booking, mismatch refunds %s', p.status, p.settlement_issue, b.status, count(u.id)) as problem
      from payments p
      join bookings b on b.id = p.booking_id
      left join refunds u on u.payment_id = p.id and u.reason = 'amount_mismatch'
      where p.settlement_issue in ('amount_mismatch', 'currency_mismatch')
      group by p.id, b.status
      having count(u.id) <> 1 or b.status in ('confirmed', 'completed')`,
  },
  {
    name: 'property ratings: review_count and rating_sum of its live reviews',
    query: () => sql<{ id: string; problem: string }>`
      select pr.id, format('review_count %s, rating_sum %s; live reviews %s, ratings %s', pr.review_count, pr.rating_sum, count(r.id), coalesce(sum(r.rating), 0)) as problem
      from properties pr left join reviews r on r.property_id = pr.id and r.deleted_at is null
      group by pr.id
      having pr.review_count <> count(r.id) or pr.rating_sum <> coalesce(sum(r.rating), 0)`,
  },
];

/**
 * Every broken rule, as `rule: id: problem` lines; none when the database adds up.
 * `serviceFeeBasisPoints` is the setting the database's server priced its stays with.
 */
export async function inconsistencies(db: Db, serviceFeeBasisPoints: number): Promise<string[]> {
  const found: string[] = [];
  for (const rule of rules) {
    const { rows } = await rule.query(serviceFeeBasisPoints).execute(db);
    for (const row of rows) found.push(`${rule.name}: ${row.id}: ${row.problem}`);
  }
  return found;
}
