/**
 * npm run walk:bookings -- [--url http://127.0.0.1:3000]
 *
 * The bookings walk a new user takes, against a running server with the demo
 * data (a fresh `npm start`): the demo guest searches Lisbon for free dates,
 * books the Príncipe Real loft and reads the price, is refused an overlapping
 * stay, books back to back, cancels one of their paid upcoming stays and sees
 * the refund its listing's policy allows, and the freed nights are found and
 * booked by another demo user. Each step prints what was sent and what came
 * back, checked against what the contract says; exits 1 on any mismatch.
 *
 * Re-runnable: dates are picked from the calendar at run time, and the walk
 * cancels the unpaid stays it made before it ends. Each run cancels one of the
 * demo guest's seeded paid stays; when none is left it cancels its own unpaid
 * stay instead (no refund: nothing was paid).
 */
import { parseArgs } from 'node:util';
import { createClient, createConfig } from '../generated/client/client/index.js';
import * as api from '../generated/client/sdk.gen.js';
import type { Booking, Problem, Property } from '../generated/client/types.gen.js';
import { addDays, utcToday } from '../server/dates.js';
import { formatMoney } from '../server/mail.js';
import { expectedRefund, firstFreeRun, need, printPrice, problemOf, reporter, runWalk } from './walk-support.js';

const { values: args } = parseArgs({ options: { url: { type: 'string', default: 'http://127.0.0.1:3000' } } });
const url = args.url.replace(/\/$/, '');
const client = createClient(createConfig({ baseUrl: url }));
const DEMO_PASSWORD = 'demo-password';
const LISTING = 'Príncipe Real loft';

const report = reporter();
const { check, say, step } = report;

async function signIn(email: string) {
  const result = await api.login({ client, body: { email, password: DEMO_PASSWORD } });
  const session = need(result.data, `signing in as ${email} (is this a server with the demo data?)`, result);
  return { token: session.access_token, user: session.user };
}

async function search(city: string, checkIn: string, checkOut: string): Promise<Property[]> {
  const found = await api.listProperties({ client, query: { city, check_in: checkIn, check_out: checkOut, guests: 2, limit: 100 } });
  return need(found.data, 'searching', found).data;
}

async function main(): Promise<{ mismatches: number }> {
  console.log(`Bookings walk against ${url}`);
  const today = utcToday();

  step(1, 'Sign in as the demo guest, and as the demo hosts');
  const guest = await signIn('guest@example.com');
  const hana = await signIn('host@example.com');
  const hugo = await signIn('host2@example.com');
  say(`${guest.user.name} (guest@example.com), ${hana.user.name} (host@example.com) and ${hugo.user.name} (host2@example.com) are signed in`);

  step(2, `Search Lisbon for three free nights at the "${LISTING}"`);
  const lisbon = await api.listProperties({ client, query: { city: 'Lisbon', limit: 100 } });
  const loft = need(lisbon.data?.data.find((p) => p.name === LISTING), `finding "${LISTING}" in Lisbon`, lisbon);
  // Three nights for the stay and two after it for the back-to-back one, all free now.
  const checkIn = need(await firstFreeRun(client, loft, addDays(today, 60), 5), 'finding five free nights in the next year');
  const first = { check_in: checkIn, check_out: addDays(checkIn, 3) };
  say(`its calendar is free from ${first.check_in}; GET /properties?city=Lisbon&check_in=${first.check_in}&check_out=${first.check_out}&guests=2`);
  const found = await search('Lisbon', first.check_in, first.check_out);
  say(`${found.length} listing${found.length === 1 ? '' : 's'} free for those nights: ${found.map((p) => `"${p.name}"`).join(', ')}`);
  check(found.some((p) => p.id === loft.id), `"${LISTING}" is among them`);

  step(3, `Book it and read the price (POST /bookings, ${first.check_in} to ${first.check_out}, 2 guests)`);
  const booked = await api.createBooking({ client, auth: guest.token, body: { property_id: loft.id, ...first, guests: 2 } });
  const stay = need(booked.data, 'booking', booked);
  say(`${booked.response.status} ${stay.status}, held for payment until ${stay.expires_at}`);
  check(booked.response.status === 201 && stay.status === 'pending', '201, a pending booking');
  printPrice(report, stay);
  const walkStays: { booking: Booking; token: string }[] = [{ booking: stay, token: guest.token }];

  step(4, 'Try to book a stay that overlaps it by two nights');
  const shifted = { check_in: addDays(first.check_in, 1), check_out: addDays(first.check_out, 1) };
  const overlapping = await api.createBooking({ client, auth: guest.token, body: { property_id: loft.id, ...shifted, guests: 2 } });
  say(`${shifted.check_in} to ${shifted.check_out}: ${problemOf(overlapping)}`);
  check(overlapping.response.status === 409 && (overlapping.error as Problem | undefined)?.code === 'dates_unavailable', 'refused with 409 dates_unavailable');

  step(5, 'Search the same dates again');
  const after = await search('Lisbon', first.check_in, first.check_out);
  check(!after.some((p) => p.id === loft.id), `"${LISTING}" is no longer listed for ${first.check_in} to ${first.check_out} (${after.length} other${after.length === 1 ? ' listing still is' : ' listings still are'})`);

  step(6, `Book back to back: check in on ${first.check_out}, the day the first stay checks out`);
  const next = { check_in: first.check_out, check_out: addDays(first.check_out, 2) };
  const second = await api.createBooking({ client, auth: guest.token, body: { property_id: loft.id, ...next, guests: 1 } });
  const secondStay = need(second.data, 'booking back to back', second);
  check(second.response.status === 201, `${second.response.status} ${secondStay.status}: ${next.check_in} to ${next.check_out}, total ${formatMoney(secondStay.price.total, secondStay.price.currency)}`);
  walkStays.push({ booking: secondStay, token: guest.token });

  step(7, 'Cancel a paid upcoming stay and see the refund');
  const mine = await api.listBookings({ client, auth: guest.token, query: { status: 'confirmed', limit: 100 } });
  // The paid stay furthest ahead: the seeded ones cover each policy.
  const paid = (mine.data?.data ?? []).filter((b) => b.check_in > today).sort((a, b) => b.check_in.localeCompare(a.check_in))[0];
  const toCancel = paid ?? stay;
  if (!paid) say('no paid upcoming stay is left (each walk cancels one of the seeded ones; a fresh DATA_DIR seeds them again), so the walk cancels its own unpaid stay');
  const listing = need((await api.getProperty({ client, path: { property_id: toCancel.property_id } })).data, 'reading the listing');
  say(`"${listing.name}" (${listing.city}), ${toCancel.check_in} to ${toCancel.check_out}, ${toCancel.status}, total ${formatMoney(toCancel.price.total, toCancel.price.currency)} of which service fee ${formatMoney(toCancel.price.service_fee, toCancel.price.currency)}; policy ${listing.cancellation_policy}`);
  const cancelled = await api.cancelBooking({ client, auth: guest.token, path: { booking_id: toCancel.id }, body: { reason: 'Plans changed' } });
  const result = need(cancelled.data, 'cancelling', cancelled);
  if (paid) {
    const expected = expectedRefund(paid, listing.cancellation_policy, today);
    say(`${cancelled.response.status} ${result.status}; refund ${result.refund ? `${formatMoney(result.refund.amount, result.refund.currency)} (${result.refund.status})` : 'none'}`);
    check(result.status === 'cancelled' && result.refund?.amount === expected.amount, `as the policy says (${expected.why}): ${formatMoney(expected.amount, paid.price.currency)}`);
  } else {
    say(`${cancelled.response.status} ${result.status}; refund ${result.refund ? formatMoney(result.refund.amount, result.refund.currency) : 'none'}`);
    check(result.status === 'cancelled' && result.refund === null, 'cancelled, and nothing to refund: it was never paid');
  }

  step(8, 'The freed nights are bookable again');
  const freed = await search(listing.city, toCancel.check_in, toCancel.check_out);
  check(freed.some((p) => p.id === listing.id), `GET /properties?city=${listing.city}&check_in=${toCancel.check_in}&check_out=${toCancel.check_out} lists "${listing.name}" again`);
  // Another demo user, travelling: whichever of the two hosts does not own the listing.
  const other = listing.host_id === hana.user.id ? hugo : hana;
  const rebooked = await api.createBooking({ client, auth: other.token, body: { property_id: listing.id, check_in: toCancel.check_in, check_out: toCancel.check_out, guests: Math.min(toCancel.guests, listing.max_guests) } });
  const rebooking = need(rebooked.data, 'booking the freed nights', rebooked);
  check(rebooked.response.status === 201, `${other.user.name} (${other.user.email}), travelling as a guest, books them: ${rebooked.response.status} ${rebooking.status}`);
  walkStays.push({ booking: rebooking, token: other.token });

  step(9, `What the host sees: stays on ${hana.user.name}'s listings (GET /bookings?role=host)`);
  const hosted = await api.listBookings({ client, auth: hana.token, query: { role: 'host', limit: 100 } });
  const onLoft = (hosted.data?.data ?? []).filter((b) => b.property_id === loft.id && (b.status === 'pending' || b.status === 'confirmed'));
  for (const b of onLoft) say(`${LISTING}: ${b.check_in} to ${b.check_out}  ${b.status}`);
  check(onLoft.some((b) => b.id === stay.id) === !!paid && onLoft.some((b) => b.id === secondStay.id), "the walk's stays are there");

  step(10, 'Tidy up: cancel the unpaid stays this walk made, so a re-run finds the calendar as it was');
  for (const { booking, token } of walkStays) {
    if (booking.id === toCancel.id) continue;
    const done = await api.cancelBooking({ client, auth: token, path: { booking_id: booking.id } });
    say(`${booking.check_in} to ${booking.check_out}: ${done.response.status} ${done.data?.status ?? problemOf(done)}`);
  }

  console.log(report.mismatches === 0 ? '\nDone: every step answered as the contract says.' : `\n${report.mismatches} step(s) did not answer as the contract says.`);
  return report;
}

runWalk(url, main);
