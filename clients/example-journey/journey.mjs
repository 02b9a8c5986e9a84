// @ts-check
/**
 * A guest's journey through the Staybook API with nothing but the published client: sign in (as the demo guest, or
 * as a newly registered guest with --register), search a city for free dates, book the first match, pay with the
 * local provider's test card, and read the booking back until it is confirmed. On the way it shows what the client
 * adds: a typed problem (booking the same dates twice is `dates_unavailable`) and pagination over next_cursor.
 *
 *   STAYBOOK_URL=http://localhost:3000 npm run journey [-- --register]
 *
 * Prints one JSON line per step and exits non-zero when a step fails.
 */
import { createStaybookClient, StaybookProblem } from '@staybook/client';

const baseUrl = process.env.STAYBOOK_URL ?? 'http://localhost:3000';
const city = process.env.STAYBOOK_CITY ?? 'Lisbon';
const register = process.argv.includes('--register');
const client = createStaybookClient({ baseUrl });

/** @param {string} step @param {Record<string, unknown>} facts */
const report = (step, facts) => console.log(JSON.stringify({ step, ...facts }));

/** A date `days` from today (UTC), as the API writes dates. @param {number} days */
const dayFromToday = (days) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

async function main() {
  // 1. Sign in.
  if (register) {
    const email = `journey-${crypto.randomUUID()}@example.com`;
    const password = `journey-${crypto.randomUUID()}`;
    const user = await client.registerUser({ body: { email, password, name: 'Journey Guest' } });
    report('register', { user_id: user.id, role: user.role });
    await client.signIn(email, password);
  } else {
    await client.signIn(process.env.STAYBOOK_EMAIL ?? 'guest@example.com', process.env.STAYBOOK_PASSWORD ?? 'demo-password');
  }
  const me = await client.getCurrentUser();
  report('sign-in', { user_id: me.id, role: me.role });

  // 2. Search: every free listing of the city for three nights some weeks ahead, page by page.
  const offset = 40 + Math.floor(Math.random() * 200);
  const query = { city, check_in: dayFromToday(offset), check_out: dayFromToday(offset + 3), guests: 2, limit: 2 };
  /** @type {import('@staybook/client').Property[]} */
  const found = [];
  for await (const property of client.paginate('listProperties', { query })) found.push(property);
  if (found.length === 0) throw new Error(`no free listing in ${city} from ${query.check_in} to ${query.check_out}`);
  const property = found[0];
  report('search', { city, check_in: query.check_in, check_out: query.check_out, found: found.length, property_id: property.id });

  // 3. Book. The client sends a fresh Idempotency-Key; pass headers: { 'Idempotency-Key': … } to retry safely.
  const body = { property_id: property.id, check_in: query.check_in, check_out: query.check_out, guests: 2 };
  const booking = await client.createBooking({ body });
  report('book', { booking_id: booking.id, status: booking.status, total: booking.price.total, currency: booking.price.currency });

  // The same dates again are taken: a typed problem, not a bare status.
  try {
    await client.createBooking({ body });
    throw new Error('the same dates were booked twice');
  } catch (err) {
    if (!(err instanceof StaybookProblem) || err.code !== 'dates_unavailable') throw err;
    report('book-again', { status: err.status, code: err.code });
  }

  // 4. Pay with the local provider's test card.
  const payment = await client.createPayment({ body: { booking_id: booking.id, payment_method: 'pm_card_visa' } });
  report('pay', { payment_id: payment.id, status: payment.status, amount: payment.amount });

  // 5. Read the booking back: confirmed once the payment has gone through.
  let current = await client.getBooking({ path: { booking_id: booking.id } });
  for (let tries = 0; current.status === 'pending' && tries < 50; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    current = await client.getBooking({ path: { booking_id: booking.id } });
  }
  report('read', { booking_id: current.id, status: current.status });
  if (current.status !== 'confirmed') throw new Error(`the booking is ${current.status}, not confirmed`);

  await client.signOut();
  report('done', { ok: true });
}

main().catch((err) => {
  const facts = err instanceof StaybookProblem ? { status: err.status, code: err.code, detail: err.problem.detail } : { message: String(err) };
  report('failed', facts);
  process.exitCode = 1;
});
