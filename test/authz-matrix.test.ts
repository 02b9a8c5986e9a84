/**
 * Who may call what, as one table a reviewer can read: every operation of the spec
 * × {anonymous, guest, another guest, host, another host, admin}, and the status each
 * must get. "guest" is the guest of the object the request is about (their booking,
 * their payment, their review, their account), "host" the host of its listing; the
 * "other" ones are strangers to it with the same role. Every cell is a real request to
 * a real server, about real objects made by test/support/factories.ts; a request that
 * changes or removes its object gets a fresh one, so the cells do not depend on each
 * other's order. The table must name every operationId of the spec: an operation added
 * to the spec fails this test until someone decides, here, who may call it.
 *
 * The payment webhook is signed, not signed in: its row sends an unsigned event with
 * each caller's token (a bearer token grants nothing there), and its own test sends a
 * signed one without any.
 */
import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { beforeAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { LOCAL_WEBHOOK_SECRET } from '../server/payments/local.js';
import { loadSpec } from '../server/server.js';
import {
  createAdmin,
  createBooking,
  createHost,
  createProperty,
  createReview,
  createUser,
  fromToday,
  insertPastStay,
  payStay,
  propertyInput,
  signIn,
  uniqueEmail,
  type Account,
} from './support/factories.js';
import { useTestApp } from './support/app.js';

const roles = ['anonymous', 'guest', 'otherGuest', 'host', 'otherHost', 'admin'] as const;
type Role = (typeof roles)[number];
type Row = Record<Role, number>;

// prettier-ignore
const matrix = {
  //                           anonymous    guest           otherGuest           host           otherHost           admin
  listUsers:                  { anonymous: 401, guest: 403, otherGuest: 403, host: 403, otherHost: 403, admin: 200 },
  registerUser:               { anonymous: 201, guest: 201, otherGuest: 201, host: 201, otherHost: 201, admin: 201 },
  getCurrentUser:             { anonymous: 401, guest: 200, otherGuest: 200, host: 200, otherHost: 200, admin: 200 },
  getUser:                    { anonymous: 200, guest: 200, otherGuest: 200, host: 200, otherHost: 200, admin: 200 },
  updateUser:                 { anonymous: 401, guest: 200, otherGuest: 403, host: 403, otherHost: 403, admin: 200 },
  deleteUser:                 { anonymous: 401, guest: 204, otherGuest: 403, host: 403, otherHost: 403, admin: 204 },
  login:                      { anonymous: 200, guest: 200, otherGuest: 200, host: 200, otherHost: 200, admin: 200 },
  logout:                     { anonymous: 401, guest: 204, otherGuest: 204, host: 204, otherHost: 204, admin: 204 },
  listProperties:             { anonymous: 200, guest: 200, otherGuest: 200, host: 200, otherHost: 200, admin: 200 },
  createProperty:             { anonymous: 401, guest: 403, otherGuest: 403, host: 201, otherHost: 201, admin: 201 },
  getProperty:                { anonymous: 200, guest: 200, otherGuest: 200, host: 200, otherHost: 200, admin: 200 },
  updateProperty:             { anonymous: 401, guest: 403, otherGuest: 403, host: 200, otherHost: 403, admin: 200 },
  deleteProperty:             { anonymous: 401, guest: 403, otherGuest: 403, host: 204, otherHost: 403, admin: 204 },
  getPropertyAvailability:    { anonymous: 200, guest: 200, otherGuest: 200, host: 200, otherHost: 200, admin: 200 },
  updatePropertyAvailability: { anonymous: 401, guest: 403, otherGuest: 403, host: 200, otherHost: 403, admin: 200 },
  listBookings:               { anonymous: 401, guest: 200, otherGuest: 200, host: 200, otherHost: 200, admin: 200 },
  createBooking:              { anonymous: 401, guest: 201, otherGuest: 201, host: 422, otherHost: 201, admin: 201 },
  getBooking:                 { anonymous: 401, guest: 200, otherGuest: 404, host: 200, otherHost: 404, admin: 200 },
  updateBooking:              { anonymous: 401, guest: 200, otherGuest: 404, host: 403, otherHost: 404, admin: 403 },
  cancelBooking:              { anonymous: 401, guest: 200, otherGuest: 404, host: 200, otherHost: 404, admin: 200 },
  acceptBooking:              { anonymous: 401, guest: 403, otherGuest: 404, host: 200, otherHost: 404, admin: 403 },
  declineBooking:             { anonymous: 401, guest: 403, otherGuest: 404, host: 200, otherHost: 404, admin: 403 },
  listPayments:               { anonymous: 401, guest: 200, otherGuest: 200, host: 200, otherHost: 200, admin: 200 },
  createPayment:              { anonymous: 401, guest: 201, otherGuest: 404, host: 403, otherHost: 404, admin: 403 },
  getPayment:                 { anonymous: 401, guest: 200, otherGuest: 404, host: 404, otherHost: 404, admin: 200 },
  handlePaymentWebhook:       { anonymous: 400, guest: 400, otherGuest: 400, host: 400, otherHost: 400, admin: 400 },
  listReviews:                { anonymous: 200, guest: 200, otherGuest: 200, host: 200, otherHost: 200, admin: 200 },
  createReview:               { anonymous: 401, guest: 201, otherGuest: 404, host: 403, otherHost: 404, admin: 403 },
  getReview:                  { anonymous: 200, guest: 200, otherGuest: 200, host: 200, otherHost: 200, admin: 200 },
  updateReview:               { anonymous: 401, guest: 200, otherGuest: 403, host: 403, otherHost: 403, admin: 403 },
  deleteReview:               { anonymous: 401, guest: 204, otherGuest: 403, host: 403, otherHost: 403, admin: 204 },
  replyToReview:              { anonymous: 401, guest: 403, otherGuest: 403, host: 200, otherHost: 403, admin: 403 },
  deleteReviewReply:          { anonymous: 401, guest: 403, otherGuest: 403, host: 204, otherHost: 403, admin: 204 },
  listConversations:          { anonymous: 401, guest: 200, otherGuest: 200, host: 200, otherHost: 200, admin: 200 },
  // 200, not 201: each of them already has a thread about the listing, made by their createBooking row above.
  startConversation:          { anonymous: 401, guest: 200, otherGuest: 200, host: 422, otherHost: 200, admin: 200 },
  getConversation:            { anonymous: 401, guest: 200, otherGuest: 404, host: 200, otherHost: 404, admin: 200 },
  listMessages:               { anonymous: 401, guest: 200, otherGuest: 404, host: 200, otherHost: 404, admin: 200 },
  sendMessage:                { anonymous: 401, guest: 201, otherGuest: 404, host: 201, otherHost: 404, admin: 403 },
  markConversationRead:       { anonymous: 401, guest: 200, otherGuest: 404, host: 200, otherHost: 404, admin: 403 },
  blockConversation:          { anonymous: 401, guest: 200, otherGuest: 404, host: 200, otherHost: 404, admin: 403 },
  unblockConversation:        { anonymous: 401, guest: 200, otherGuest: 404, host: 200, otherHost: 404, admin: 403 },
} satisfies Record<string, Row>;

type OperationId = keyof typeof matrix;

const { server } = useTestApp();

/** The standing cast: a host with a listing, its guest with a booking, a payment and a review, strangers of each role, an admin. */
interface Cast {
  accounts: Record<Exclude<Role, 'anonymous'>, Account>;
  property: Awaited<ReturnType<typeof createProperty>>;
  /** The host's listing that takes requests (instant_book false). */
  requestListing: Awaited<ReturnType<typeof createProperty>>;
  booking: { id: string };
  paymentId: string;
  reviewId: string;
  /** The guest's thread with the host, made by the booking. */
  conversationId: string;
}
let cast: Cast;

interface Call {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  /** The token to send instead of the role's own (a fresh session, or the fresh owner of a fresh object). */
  token?: string;
}

/** Each night range handed out once, so that fresh bookings on the one listing never overlap. */
let nextStay = 0;
function freshStay() {
  const start = 20 + 3 * nextStay++;
  return { check_in: fromToday(start), check_out: fromToday(start + 2) };
}

/**
 * A fresh pending booking on the cast's listing. Its guest is the caller when the
 * caller is "guest" (the token to use comes back), otherwise a new guest, so that no
 * standing account piles up unpaid holds.
 */
async function freshBooking(role: Role): Promise<{ id: string; token: string | undefined; guest: Account }> {
  const guest = await createUser(server.client);
  const booking = await createBooking(server.client, { guest, property: cast.property, stay: freshStay() });
  return { id: booking.id, guest, token: role === 'guest' ? guest.token : undefined };
}

/** A fresh request on the cast's non-instant listing, by a new guest (the caller's token when the caller is "guest"). */
async function freshRequest(role: Role): Promise<{ id: string; token: string | undefined }> {
  const guest = await createUser(server.client);
  const booking = await createBooking(server.client, { guest, property: cast.requestListing, stay: freshStay() });
  expect(booking.status).toBe('requested');
  return { id: booking.id, token: role === 'guest' ? guest.token : undefined };
}

/** A fresh review of the cast's listing, written by the caller when the caller is "guest", else by a new guest. */
async function freshReview(role: Role): Promise<{ id: string; token: string | undefined }> {
  const guest = await createUser(server.client);
  const review = await createReview(server, { guest, property: cast.property });
  return { id: review.id, token: role === 'guest' ? guest.token : undefined };
}

const requests: Record<OperationId, (role: Role) => Promise<Call>> = {
  listUsers: async () => ({ method: 'GET', path: '/users' }),
  registerUser: async () => ({ method: 'POST', path: '/users', body: { email: uniqueEmail('matrix'), password: 'correct horse battery', name: 'New' } }),
  getCurrentUser: async () => ({ method: 'GET', path: '/users/me' }),
  getUser: async () => ({ method: 'GET', path: `/users/${cast.accounts.guest.id}` }),
  updateUser: async () => ({ method: 'PATCH', path: `/users/${cast.accounts.guest.id}`, body: { name: 'Renamed Guest' } }),
  deleteUser: async (role) => {
    const account = await createUser(server.client);
    return { method: 'DELETE', path: `/users/${account.id}`, ...(role === 'guest' ? { token: account.token } : {}) };
  },
  login: async () => ({ method: 'POST', path: '/auth/login', body: { email: cast.accounts.guest.email, password: cast.accounts.guest.password } }),
  // A session of its own, so that signing out does not end the cast's.
  logout: async (role) => {
    if (role === 'anonymous') return { method: 'POST', path: '/auth/logout' };
    const account = cast.accounts[role];
    return { method: 'POST', path: '/auth/logout', token: await signIn(server.client, account.email, account.password) };
  },
  listProperties: async () => ({ method: 'GET', path: '/properties' }),
  createProperty: async () => ({ method: 'POST', path: '/properties', body: propertyInput() }),
  getProperty: async () => ({ method: 'GET', path: `/properties/${cast.property.id}` }),
  updateProperty: async () => ({ method: 'PATCH', path: `/properties/${cast.property.id}`, body: { name: 'Renamed loft' } }),
  deleteProperty: async () => {
    const listing = await createProperty(server.client, cast.accounts.host);
    return { method: 'DELETE', path: `/properties/${listing.id}` };
  },
  getPropertyAvailability: async () => ({ method: 'GET', path: `/properties/${cast.property.id}/availability?from=${fromToday(1)}&to=${fromToday(8)}` }),
  updatePropertyAvailability: async () => ({
    method: 'PATCH',
    path: `/properties/${cast.property.id}/availability`,
    body: { from: fromToday(300), to: fromToday(302), blocked: true },
  }),
  listBookings: async () => ({ method: 'GET', path: '/bookings' }),
  createBooking: async () => ({ method: 'POST', path: '/bookings', body: { property_id: cast.property.id, guests: 1, ...freshStay() } }),
  getBooking: async () => ({ method: 'GET', path: `/bookings/${cast.booking.id}` }),
  updateBooking: async (role) => {
    const booking = await freshBooking(role);
    return { method: 'PATCH', path: `/bookings/${booking.id}`, body: { guests: 1 }, token: booking.token };
  },
  cancelBooking: async (role) => {
    const booking = await freshBooking(role);
    return { method: 'POST', path: `/bookings/${booking.id}/cancel`, token: booking.token };
  },
  acceptBooking: async (role) => {
    const request = await freshRequest(role);
    return { method: 'POST', path: `/bookings/${request.id}/accept`, token: request.token };
  },
  declineBooking: async (role) => {
    const request = await freshRequest(role);
    return { method: 'POST', path: `/bookings/${request.id}/decline`, body: { reason: 'Not those dates, sorry.' }, token: request.token };
  },
  listPayments: async () => ({ method: 'GET', path: '/payments' }),
  createPayment: async (role) => {
    const booking = await freshBooking(role);
    return { method: 'POST', path: '/payments', body: { booking_id: booking.id, payment_method: 'pm_card_visa' }, token: booking.token };
  },
  getPayment: async () => ({ method: 'GET', path: `/payments/${cast.paymentId}` }),
  handlePaymentWebhook: async () => ({ method: 'POST', path: '/payments/webhook', body: webhookEvent() }),
  listReviews: async () => ({ method: 'GET', path: `/reviews?property_id=${cast.property.id}` }),
  createReview: async (role) => {
    const guest = await createUser(server.client);
    const stay = await insertPastStay(server, { guest, property: cast.property, checkIn: fromToday(-4), checkOut: fromToday(-2), status: 'completed' });
    return { method: 'POST', path: '/reviews', body: { booking_id: stay, rating: 5, comment: 'Lovely.' }, token: role === 'guest' ? guest.token : undefined };
  },
  getReview: async () => ({ method: 'GET', path: `/reviews/${cast.reviewId}` }),
  updateReview: async () => ({ method: 'PATCH', path: `/reviews/${cast.reviewId}`, body: { comment: 'Edited.' } }),
  deleteReview: async (role) => {
    const review = await freshReview(role);
    return { method: 'DELETE', path: `/reviews/${review.id}`, token: review.token };
  },
  replyToReview: async () => ({ method: 'PUT', path: `/reviews/${cast.reviewId}/reply`, body: { comment: 'Thank you!' } }),
  deleteReviewReply: async (role) => {
    const review = await freshReview(role === 'guest' ? 'anonymous' : role);
    const reply = await api.replyToReview({ client: server.client, auth: cast.accounts.host.token, path: { review_id: review.id }, body: { comment: 'Thanks.' } });
    expect(reply.response.status).toBe(200);
    return { method: 'DELETE', path: `/reviews/${review.id}/reply` };
  },
  listConversations: async () => ({ method: 'GET', path: '/conversations' }),
  startConversation: async () => ({ method: 'POST', path: '/conversations', body: { property_id: cast.property.id, body: 'Is the loft quiet?' } }),
  getConversation: async () => ({ method: 'GET', path: `/conversations/${cast.conversationId}` }),
  listMessages: async () => ({ method: 'GET', path: `/conversations/${cast.conversationId}/messages` }),
  sendMessage: async () => ({ method: 'POST', path: `/conversations/${cast.conversationId}/messages`, body: { body: 'See you soon.' } }),
  markConversationRead: async () => ({ method: 'POST', path: `/conversations/${cast.conversationId}/read` }),
  blockConversation: async (role) => {
    const thread = await freshConversation(role);
    return { method: 'POST', path: `/conversations/${thread.id}/block`, token: thread.token };
  },
  unblockConversation: async (role) => {
    const thread = await freshConversation(role);
    return { method: 'DELETE', path: `/conversations/${thread.id}/block`, token: thread.token };
  },
};

/** A fresh thread about the cast's listing, started by the caller when the caller is "guest", else by a new guest. */
async function freshConversation(role: Role): Promise<{ id: string; token: string | undefined }> {
  const guest = await createUser(server.client);
  const started = await api.startConversation({ client: server.client, auth: guest.token, body: { property_id: cast.property.id, body: 'Hello?' } });
  expect(started.response.status).toBe(201);
  return { id: started.data!.id, token: role === 'guest' ? guest.token : undefined };
}

function webhookEvent() {
  return { id: `evt_${randomUUID().replaceAll('-', '')}`, object: 'event', type: 'customer.created', created: Math.floor(Date.now() / 1000), data: { object: { id: 'cus_matrix', object: 'customer' } } };
}

beforeAll(async () => {
  const host = await createHost(server.client);
  const property = await createProperty(server.client, host);
  const guest = await createUser(server.client);
  const booking = await createBooking(server.client, { guest, property, stay: freshStay() });
  const paid = await createBooking(server.client, { guest, property, stay: freshStay() });
  const payment = await payStay(server, paid);
  const review = await createReview(server, { guest, property });
  const threads = await api.listConversations({ client: server.client, auth: guest.token });
  cast = {
    accounts: {
      guest,
      otherGuest: await createUser(server.client),
      host,
      otherHost: await createHost(server.client),
      admin: await createAdmin(server),
    },
    property,
    requestListing: await createProperty(server.client, host, { instant_book: false }),
    booking,
    paymentId: payment.id,
    reviewId: review.id,
    conversationId: threads.data!.data[0]!.id,
  };
});

async function send(call: Call, token: string | undefined): Promise<{ status: number; code?: string }> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (call.body !== undefined) headers['Content-Type'] = 'application/json';
  if (call.method === 'POST' && call.path !== '/payments/webhook') headers['Idempotency-Key'] = randomUUID();
  const response = await fetch(`${server.url}${call.path}`, {
    method: call.method,
    headers,
    body: call.body === undefined ? undefined : JSON.stringify(call.body),
  });
  const text = await response.text();
  const code = response.status >= 400 && text ? (JSON.parse(text) as { code?: string }).code : undefined;
  return { status: response.status, ...(code ? { code } : {}) };
}

describe('the authorization matrix', () => {
  it('names every operation of the spec, and nothing else', async () => {
    const spec = (await loadSpec()) as unknown as { paths: Record<string, Record<string, { operationId?: string }>> };
    const operationIds = Object.values(spec.paths).flatMap((item) => Object.values(item).flatMap((op) => (op?.operationId ? [op.operationId] : [])));
    expect(Object.keys(matrix).sort()).toEqual([...new Set(operationIds)].sort());
  });

  it('gives every caller the status the table says, for every operation', async () => {
    const mismatches: string[] = [];
    for (const [operationId, row] of Object.entries(matrix) as Array<[OperationId, Row]>) {
      for (const role of roles) {
        const call = await requests[operationId](role);
        const token = call.token ?? (role === 'anonymous' ? undefined : cast.accounts[role].token);
        const { status, code } = await send(call, token);
        if (status !== row[role]) mismatches.push(`${operationId} as ${role}: ${status}${code ? ` ${code}` : ''}, table says ${row[role]}`);
      }
    }
    expect(mismatches).toEqual([]);
  }, 120_000);

  it('takes a correctly signed webhook event from a caller that is not signed in', async () => {
    const payload = JSON.stringify(webhookEvent());
    const secret = server.deps.config.stripeWebhookSecret ?? LOCAL_WEBHOOK_SECRET;
    const response = await fetch(`${server.url}/payments/webhook`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Stripe-Signature': Stripe.webhooks.generateTestHeaderString({ payload, secret }) },
      body: payload,
    });
    expect(response.status).toBe(200);
  });
});
