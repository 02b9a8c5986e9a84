/**
 * Factories that make what a test needs through the API itself (so every row is
 * one a client could have made), filling in any missing parents. The only row
 * written directly is an admin: the API rightly refuses to make one.
 */
import { randomUUID } from 'node:crypto';
import * as api from '../../generated/client/sdk.gen.js';
import type { Client } from '../../generated/client/client/index.js';
import type { Property, PropertyInput, RegisterUserInput, User } from '../../generated/client/types.gen.js';
import { hashPassword } from '../../handlers/users.js';
import type { TestServer } from './server.js';

export interface Account extends User {
  email: string;
  password: string;
  token: string;
}

export function uniqueEmail(prefix = 'user'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}@example.test`;
}

export async function signIn(client: Client, email: string, password: string): Promise<string> {
  const { data, error } = await api.login({ client, body: { email, password } });
  if (!data) throw new Error(`login failed: ${JSON.stringify(error)}`);
  return data.access_token;
}

export async function createUser(client: Client, overrides: Partial<RegisterUserInput> = {}): Promise<Account> {
  const input: RegisterUserInput = {
    name: 'Test User',
    role: 'guest',
    password: 'correct horse battery',
    ...overrides,
    email: overrides.email ?? uniqueEmail(overrides.role ?? 'guest'),
  };
  const { data, error } = await api.registerUser({ client, body: input });
  if (!data) throw new Error(`registerUser failed: ${JSON.stringify(error)}`);
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
  const { data, error } = await api.createProperty({ client, auth: owner.token, body: propertyInput(overrides) });
  if (!data) throw new Error(`createProperty failed: ${JSON.stringify(error)}`);
  return { ...data, host: owner };
}
