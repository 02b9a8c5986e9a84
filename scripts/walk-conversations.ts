/**
 * npm run walk:conversations -- [--url http://127.0.0.1:3000] [--outbox .data/outbox] [--request-expiry-hours 24] [--hold-minutes 15]
 *
 * The conversations and request-to-book walk a new user takes, against a
 * running server with the demo data (a fresh `npm start`): the demo guest finds
 * a listing that is not instant-bookable and asks its host about it; the host
 * sees the thread with one unread message, reads it and answers; the guest
 * sees the answer unread, reads it, requests a stay on free dates (nothing can
 * be paid yet) and the thread links the request, which the host is told by
 * email; she finds it among the requests waiting for her and accepts it (the
 * guest is told by email); the guest pays with the local
 * provider's test card and the stay is confirmed; a last word each way, read
 * by each side. Unread counts are checked on both sides after every message
 * and read marker, and a stranger is refused the thread. Each step prints what
 * was sent and what came back, checked against the contract; exits 1 on any
 * mismatch, 2 when the walk cannot go on.
 *
 * Re-runnable: the thread is the guest's one thread about the listing (the
 * first run makes it, later runs append to it), every run leaves both sides
 * with nothing unread, and each run requests three nights found free in the
 * listing's calendar at run time. `--request-expiry-hours` and
 * `--hold-minutes` are the server's REQUEST_EXPIRY_HOURS and
 * BOOKING_HOLD_SECONDS / 60, to check the deadlines it sets; `--outbox` is
 * where the server writes its emails (MAIL_OUTBOX_DIR, no SMTP_URL).
 * test/conversations-walk.test.ts runs this same walk against a test server.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createClient, createConfig, type Client } from '../generated/client/client/index.js';
import * as api from '../generated/client/sdk.gen.js';
import type { Booking, Conversation, Message, Payment, Problem, Property } from '../generated/client/types.gen.js';
import { addDays, utcToday } from '../server/dates.js';
import { formatMoney } from '../server/mail.js';
import { firstFreeRun, isEntryPoint, printPrice, problemOf, registerAndSignIn, reporter, waitForEmail } from './walk-support.js';

const DEMO_PASSWORD = 'demo-password';
const NIGHTS = 3;
/** How long an email may take (a job after the commit) before the walk calls it missing. */
const EMAIL_WAIT_MS = 15_000;

export interface ConversationsWalkOptions {
  /** The server's REQUEST_EXPIRY_HOURS: how long the host has to answer. */
  requestExpiryHours?: number;
  /** The server's BOOKING_HOLD_SECONDS / 60: how long an accepted request waits for payment. */
  holdMinutes?: number;
  /** Where the server writes its emails (MAIL_OUTBOX_DIR); without it the emails are not checked. */
  outboxDir?: string;
  print?: (line: string) => void;
}

export interface ConversationsWalkResult {
  /** Checks whose answer was not the one the contract promises. */
  mismatches: number;
  listing: Property;
  conversation: Conversation;
  /** The messages this run sent, in order: question, answer, acceptance note, thanks. */
  messages: Message[];
  booking: Booking;
  payment: Payment;
  guestId: string;
  hostId: string;
  strangerId: string;
}

/** The walk cannot go on (no server, no demo data, no free dates). */
export class WalkStopped extends Error {}

type Result<T> = { data?: T; error?: unknown; response: Response };

const codeOf = (result: { error?: unknown }) => (result.error as Partial<Problem> | undefined)?.code;
const clip = (text: string, length = 60) => (text.length > length ? `${text.slice(0, length - 1)}…` : text);
const ms = (iso: string | null | undefined) => (iso ? new Date(iso).getTime() : Number.NaN);
/** Whether `later` is `seconds` after `earlier`, give or take a second (the server truncates times to milliseconds). */
const about = (later: string | null | undefined, earlier: string | null | undefined, seconds: number) =>
  Math.abs(ms(later) - ms(earlier) - seconds * 1000) <= 1000;

export async function walkConversations(baseUrl: string, options: ConversationsWalkOptions = {}): Promise<ConversationsWalkResult> {
  const { requestExpiryHours = 24, holdMinutes = 15, outboxDir, print = () => {} } = options;
  const client: Client = createClient(createConfig({ baseUrl: baseUrl.replace(/\/$/, '') }));
  const report = reporter(print);
  const { say, step, check } = report;
  const need = <T>(result: Result<T>, what: string): T => {
    // No response at all: the request itself failed (no server); its error says why (cause ECONNREFUSED).
    if (!(result as Partial<Result<T>>).response) throw result.error instanceof Error ? result.error : new WalkStopped(`${what} failed: ${String(result.error)}`);
    if (result.data === undefined) throw new WalkStopped(`${what} failed (${problemOf(result)})`);
    return result.data;
  };
  const signIn = async (email: string) => {
    const session = need(await api.login({ client, body: { email, password: DEMO_PASSWORD } }), `signing in as ${email} (is this a server with the demo data?)`);
    return { token: session.access_token, user: session.user };
  };
  /** The thread as one side sees it in their inbox (GET /conversations), first page. */
  const inbox = async (token: string, role: 'guest' | 'host') =>
    need(await api.listConversations({ client, auth: token, query: { role, limit: 20 } }), `listing the ${role}'s conversations`).data;
  /** Checks that the email of `kind` about the booking reached `to` and says `says`. */
  const checkEmail = async (kind: string, bookingId: string, to: string, says: string) => {
    if (!outboxDir) return say(`(no outbox given: the ${kind} email is not checked)`);
    const email = await waitForEmail(outboxDir, kind, bookingId, EMAIL_WAIT_MS);
    if (email) say(`${email.file}: to ${email.to}, "${email.subject}"`);
    check(
      !!email && email.to === to && email.text.includes(says),
      email ? `a ${kind} email to ${to} naming the booking, with "${says}"` : `no ${kind} email naming booking ${bookingId} in ${outboxDir} within ${EMAIL_WAIT_MS / 1000} s (does the server write emails there: MAIL_OUTBOX_DIR, no SMTP_URL?)`,
    );
  };
  const today = utcToday();
  const messages: Message[] = [];

  step(1, 'Sign in as the demo guest and as the demo host');
  const guest = await signIn('guest@example.com');
  const host = await signIn('host@example.com');
  say(`${guest.user.name} (guest@example.com) and ${host.user.name} (host@example.com) are signed in`);

  step(2, 'Find a listing that is not instant-bookable (GET /properties, instant_book false), and free nights on it');
  const listings: Property[] = [];
  let cursor: string | undefined;
  do {
    const page = need(await api.listProperties({ client, query: { limit: 100, ...(cursor ? { cursor } : {}) } }), 'listing properties');
    listings.push(...page.data);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  const onRequest = listings.filter((p) => !p.instant_book);
  say(`${listings.length} listings, ${onRequest.length} on request: ${onRequest.map((p) => `"${p.name}"`).join(', ')}`);
  // The demo host's own (the walk signs in as her to answer), with room for the stay.
  const listing = onRequest.find((p) => p.host_id === host.user.id && p.min_nights <= NIGHTS && NIGHTS <= p.max_nights);
  if (!listing) throw new WalkStopped(`no listing of ${host.user.name} is on request (instant_book false): is this a server with the demo data?`);
  // A random start 30 to 210 days ahead, so runs rarely meet; the calendar says which nights are free.
  const checkIn = await firstFreeRun(client, listing, addDays(today, 30 + Math.floor(Math.random() * 180)), NIGHTS);
  if (!checkIn) throw new WalkStopped(`"${listing.name}" has no ${NIGHTS} free nights in a row in the coming year`);
  const checkOut = addDays(checkIn, NIGHTS);
  say(`→ "${listing.name}" (${listing.city}), ${formatMoney(listing.price_per_night, listing.currency)} a night, policy ${listing.cancellation_policy}`);
  say(`GET /properties/${listing.id}/availability: ${checkIn} to ${checkOut} is free`);
  check(listing.instant_book === false, 'instant_book false: a stay there is a request its host answers');

  step(3, 'The guest asks the host about it (POST /conversations with an Idempotency-Key)');
  const guestBefore = (await inbox(guest.token, 'guest')).find((c) => c.property_id === listing.id);
  const hostBefore = (await inbox(host.token, 'host')).find((c) => c.property_id === listing.id && c.guest_id === guest.user.id);
  say(guestBefore ? `an earlier run's thread exists (${guestBefore.id}): the question joins it` : 'no thread about it yet: the question starts one');
  const question = `Hello ${host.user.name.split(' ')[0]}! Is the cottage warm enough in the evenings, and could we arrive on ${checkIn} after 20:00?`;
  const key = randomUUID();
  const asked = await api.startConversation({ client, auth: guest.token, headers: { 'Idempotency-Key': key }, body: { property_id: listing.id, body: question } });
  const thread = need(asked, 'asking the host');
  say(`${asked.response.status}: conversation ${thread.id}, last message "${clip(thread.last_message?.body ?? '')}"`);
  check(
    guestBefore ? asked.response.status === 200 : asked.response.status === 201 && asked.response.headers.get('location') === `/conversations/${thread.id}`,
    guestBefore ? '200: appended to the existing thread (one per guest and listing)' : `201, Location /conversations/${thread.id}`,
  );
  if (guestBefore) check(guestBefore.id === thread.id, 'the same thread as before');
  check(thread.property_id === listing.id && thread.guest_id === guest.user.id && thread.host_id === listing.host_id, "between the guest and the listing's host, about this listing");
  check(thread.last_message?.body === question && thread.last_message.sender_id === guest.user.id, 'its last message is the question, from the guest');
  check(thread.blocked_by.length === 0, 'nobody blocks anybody');
  messages.push({ ...thread.last_message!, conversation_id: thread.id });
  const replayed = await api.startConversation({ client, auth: guest.token, headers: { 'Idempotency-Key': key }, body: { property_id: listing.id, body: question } });
  check(
    replayed.response.headers.get('idempotent-replayed') === 'true' && replayed.data?.last_message?.id === thread.last_message?.id,
    `sent again with the same key (a lost response): ${replayed.response.status}, replayed, the same message ${replayed.data?.last_message?.id}`,
  );

  step(4, "The host's inbox: the thread first, one unread (GET /conversations?role=host)");
  const hostUnreadBefore = hostBefore?.unread_count ?? 0;
  const hostInbox = await inbox(host.token, 'host');
  const hostView = hostInbox.find((c) => c.id === thread.id);
  say(`${hostInbox.length} thread(s); this one: unread_count ${hostView?.unread_count}, last message "${clip(hostView?.last_message?.body ?? '')}"`);
  check(hostInbox[0]?.id === thread.id, 'newest activity first: the thread leads');
  check(hostView?.unread_count === hostUnreadBefore + 1, `unread_count ${hostUnreadBefore} → ${hostUnreadBefore + 1}`);

  step(5, 'The host reads it (GET …/messages, POST …/read) and answers (POST …/messages)');
  const page = need(await api.listMessages({ client, auth: host.token, path: { conversation_id: thread.id }, query: { limit: 5 } }), 'listing the messages');
  for (const m of page.data.slice(0, 3)) say(`${m.sender_id === guest.user.id ? 'guest' : 'host '}  ${m.created_at}  ${clip(m.body)}`);
  check(page.data[0]?.body === question && page.data[0].sender_id === guest.user.id, 'newest first: the question leads');
  const hostRead = await api.markConversationRead({ client, auth: host.token, path: { conversation_id: thread.id } });
  const marker = need(hostRead, 'marking the thread read');
  say(`POST /conversations/${thread.id}/read: ${hostRead.response.status}, last_read_at ${marker.last_read_at}`);
  check(marker.unread_count === 0 && marker.user_id === host.user.id && marker.last_read_at === page.data[0]?.created_at, "unread_count 0; the marker is the question's time");
  const hostAfterRead = need(await api.getConversation({ client, auth: host.token, path: { conversation_id: thread.id } }), 'reading the thread');
  check(hostAfterRead.unread_count === 0 && hostAfterRead.last_read_at === marker.last_read_at, `GET /conversations/${thread.id} as the host: unread_count 0`);
  const guestUnreadBefore = need(await api.getConversation({ client, auth: guest.token, path: { conversation_id: thread.id } }), 'reading the thread').unread_count;
  const answerText = 'Hello! The wood stove keeps it warm, and arriving late is fine: the key box code comes the day before.';
  const answered = await api.sendMessage({ client, auth: host.token, path: { conversation_id: thread.id }, headers: { 'Idempotency-Key': randomUUID() }, body: { body: answerText } });
  const answer = need(answered, 'answering');
  say(`${answered.response.status}: message ${answer.id} at ${answer.created_at}`);
  check(answered.response.status === 201 && answer.sender_id === host.user.id && answer.body === answerText, '201, from the host');
  check(ms(answer.created_at) > ms(messages[0]!.created_at), 'after the question');
  messages.push(answer);

  step(6, 'The guest sees the answer unread, reads it');
  const guestInbox = await inbox(guest.token, 'guest');
  const guestView = guestInbox.find((c) => c.id === thread.id);
  say(`GET /conversations?role=guest: unread_count ${guestView?.unread_count}, last message "${clip(guestView?.last_message?.body ?? '')}"`);
  check(guestInbox[0]?.id === thread.id && guestView?.last_message?.id === answer.id, "the thread leads the guest's inbox, the answer last");
  check(guestView?.unread_count === guestUnreadBefore + 1, `unread_count ${guestUnreadBefore} → ${guestUnreadBefore + 1}`);
  const guestRead = need(await api.markConversationRead({ client, auth: guest.token, path: { conversation_id: thread.id } }), 'marking the thread read');
  check(guestRead.unread_count === 0 && guestRead.last_read_at === answer.created_at, `POST …/read: unread_count 0, last_read_at ${guestRead.last_read_at} (the answer's time)`);
  const hostStill = need(await api.getConversation({ client, auth: host.token, path: { conversation_id: thread.id } }), 'reading the thread');
  check(hostStill.unread_count === 0, "the host's own answer is not unread to her: unread_count 0");

  step(7, 'A stranger cannot read the thread');
  const stranger = await registerAndSignIn(client, 'Sam Stranger', 'walk-conversations');
  const peek = await api.getConversation({ client, auth: stranger.token, path: { conversation_id: thread.id } });
  const peekMessages = await api.listMessages({ client, auth: stranger.token, path: { conversation_id: thread.id } });
  say(`${stranger.email}: GET /conversations/${thread.id}: ${problemOf(peek)}; GET …/messages: ${problemOf(peekMessages)}`);
  check(peek.response.status === 404 && codeOf(peek) === 'not_found' && peekMessages.response.status === 404, "404 not_found for both: not even the thread's existence is told");

  step(8, `The guest requests ${checkIn} to ${checkOut} (POST /bookings): a request, nothing to pay yet`);
  const requested = await api.createBooking({ client, auth: guest.token, body: { property_id: listing.id, check_in: checkIn, check_out: checkOut, guests: 2 } });
  const request = need(requested, 'requesting the stay');
  say(`${requested.response.status} ${request.status}, the host must answer by ${request.expires_at}`);
  check(requested.response.status === 201 && request.status === 'requested', '201, requested');
  check(about(request.expires_at, request.created_at, requestExpiryHours * 3600), `expires_at is ${requestExpiryHours} hours after the request (REQUEST_EXPIRY_HOURS)`);
  printPrice(report, request);
  const early = await api.createPayment({ client, auth: guest.token, headers: { 'Idempotency-Key': randomUUID() }, body: { booking_id: request.id, payment_method: 'pm_card_visa' } });
  say(`POST /payments before the host answers: ${problemOf(early)}`);
  check(early.response.status === 409 && codeOf(early) === 'awaiting_host_approval', '409 awaiting_host_approval: nothing charged');
  const linked = need(await api.getConversation({ client, auth: guest.token, path: { conversation_id: thread.id } }), 'reading the thread');
  check(linked.booking_id === request.id, `GET /conversations/${thread.id}: booking_id ${linked.booking_id}, the request`);
  const calendar = need(await api.getPropertyAvailability({ client, path: { property_id: listing.id }, query: { from: checkIn, to: checkOut } }), 'reading the calendar');
  check(calendar.nights.every((night) => night.status !== 'free'), `the requested nights are held: ${calendar.nights.map((n) => n.status).join(', ')}`);
  await checkEmail('booking_requested', request.id, host.user.email ?? 'host@example.com', `before ${request.expires_at}`);

  step(9, 'The host finds the request (GET /bookings?role=host&status=requested) and accepts it');
  const waiting = need(await api.listBookings({ client, auth: host.token, query: { role: 'host', status: 'requested', limit: 100 } }), 'listing requests').data;
  say(`${waiting.length} request(s) waiting: ${waiting.map((b) => `${b.check_in}…${b.check_out}`).join(', ')}`);
  check(waiting.some((b) => b.id === request.id) && waiting.every((b) => b.status === 'requested'), 'the new request is among them, and only requests');
  const threadOfHost = need(await api.getConversation({ client, auth: host.token, path: { conversation_id: thread.id } }), 'reading the thread');
  check(threadOfHost.booking_id === request.id, 'her thread with the guest names it too');
  const acceptedCall = await api.acceptBooking({ client, auth: host.token, path: { booking_id: request.id } });
  const accepted = need(acceptedCall, 'accepting');
  say(`POST /bookings/${request.id}/accept: ${acceptedCall.response.status} ${accepted.status}, pay by ${accepted.expires_at}`);
  check(acceptedCall.response.status === 200 && accepted.status === 'pending' && accepted.responded_at !== null, '200, pending, responded_at set');
  check(about(accepted.expires_at, accepted.responded_at, holdMinutes * 60), `a hold of ${holdMinutes} minutes from the acceptance`);
  await checkEmail('booking_accepted', request.id, guest.user.email ?? 'guest@example.com', `Pay by ${accepted.expires_at}`);
  const again = await api.acceptBooking({ client, auth: host.token, path: { booking_id: request.id } });
  check(again.response.status === 409 && codeOf(again) === 'booking_not_requested', `accepting it again: ${problemOf(again)}`);
  const noteText = `Accepted: see you on ${checkIn}!`;
  const note = need(
    await api.sendMessage({ client, auth: host.token, path: { conversation_id: thread.id }, headers: { 'Idempotency-Key': randomUUID() }, body: { body: noteText } }),
    'writing to the guest',
  );
  messages.push(note);
  const guestSeesNote = need(await api.getConversation({ client, auth: guest.token, path: { conversation_id: thread.id } }), 'reading the thread');
  say(`she writes "${noteText}"; the guest's unread_count ${guestSeesNote.unread_count}`);
  check(guestSeesNote.unread_count === 1 && guestSeesNote.last_message?.id === note.id, "the guest's unread_count 0 → 1");

  step(10, 'The guest pays with pm_card_visa (POST /payments) and the stay is confirmed');
  const paidCall = await api.createPayment({ client, auth: guest.token, headers: { 'Idempotency-Key': randomUUID() }, body: { booking_id: request.id, payment_method: 'pm_card_visa' } });
  const payment = need(paidCall, 'paying');
  say(`${paidCall.response.status} ${payment.status}, ${formatMoney(payment.amount, payment.currency)} (${payment.provider} ${payment.provider_reference})`);
  check(paidCall.response.status === 201 && payment.status === 'succeeded', '201 succeeded');
  check(payment.amount === request.price.total && payment.booking_id === request.id && payment.payer_id === guest.user.id, `the booking's total, ${formatMoney(request.price.total, request.price.currency)}, paid by the guest`);
  const confirmed = need(await api.getBooking({ client, auth: guest.token, path: { booking_id: request.id } }), 'reading the booking');
  check(confirmed.status === 'confirmed' && confirmed.expires_at === null, `GET /bookings/${request.id}: ${confirmed.status}`);
  const hostSeesIt = need(await api.getBooking({ client, auth: host.token, path: { booking_id: request.id } }), 'reading the booking as the host');
  check(hostSeesIt.status === 'confirmed', `the host sees it ${hostSeesIt.status}`);

  step(11, 'Both read the thread; a last word from the guest, read by the host');
  const guestReads = need(await api.markConversationRead({ client, auth: guest.token, path: { conversation_id: thread.id } }), 'marking read');
  check(guestReads.unread_count === 0 && guestReads.last_read_at === note.created_at, "the guest reads the host's note: unread_count 1 → 0");
  const thanksText = 'Paid, thank you! See you soon.';
  const thanks = need(
    await api.sendMessage({ client, auth: guest.token, path: { conversation_id: thread.id }, headers: { 'Idempotency-Key': randomUUID() }, body: { body: thanksText } }),
    'thanking the host',
  );
  messages.push(thanks);
  const hostSeesThanks = (await inbox(host.token, 'host')).find((c) => c.id === thread.id);
  check(hostSeesThanks?.unread_count === 1 && hostSeesThanks.last_message?.id === thanks.id, `the host's unread_count 0 → ${hostSeesThanks?.unread_count}, "${thanksText}" last`);
  need(await api.markConversationRead({ client, auth: host.token, path: { conversation_id: thread.id } }), 'marking read');
  const finalHost = need(await api.getConversation({ client, auth: host.token, path: { conversation_id: thread.id } }), 'reading the thread');
  const finalGuest = need(await api.getConversation({ client, auth: guest.token, path: { conversation_id: thread.id } }), 'reading the thread');
  const all = need(await api.listMessages({ client, auth: guest.token, path: { conversation_id: thread.id }, query: { limit: 4 } }), 'listing the messages').data;
  for (const m of [...all].reverse()) say(`${m.sender_id === guest.user.id ? 'guest' : 'host '}  ${clip(m.body, 70)}`);
  check(all.map((m) => m.id).join() === [...messages].reverse().map((m) => m.id).join(), "this run's four messages, newest first, as both sent them");
  check(finalHost.unread_count === 0 && finalGuest.unread_count === 0, 'nothing unread on either side');
  check(finalGuest.booking_id === request.id && finalGuest.last_message?.id === thanks.id, 'the thread names the confirmed stay and ends with the thanks');

  const { mismatches } = report;
  print(mismatches === 0 ? '\nDone: every step answered as the contract says.' : `\n${mismatches} check(s) did not answer as the contract says.`);
  return {
    mismatches,
    listing,
    conversation: finalGuest,
    messages,
    booking: confirmed,
    payment,
    guestId: guest.user.id,
    hostId: host.user.id,
    strangerId: stranger.id,
  };
}

if (isEntryPoint(import.meta.url)) {
  const { values: args } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:3000' },
      outbox: { type: 'string', default: '.data/outbox' },
      'request-expiry-hours': { type: 'string', default: '24' },
      'hold-minutes': { type: 'string', default: '15' },
    },
  });
  console.log(`Conversations walk against ${args.url}, reading emails from ${path.resolve(args.outbox)}`);
  try {
    const { mismatches } = await walkConversations(args.url, {
      requestExpiryHours: Number(args['request-expiry-hours']),
      holdMinutes: Number(args['hold-minutes']),
      outboxDir: args.outbox,
      print: (line) => console.log(line),
    });
    process.exitCode = mismatches === 0 ? 0 : 1;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    if (cause === 'ECONNREFUSED') console.error(`No server answers at ${args.url}: start one with npm start.`);
    else console.error(`The walk stopped: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  }
}
