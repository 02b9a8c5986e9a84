/**
 * Factories that make what a test needs through the API itself (so every row is
 * one a client could have made), filling in any missing parents. The only row
 * written directly is an admin: the API rightly refuses to make one.
 */
import { randomUUID } from 'node:crypto';
import * as api from '../../generated/client/sdk.gen.js';
import type { Client } from '../../generated/client/client/index.js';
import type { Booking, BookingInput, Payment, Property, PropertyInput, RegisterUserInput, Review, User } from '../../generated/client/types.gen.js';
import { priceStay } from '../../handlers/bookings/rules.js';
import { hashPassword } from '../../server/passwords.js';
import { addDays, daysBetween, utcToday } from '../../server/dates.js';
import { createPaymentAs } from './payments.js';
import type { TestServer } from './server.js';

export interface Account extends User {
  email: string;
  password: string;
  token: string;
}

/**
 * The body of a successful call, or an error that says what happened instead: the
 * status and problem the server answered, or, when no answer came, the network
 * error and its cause (an ECONNRESET, a refused connection), which JSON would print as `{}`.
 */
export function expectData<T>(operation: string, result: { data?: T; error?: unknown; response?: Response }): T {
  if (result.data !== undefined) return result.data;
  if (result.error instanceof Error) {
    const cause = result.error.cause instanceof Error ? `: ${result.error.cause.message}` : '';
    throw new Error(`${operation} got no answer: ${result.error.message}${cause}`, { cause: result.error });
  }
  throw new Error(`${operation} failed with ${result.response?.status}: ${JSON.stringify(result.error)}`);
}

export function uniqueEmail(prefix = 'user'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}@example.test`;
}

export async function signIn(client: Client, email: string, password: string): Promise<string> {
  return expectData('login', await api.login({ client, body: { email, password } })).access_token;
}

export async function createUser(client: Client, overrides: Partial<RegisterUserInput> = {}): Promise<Account> {
  const input: RegisterUserInput = {
    name: 'Test User',
    role: 'guest',
    password: 'correct horse battery',
    ...overrides,
    email: overrides.email ?? uniqueEmail(overrides.role ?? 'guest'),
  };
  const data = expectData('registerUser', await api.registerUser({ client, body: input }));
  return { ...data, email: input.email, password: input.password, token: await signIn(client, input.email, input.password) };
}

export const createHost = (client: Client, overrides: Partial<RegisterUserInput> = {}) =>
  createUser(client, { name: 'Test Host', ...overrides, role: 'host' });

export async function createAdmin(server: TestServer): Promise<Account> {
  const email = uniqueEmail('admin');
  const password = 'admin password 1';
  const row = await server.deps.db
    .insertInto('users')
    .values({ email, password_hash: await hashPassword(password), role: 'admin', name: 'Test Admin' })
    .returningAll()
    .executeTakeFirstOrThrow();
  const token = await signIn(server.client, email, password);
  const { data } = await api.getCurrentUser({ client: server.client, auth: token });
  if (!data || data.id !== row.id) throw new Error('admin sign-in failed');
  return { ...data, email, password, token };
}

export function propertyInput(overrides: Partial<PropertyInput> = {}): PropertyInput {
  return {
    name: 'Sunny loft by the river',
    description: 'Two bedrooms, a balcony over the Tagus and a kitchen you will want to cook in.',
    city: 'Lisbon',
    country: 'PT',
    latitude: 38.7077,
    longitude: -9.1365,
    price_per_night: 12000,
    currency: 'EUR',
    cleaning_fee: 3000,
    max_guests: 4,
    bedrooms: 2,
    amenities: ['wifi', 'kitchen'],
    photos: ['https://images.example.com/loft-1.jpg'],
    cancellation_policy: 'moderate',
    min_nights: 1,
    max_nights: 30,
    ...overrides,
  };
}

export async function createProperty(client: Client, host?: Account, overrides: Partial<PropertyInput> = {}): Promise<Property & { host: Account }> {
  const owner = host ?? (await createHost(client));
  const data = expectData('createProperty', await api.createProperty({ client, auth: owner.token, body: propertyInput(overrides) }));
  return { ...data, host: owner };
}

/** The date `days` after today (UTC), for stays that are always in the future. */
export function fromToday(days: number): string {
  return addDays(utcToday(), days);
}

/** A pending booking made through the API by `guest` (a new guest if none), on `property` (a new listing if none). */
export async function createBooking(
  client: Client,
  options: { guest?: Account; property?: Property; stay?: Partial<BookingInput>; idempotencyKey?: string } = {},
): Promise<Booking & { guest: Account }> {
  const guest = options.guest ?? (await createUser(client));
  const property = options.property ?? (await createProperty(client));
  const body: BookingInput = { property_id: property.id, check_in: fromToday(30), check_out: fromToday(33), guests: 2, ...options.stay };
  const data = expectData('createBooking', await api.createBooking({
    client,
    auth: guest.token,
    body,
    ...(options.idempotencyKey ? { headers: { 'Idempotency-Key': options.idempotencyKey } } : {}),
  }));
  return { ...data, guest };
}

/**
 * Pays a pending booking as its guest would: createPayment with Stripe's test
 * card pm_card_visa (the local provider, or the test Stripe server), which
 * confirms it. Returns the payment.
 */
export async function payStay(server: TestServer, booking: { id: string; guest: { token: string } }, paymentMethod = 'pm_card_visa'): Promise<Payment> {
  return expectData('createPayment', await createPaymentAs(server.client, booking.guest, booking.id, paymentMethod));
}

/**
 * A paid stay that has already ended, written directly: the API rightly refuses
 * to book dates in the past, and this is what such a stay looks like in the
 * database once time has passed: priced as the server prices stays, paid with one
 * succeeded payment of its total (so that the database still adds up, see
 * consistency.ts).
 */
export async function insertPastStay(
  server: TestServer,
  options: { guest: Account; property: Property; checkIn: string; checkOut: string; status?: 'confirmed' | 'completed' },
): Promise<string> {
  const price = priceStay(options.property, daysBetween(options.checkIn, options.checkOut), server.deps.config.serviceFeeBasisPoints);
  const confirmedAt = new Date(`${addDays(options.checkIn, -1)}T12:00:00Z`);
  return server.deps.db.transaction().execute(async (trx) => {
    const { id } = await trx
      .insertInto('bookings')
      .values({
        property_id: options.property.id,
        guest_id: options.guest.id,
        check_in: options.checkIn,
        check_out: options.checkOut,
        guests: 1,
        status: options.status ?? 'confirmed',
        ...price,
        confirmed_at: confirmedAt,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await trx
      .insertInto('payments')
      .values({
        booking_id: id,
        payer_id: options.guest.id,
        amount: price.total,
        currency: price.currency,
        status: 'succeeded',
        payment_method: 'pm_card_visa',
        provider: 'local',
        provider_reference: `pi_past_stay_${id.replaceAll('-', '')}`,
        provider_idempotency_key: `past-stay-${id}`,
        created_at: confirmedAt,
        succeeded_at: confirmedAt,
      })
      .execute();
    return id;
  });
}

/**
 * A review made through the API by `guest` (a new guest if none) of a finished
 * stay at `property` (a new listing if none) that checked out `checkOut` days
 * from today (default yesterday, within any review window). The stay is written
 * as the sweep leaves it (`completed`), so several reviewers' stays may share
 * dates: the no-overlap rule concerns only stays that still hold their dates.
 */
export async function createReview(
  server: TestServer,
  options: { guest?: Account; property?: Property; checkOut?: number; rating?: number; comment?: string } = {},
): Promise<Review & { guest: Account }> {
  const guest = options.guest ?? (await createUser(server.client));
  const property = options.property ?? (await createProperty(server.client));
  const checkOut = fromToday(options.checkOut ?? -1);
  const bookingId = await insertPastStay(server, { guest, property, checkIn: addDays(checkOut, -2), checkOut, status: 'completed' });
  const data = expectData('createReview', await api.createReview({
    client: server.client,
    auth: guest.token,
    body: { booking_id: bookingId, rating: options.rating ?? 4, comment: options.comment ?? 'A good stay.' },
  }));
  return { ...data, guest };
}
