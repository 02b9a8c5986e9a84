/**
 * Users: sign-up, public and private profiles, profile and password changes,
 * account removal and the admin's user list, through the generated client,
 * each checked against what the database holds afterwards.
 */
import { randomUUID } from 'node:crypto';
import { verify } from 'argon2';
import { beforeAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { expectProblem } from './support/problems.js';
import { useTestApp } from './support/app.js';
import { createAdmin, createBooking, createHost, createProperty, createUser, fromToday, insertPastStay, payStay, signIn, uniqueEmail, type Account } from './support/factories.js';

const { server } = useTestApp();

const PASSWORD = 'correct horse battery';

function userRow(id: string) {
  return server.deps.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

function rowsWithEmail(email: string) {
  return server.deps.db
    .selectFrom('users')
    .selectAll()
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
    .execute();
}

/** Whether email and password sign in now (200), or are refused (401 invalid_credentials). */
async function signsIn(email: string, password: string): Promise<boolean> {
  const result = await api.login({ client: server.client, body: { email, password } });
  if (result.response.status === 200) return true;
  expectProblem(result, 401, 'invalid_credentials');
  return false;
}

describe('registerUser', () => {
  it('creates a guest with 201 and a Location header, storing the password only as an argon2id hash', async () => {
    const email = uniqueEmail('ana');
    const { data, response } = await api.registerUser({
      client: server.client,
      body: { email, password: PASSWORD, name: 'Ana Pereira', phone: '+351912345678', bio: 'Slow traveller.' },
    });

    expect(response.status).toBe(201);
    expect(data).toMatchObject({ role: 'guest', name: 'Ana Pereira', email, phone: '+351912345678', bio: 'Slow traveller.', avatar_url: null });
    expect(data).not.toHaveProperty('password');
    expect(data).not.toHaveProperty('password_hash');
    expect(response.headers.get('location')).toBe(`/users/${data!.id}`);

    const row = await userRow(data!.id);
    expect(row).toMatchObject({ email, role: 'guest', name: 'Ana Pereira', deleted_at: null });
    expect(row.password_hash).toMatch(/^\$argon2id\$/);
    expect(row.password_hash).not.toContain(PASSWORD);
    expect(await verify(row.password_hash!, PASSWORD)).toBe(true);
  });

  it('signs up a host when role is host', async () => {
    const { data, response } = await api.registerUser({
      client: server.client,
      body: { email: uniqueEmail('host'), password: PASSWORD, name: 'Jonas Berg', role: 'host' },
    });

    expect(response.status).toBe(201);
    expect(data!.role).toBe('host');
    expect((await userRow(data!.id)).role).toBe('host');
  });

  it('stores the email in lower case', async () => {
    const email = uniqueEmail('Mixed.Case').replace('example.test', 'Example.TEST');
    const { data, response } = await api.registerUser({ client: server.client, body: { email, password: PASSWORD, name: 'Mixed Case' } });

    expect(response.status).toBe(201);
    expect(data!.email).toBe(email.toLowerCase());
    expect((await userRow(data!.id)).email).toBe(email.toLowerCase());
  });

  it('refuses an email that is registered in another case with 409 email_taken and keeps one account', async () => {
    const email = uniqueEmail('taken');
    await createUser(server.client, { email });

    const result = await api.registerUser({ client: server.client, body: { email: email.toUpperCase(), password: PASSWORD, name: 'Copycat' } });

    expectProblem(result, 409, 'email_taken');
    const rows = await rowsWithEmail(email);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.name).toBe('Test User');
  });

  it('refuses role admin with 400 validation_failed at body.role and creates no account', async () => {
    const email = uniqueEmail('wannabe');
    const result = await api.registerUser({
      client: server.client,
      body: { email, password: PASSWORD, name: 'Wannabe Admin', role: 'admin' } as never,
    });

    expectProblem(result, 400, 'validation_failed', 'body.role');
    expect(await rowsWithEmail(email)).toHaveLength(0);
  });

  it.each([
    ['id', randomUUID()],
    ['password_hash', '$argon2id$v=19$m=65536,t=3,p=4$forged'],
    ['created_at', '2020-01-01T00:00:00Z'],
    ['deleted_at', null],
  ])('refuses the unknown field %s with 400 validation_failed and creates no account', async (field, value) => {
    const email = uniqueEmail('mass');
    const result = await api.registerUser({
      client: server.client,
      body: { email, password: PASSWORD, name: 'Mass Assigner', [field]: value } as never,
    });

    expectProblem(result, 400, 'validation_failed', `body.${field}`);
    expect(await rowsWithEmail(email)).toHaveLength(0);
  });

  it.each(['seven77', 'nine char', 'password', '12345678'])('refuses a password shorter than 10 characters (%j) at body.password and creates no account', async (password) => {
    const email = uniqueEmail('short');
    const result = await api.registerUser({ client: server.client, body: { email, password, name: 'Short Password' } });

    expectProblem(result, 400, 'validation_failed', 'body.password');
    expect(await rowsWithEmail(email)).toHaveLength(0);
  });

  it('refuses a malformed email at body.email and creates no account', async () => {
    const email = `not-an-email-${randomUUID().slice(0, 8)}`;
    const result = await api.registerUser({ client: server.client, body: { email, password: PASSWORD, name: 'No Email' } });

    expectProblem(result, 400, 'validation_failed', 'body.email');
    expect(await rowsWithEmail(email)).toHaveLength(0);
  });

  it('refuses a missing name at body.name and creates no account', async () => {
    const email = uniqueEmail('nameless');
    const result = await api.registerUser({ client: server.client, body: { email, password: PASSWORD } as never });

    expectProblem(result, 400, 'validation_failed', 'body.name');
    expect(await rowsWithEmail(email)).toHaveLength(0);
  });

  it('refuses a body that is not valid JSON with 400 malformed_json and creates no account', async () => {
    const email = uniqueEmail('broken');
    const response = await fetch(`${server.url}/users`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: `{"email": "${email}", "password": "${PASSWORD}", "name": `,
    });

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'malformed_json', status: 400 });
    expect(await rowsWithEmail(email)).toHaveLength(0);
  });
});

describe('getUser', () => {
  let owner: Account;
  let other: Account;
  let admin: Account;

  beforeAll(async () => {
    owner = await createUser(server.client, { name: 'Profile Owner', phone: '+351912345678', bio: 'Likes quiet flats.' });
    other = await createUser(server.client);
    admin = await createAdmin(server);
  });

  it('shows an anonymous caller the public profile without email or phone', async () => {
    const { data, response } = await api.getUser({ client: server.client, path: { user_id: owner.id } });

    expect(response.status).toBe(200);
    const row = await userRow(owner.id);
    expect(data).toEqual({
      id: row.id,
      role: 'guest',
      name: 'Profile Owner',
      bio: 'Likes quiet flats.',
      avatar_url: null,
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
    });
  });

  it('hides email and phone from another signed-in user', async () => {
    const { data, response } = await api.getUser({ client: server.client, auth: other.token, path: { user_id: owner.id } });

    expect(response.status).toBe(200);
    expect(data!.name).toBe('Profile Owner');
    expect(data).not.toHaveProperty('email');
    expect(data).not.toHaveProperty('phone');
  });

  it('shows email and phone to the user themself', async () => {
    const { data, response } = await api.getUser({ client: server.client, auth: owner.token, path: { user_id: owner.id } });

    expect(response.status).toBe(200);
    const row = await userRow(owner.id);
    expect(data).toMatchObject({ email: row.email, phone: '+351912345678' });
  });

  it('shows email and phone to an admin', async () => {
    const { data, response } = await api.getUser({ client: server.client, auth: admin.token, path: { user_id: owner.id } });

    expect(response.status).toBe(200);
    expect(data).toMatchObject({ email: owner.email, phone: '+351912345678' });
  });

  it('sends an ETag and answers 304 Not Modified to If-None-Match while the profile is unchanged', async () => {
    const first = await api.getUser({ client: server.client, path: { user_id: owner.id } });
    const etag = first.response.headers.get('etag');
    expect(etag).toMatch(/^"[^"]+"$/);

    const again = await api.getUser({ client: server.client, path: { user_id: owner.id }, headers: { 'If-None-Match': etag! } });

    expect(again.response.status).toBe(304);
    expect(again.response.headers.get('etag')).toBe(etag);
  });

  it('refuses a malformed user id with 400 validation_failed at path.user_id', async () => {
    const result = await api.getUser({ client: server.client, path: { user_id: 'not-a-uuid' } });

    expectProblem(result, 400, 'validation_failed', 'path.user_id');
  });

  it('answers 404 not_found for an id no user has', async () => {
    const userId = randomUUID();
    const result = await api.getUser({ client: server.client, path: { user_id: userId } });

    expectProblem(result, 404, 'not_found');
    expect(await server.deps.db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst()).toBeUndefined();
  });

  it('refuses a token that is not valid with 401 unauthenticated, although signing in is optional here', async () => {
    const result = await api.getUser({ client: server.client, auth: 'sbt_not-a-real-token', path: { user_id: owner.id } });

    expectProblem(result, 401, 'unauthenticated');
  });
});

describe('getCurrentUser', () => {
  let user: Account;

  beforeAll(async () => {
    user = await createUser(server.client, { name: 'Current User', phone: '+4915112345678' });
  });

  it('returns the caller with email and phone', async () => {
    const { data, response } = await api.getCurrentUser({ client: server.client, auth: user.token });

    expect(response.status).toBe(200);
    const row = await userRow(user.id);
    expect(data).toEqual({
      id: row.id,
      role: 'guest',
      name: 'Current User',
      email: row.email,
      phone: '+4915112345678',
      bio: null,
      avatar_url: null,
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
    });
  });

  it('refuses a malformed If-None-Match header with 400 validation_failed at header.if-none-match', async () => {
    const result = await api.getCurrentUser({ client: server.client, auth: user.token, headers: { 'If-None-Match': '"caf\u00e9"' } });

    expectProblem(result, 400, 'validation_failed', 'header.if-none-match');
  });

  it('refuses a request without a token with 401 unauthenticated and WWW-Authenticate: Bearer', async () => {
    const result = await api.getCurrentUser({ client: server.client });

    expectProblem(result, 401, 'unauthenticated');
    expect(result.response.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
  });

  it('refuses a token that is not valid with 401 unauthenticated', async () => {
    const result = await api.getCurrentUser({ client: server.client, auth: `${user.token}x` });

    expectProblem(result, 401, 'unauthenticated');
  });
});

describe('updateUser', () => {
  let alice: Account;
  let bob: Account;
  let admin: Account;

  beforeAll(async () => {
    alice = await createUser(server.client, { name: 'Alice', bio: 'Original bio.' });
    bob = await createUser(server.client, { name: 'Bob' });
    admin = await createAdmin(server);
  });

  it("updates the caller's own profile with 200 and returns it with email and phone", async () => {
    const { data, response } = await api.updateUser({
      client: server.client,
      auth: alice.token,
      path: { user_id: alice.id },
      body: { name: 'Alice P.', phone: '+351912345678', avatar_url: 'https://images.example.com/alice.jpg' },
    });

    expect(response.status).toBe(200);
    expect(data).toMatchObject({ id: alice.id, name: 'Alice P.', phone: '+351912345678', email: alice.email, bio: 'Original bio.' });
    const row = await userRow(alice.id);
    expect(row).toMatchObject({ name: 'Alice P.', phone: '+351912345678', avatar_url: 'https://images.example.com/alice.jpg', bio: 'Original bio.' });
    expect(data!.updated_at).toBe(row.updated_at.toISOString());
  });

  it('clears phone, bio and avatar_url when they are sent as null', async () => {
    const { data, response } = await api.updateUser({
      client: server.client,
      auth: alice.token,
      path: { user_id: alice.id },
      body: { phone: null, bio: null, avatar_url: null },
    });

    expect(response.status).toBe(200);
    expect(data).toMatchObject({ phone: null, bio: null, avatar_url: null });
    expect(await userRow(alice.id)).toMatchObject({ phone: null, bio: null, avatar_url: null });
  });

  it("refuses another user's update with 403 forbidden and changes nothing", async () => {
    const before = await userRow(alice.id);
    const result = await api.updateUser({ client: server.client, auth: bob.token, path: { user_id: alice.id }, body: { name: 'Hijacked' } });

    expectProblem(result, 403, 'forbidden');
    expect(await userRow(alice.id)).toEqual(before);
  });

  it("lets an admin update another user's profile with 200", async () => {
    const { data, response } = await api.updateUser({
      client: server.client,
      auth: admin.token,
      path: { user_id: bob.id },
      body: { bio: 'Edited by moderation.' },
    });

    expect(response.status).toBe(200);
    expect(data).toMatchObject({ id: bob.id, bio: 'Edited by moderation.', email: bob.email });
    expect((await userRow(bob.id)).bio).toBe('Edited by moderation.');
  });

  it('refuses role in the body with 400 validation_failed at body.role and keeps the role', async () => {
    const before = await userRow(alice.id);
    const result = await api.updateUser({
      client: server.client,
      auth: alice.token,
      path: { user_id: alice.id },
      body: { role: 'admin' } as never,
    });

    expectProblem(result, 400, 'validation_failed', 'body.role');
    expect(await userRow(alice.id)).toEqual(before);
    expect(before.role).toBe('guest');
  });

  it.each([
    ['id', randomUUID()],
    ['created_at', '2020-01-01T00:00:00Z'],
    ['password_hash', '$argon2id$v=19$m=65536,t=3,p=4$forged'],
  ])('refuses the unknown field %s with 400 validation_failed and changes nothing', async (field, value) => {
    const before = await userRow(alice.id);
    const result = await api.updateUser({
      client: server.client,
      auth: alice.token,
      path: { user_id: alice.id },
      body: { name: 'Sneaky', [field]: value } as never,
    });

    expectProblem(result, 400, 'validation_failed', `body.${field}`);
    expect(await userRow(alice.id)).toEqual(before);
  });

  it('refuses an empty body with 400 validation_failed', async () => {
    const before = await userRow(alice.id);
    const result = await api.updateUser({ client: server.client, auth: alice.token, path: { user_id: alice.id }, body: {} });

    expectProblem(result, 400, 'validation_failed', 'body');
    expect(await userRow(alice.id)).toEqual(before);
  });

  it('refuses a phone number that is not E.164 at body.phone and changes nothing', async () => {
    const before = await userRow(alice.id);
    const result = await api.updateUser({ client: server.client, auth: alice.token, path: { user_id: alice.id }, body: { phone: '0912 345 678' } });

    expectProblem(result, 400, 'validation_failed', 'body.phone');
    expect(await userRow(alice.id)).toEqual(before);
  });

  it('changes the email, stored in lower case, and the new email signs in', async () => {
    const user = await createUser(server.client);
    const newEmail = uniqueEmail('Renamed');

    const { data, response } = await api.updateUser({
      client: server.client,
      auth: user.token,
      path: { user_id: user.id },
      body: { email: newEmail, current_password: user.password },
    });

    expect(response.status).toBe(200);
    expect(data!.email).toBe(newEmail.toLowerCase());
    expect((await userRow(user.id)).email).toBe(newEmail.toLowerCase());
    expect(await signsIn(newEmail, user.password)).toBe(true);
  });

  it('refuses an email another account uses, in any case, with 409 email_taken and keeps the old one', async () => {
    const result = await api.updateUser({
      client: server.client,
      auth: alice.token,
      path: { user_id: alice.id },
      body: { email: bob.email.toUpperCase(), current_password: alice.password },
    });

    expectProblem(result, 409, 'email_taken');
    expect((await userRow(alice.id)).email).toBe(alice.email);
    expect(await rowsWithEmail(bob.email)).toHaveLength(1);
  });

  it('refuses a password change without current_password with 400 at body.current_password and keeps the password', async () => {
    const before = await userRow(alice.id);
    const result = await api.updateUser({
      client: server.client,
      auth: alice.token,
      path: { user_id: alice.id },
      body: { password: 'a brand new passphrase' },
    });

    expectProblem(result, 400, 'validation_failed', 'body.current_password');
    expect((await userRow(alice.id)).password_hash).toBe(before.password_hash);
  });

  it('refuses current_password without a new password with 400 at body.password', async () => {
    const before = await userRow(alice.id);
    const result = await api.updateUser({
      client: server.client,
      auth: alice.token,
      path: { user_id: alice.id },
      body: { current_password: alice.password },
    });

    expectProblem(result, 400, 'validation_failed', 'body.password');
    expect(await userRow(alice.id)).toEqual(before);
  });

  it('refuses a wrong current_password with 422 current_password_incorrect; the old password still signs in', async () => {
    const before = await userRow(alice.id);
    const result = await api.updateUser({
      client: server.client,
      auth: alice.token,
      path: { user_id: alice.id },
      body: { password: 'a brand new passphrase', current_password: 'not my password' },
    });

    expectProblem(result, 422, 'current_password_incorrect');
    expect((await userRow(alice.id)).password_hash).toBe(before.password_hash);
    expect(await signsIn(alice.email, alice.password)).toBe(true);
    expect(await signsIn(alice.email, 'a brand new passphrase')).toBe(false);
  });

  it('changes the password with the right current_password: the new one signs in, the old one does not, other sessions end and this one goes on', async () => {
    const carol = await createUser(server.client);
    const otherDevice = await signIn(server.client, carol.email, carol.password);
    const newPassword = 'carol has a new passphrase';

    const { data, response } = await api.updateUser({
      client: server.client,
      auth: carol.token,
      path: { user_id: carol.id },
      body: { password: newPassword, current_password: carol.password },
    });

    expect(response.status).toBe(200);
    expect(data).not.toHaveProperty('password');
    const row = await userRow(carol.id);
    expect(row.password_hash).toMatch(/^\$argon2id\$/);
    expect(await verify(row.password_hash!, newPassword)).toBe(true);

    expect((await api.getCurrentUser({ client: server.client, auth: carol.token })).response.status).toBe(200);
    expectProblem(await api.getCurrentUser({ client: server.client, auth: otherDevice }), 401, 'unauthenticated');
    expect(await signsIn(carol.email, carol.password)).toBe(false);
    expect(await signsIn(carol.email, newPassword)).toBe(true);
  });

  it("lets an admin reset another user's password without current_password", async () => {
    const dave = await createUser(server.client);
    const newPassword = 'reset by the admin team';

    const { response } = await api.updateUser({ client: server.client, auth: admin.token, path: { user_id: dave.id }, body: { password: newPassword } });

    expect(response.status).toBe(200);
    expect(await verify((await userRow(dave.id)).password_hash!, newPassword)).toBe(true);
    expect(await signsIn(dave.email, newPassword)).toBe(true);
    expect(await signsIn(dave.email, dave.password)).toBe(false);
  });

  it('refuses a malformed user id with 400 validation_failed at path.user_id', async () => {
    const result = await api.updateUser({ client: server.client, auth: alice.token, path: { user_id: '12345' }, body: { name: 'Nobody' } });

    expectProblem(result, 400, 'validation_failed', 'path.user_id');
  });

  it('answers 404 not_found for an id no user has, and creates nothing', async () => {
    const userId = randomUUID();
    const result = await api.updateUser({ client: server.client, auth: admin.token, path: { user_id: userId }, body: { name: 'Ghost' } });

    expectProblem(result, 404, 'not_found');
    expect(await server.deps.db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst()).toBeUndefined();
  });

  it('refuses a request without a token with 401 unauthenticated and changes nothing', async () => {
    const before = await userRow(alice.id);
    const result = await api.updateUser({ client: server.client, path: { user_id: alice.id }, body: { name: 'Anonymous' } });

    expectProblem(result, 401, 'unauthenticated');
    expect(await userRow(alice.id)).toEqual(before);
  });

  it('refuses a token that is not valid with 401 unauthenticated and changes nothing', async () => {
    const before = await userRow(alice.id);
    const result = await api.updateUser({ client: server.client, auth: 'sbt_forged', path: { user_id: alice.id }, body: { name: 'Forger' } });

    expectProblem(result, 401, 'unauthenticated');
    expect(await userRow(alice.id)).toEqual(before);
  });
});

describe('deleteUser', () => {
  let admin: Account;
  let bystander: Account;

  beforeAll(async () => {
    admin = await createAdmin(server);
    bystander = await createUser(server.client);
  });

  it('deletes the caller\'s own account with 204: personal data removed, token and password stop working, profile gone', async () => {
    const erin = await createUser(server.client, { name: 'Erin', phone: '+351912345678', bio: 'Soon gone.', avatar_url: 'https://images.example.com/erin.jpg' });

    const { response } = await api.deleteUser({ client: server.client, auth: erin.token, path: { user_id: erin.id } });

    expect(response.status).toBe(204);
    const row = await userRow(erin.id);
    expect(row).toMatchObject({ email: null, password_hash: null, phone: null, bio: null, avatar_url: null });
    expect(row.name).not.toBe('Erin');
    expect(row.deleted_at).toBeInstanceOf(Date);

    expectProblem(await api.getCurrentUser({ client: server.client, auth: erin.token }), 401, 'unauthenticated');
    expect(await signsIn(erin.email, erin.password)).toBe(false);
    expectProblem(await api.getUser({ client: server.client, path: { user_id: erin.id } }), 404, 'not_found');
  });

  it('withdraws the deleted host\'s properties from search', async () => {
    const host = await createHost(server.client);
    const city = `Deletedville ${randomUUID().slice(0, 8)}`;
    const property = await createProperty(server.client, host, { city });
    const before = await api.listProperties({ client: server.client, query: { city } });
    expect(before.data!.data.map((p) => p.id)).toEqual([property.id]);

    const { response } = await api.deleteUser({ client: server.client, auth: host.token, path: { user_id: host.id } });

    expect(response.status).toBe(204);
    const row = await server.deps.db.selectFrom('properties').selectAll().where('id', '=', property.id).executeTakeFirstOrThrow();
    expect(row.deleted_at).toBeInstanceOf(Date);
    const after = await api.listProperties({ client: server.client, query: { city } });
    expect(after.response.status).toBe(200);
    expect(after.data!.data).toEqual([]);
  });

  it('frees the email of a deleted account for a new sign-up', async () => {
    const frank = await createUser(server.client);
    await api.deleteUser({ client: server.client, auth: frank.token, path: { user_id: frank.id } });

    const { data, response } = await api.registerUser({ client: server.client, body: { email: frank.email, password: PASSWORD, name: 'New Frank' } });

    expect(response.status).toBe(201);
    expect(data!.id).not.toBe(frank.id);
    expect((await rowsWithEmail(frank.email)).map((row) => row.id)).toEqual([data!.id]);
  });

  it("refuses another user's deletion with 403 forbidden and deletes nothing", async () => {
    const target = await createUser(server.client);
    const before = await userRow(target.id);

    const result = await api.deleteUser({ client: server.client, auth: bystander.token, path: { user_id: target.id } });

    expectProblem(result, 403, 'forbidden');
    expect(await userRow(target.id)).toEqual(before);
    expect((await api.getCurrentUser({ client: server.client, auth: target.token })).response.status).toBe(200);
  });

  it('lets an admin delete any account with 204, and the admin stays signed in', async () => {
    const target = await createUser(server.client);

    const { response } = await api.deleteUser({ client: server.client, auth: admin.token, path: { user_id: target.id } });

    expect(response.status).toBe(204);
    expect(await userRow(target.id)).toMatchObject({ email: null, password_hash: null });
    expect((await userRow(target.id)).deleted_at).toBeInstanceOf(Date);
    expectProblem(await api.getCurrentUser({ client: server.client, auth: target.token }), 401, 'unauthenticated');
    expect((await api.getCurrentUser({ client: server.client, auth: admin.token })).response.status).toBe(200);
  });

  it('refuses a malformed user id with 400 validation_failed at path.user_id', async () => {
    const result = await api.deleteUser({ client: server.client, auth: admin.token, path: { user_id: 'me' } });

    expectProblem(result, 400, 'validation_failed', 'path.user_id');
  });

  it('answers 404 not_found for an id no user has, and for an account already deleted', async () => {
    const gone = await createUser(server.client);
    await api.deleteUser({ client: server.client, auth: gone.token, path: { user_id: gone.id } });
    const deletedAt = (await userRow(gone.id)).deleted_at;

    expectProblem(await api.deleteUser({ client: server.client, auth: admin.token, path: { user_id: randomUUID() } }), 404, 'not_found');
    expectProblem(await api.deleteUser({ client: server.client, auth: admin.token, path: { user_id: gone.id } }), 404, 'not_found');
    expect((await userRow(gone.id)).deleted_at).toEqual(deletedAt);
  });

  it('refuses a request without a token with 401 unauthenticated and deletes nothing', async () => {
    const before = await userRow(bystander.id);
    const result = await api.deleteUser({ client: server.client, path: { user_id: bystander.id } });

    expectProblem(result, 401, 'unauthenticated');
    expect(await userRow(bystander.id)).toEqual(before);
  });

  it('refuses a token that is not valid with 401 unauthenticated and deletes nothing', async () => {
    const before = await userRow(bystander.id);
    const result = await api.deleteUser({ client: server.client, auth: 'sbt_forged', path: { user_id: bystander.id } });

    expectProblem(result, 401, 'unauthenticated');
    expect(await userRow(bystander.id)).toEqual(before);
  });

  describe('with stays', () => {
    const bookingRow = (id: string) => server.deps.db.selectFrom('bookings').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    it('refuses a host whose listing has an upcoming stay with 409 account_has_upcoming_stays, changing nothing', async () => {
      const property = await createProperty(server.client);
      const booking = await createBooking(server.client, { property });
      const refused = await api.deleteUser({ client: server.client, auth: property.host.token, path: { user_id: property.host.id } });
      expectProblem(refused, 409, 'account_has_upcoming_stays');
      expect(await userRow(property.host.id)).toMatchObject({ email: property.host.email, deleted_at: null });
      expect((await api.getProperty({ client: server.client, path: { property_id: property.id } })).response.status).toBe(200);
      expect((await api.getCurrentUser({ client: server.client, auth: property.host.token })).response.status).toBe(200);

      await api.cancelBooking({ client: server.client, auth: property.host.token, path: { booking_id: booking.id } });
      expect((await api.deleteUser({ client: server.client, auth: property.host.token, path: { user_id: property.host.id } })).response.status).toBe(204);
    });

    it('refuses a guest with a paid upcoming stay, even when an admin asks', async () => {
      const booking = await createBooking(server.client);
      await payStay(server, booking);
      expectProblem(await api.deleteUser({ client: server.client, auth: admin.token, path: { user_id: booking.guest.id } }), 409, 'account_has_upcoming_stays');
      expect(await userRow(booking.guest.id)).toMatchObject({ deleted_at: null });
    });

    it('deletes an account whose stays have all ended, keeping them on record', async () => {
      const guest = await createUser(server.client);
      const property = await createProperty(server.client);
      const past = await insertPastStay(server, { guest, property, checkIn: fromToday(-6), checkOut: fromToday(-3) });
      expect((await api.deleteUser({ client: server.client, auth: guest.token, path: { user_id: guest.id } })).response.status).toBe(204);
      expect(await userRow(guest.id)).toMatchObject({ email: null });
      expect(await bookingRow(past)).toMatchObject({ guest_id: guest.id, status: 'confirmed' });
    });
  });
});

describe('listUsers', () => {
  let admin: Account;
  let guest: Account;
  let host: Account;

  beforeAll(async () => {
    admin = await createAdmin(server);
    guest = await createUser(server.client);
    host = await createHost(server.client);
    await createHost(server.client);
    await createUser(server.client);
  });

  /** Active users as the list should order them: newest first, ties by id. */
  async function activeUserIds(role?: 'guest' | 'host' | 'admin'): Promise<string[]> {
    let query = server.deps.db.selectFrom('users').select('id').where('deleted_at', 'is', null);
    if (role) query = query.where('role', '=', role);
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
    return rows.map((row) => row.id);
  }

  it('walks every active user exactly once, newest first, with limit=2 and next_cursor', async () => {
    const expected = await activeUserIds();
    expect(expected.length).toBeGreaterThan(4);

    const seen: string[] = [];
    let cursor: string | undefined;
    let nextCursor: string | null = null;
    for (let pages = 0; pages < expected.length; pages += 1) {
      const { data, response } = await api.listUsers({ client: server.client, auth: admin.token, query: { limit: 2, ...(cursor ? { cursor } : {}) } });
      expect(response.status).toBe(200);
      expect(data!.data.length).toBeGreaterThan(0);
      expect(data!.data.length).toBeLessThanOrEqual(2);
      seen.push(...data!.data.map((user) => user.id));
      nextCursor = data!.next_cursor;
      if (nextCursor === null) break;
      cursor = nextCursor;
    }

    expect(nextCursor).toBeNull();
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expected);
  });

  it('shows the admin every user with email', async () => {
    const { data, response } = await api.listUsers({ client: server.client, auth: admin.token, query: { limit: 100 } });

    expect(response.status).toBe(200);
    const byId = new Map(data!.data.map((user) => [user.id, user]));
    expect(byId.get(guest.id)).toMatchObject({ email: guest.email, role: 'guest' });
    expect(byId.get(host.id)).toMatchObject({ email: host.email, role: 'host' });
    for (const user of data!.data) expect(user.email).toEqual(expect.any(String));
  });

  it('filters by role', async () => {
    const { data, response } = await api.listUsers({ client: server.client, auth: admin.token, query: { role: 'host', limit: 100 } });

    expect(response.status).toBe(200);
    expect(data!.data.map((user) => user.id)).toEqual(await activeUserIds('host'));
    expect(data!.data.map((user) => user.id)).toContain(host.id);
    expect(data!.data.every((user) => user.role === 'host')).toBe(true);
  });

  it('leaves deleted accounts out', async () => {
    const leaver = await createUser(server.client);
    await api.deleteUser({ client: server.client, auth: leaver.token, path: { user_id: leaver.id } });

    const { data } = await api.listUsers({ client: server.client, auth: admin.token, query: { limit: 100 } });

    expect(data!.data.map((user) => user.id)).not.toContain(leaver.id);
    expect((await userRow(leaver.id)).deleted_at).toBeInstanceOf(Date);
  });

  it.each([
    ['a guest', () => guest.token],
    ['a host', () => host.token],
  ])('refuses %s with 403 forbidden', async (_who, token) => {
    const result = await api.listUsers({ client: server.client, auth: token() });

    expectProblem(result, 403, 'forbidden');
  });

  it('refuses a request without a token with 401 unauthenticated', async () => {
    const result = await api.listUsers({ client: server.client });

    expectProblem(result, 401, 'unauthenticated');
  });

  it('refuses a token that is not valid with 401 unauthenticated', async () => {
    const result = await api.listUsers({ client: server.client, auth: 'sbt_forged' });

    expectProblem(result, 401, 'unauthenticated');
  });

  it('refuses a cursor it did not give out with 400 validation_failed at query.cursor', async () => {
    const result = await api.listUsers({ client: server.client, auth: admin.token, query: { cursor: 'garbage' } });

    expectProblem(result, 400, 'validation_failed', 'query.cursor');
  });

  it.each([
    ['a timestamp that is not one', ['yesterday', randomUUID()]],
    ['an id that is not a UUID', ['2026-11-24T15:20:00.000Z', 'not-a-uuid']],
  ])('refuses a forged cursor holding %s with 400 at query.cursor, never a 500', async (_what, values) => {
    const cursor = Buffer.from(JSON.stringify(values)).toString('base64url');
    const result = await api.listUsers({ client: server.client, auth: admin.token, query: { cursor } });

    expectProblem(result, 400, 'validation_failed', 'query.cursor');
  });

  it.each([0, 101])('refuses limit=%i with 400 validation_failed at query.limit', async (limit) => {
    const result = await api.listUsers({ client: server.client, auth: admin.token, query: { limit } });

    expectProblem(result, 400, 'validation_failed', 'query.limit');
  });

  it('refuses an unknown role filter with 400 validation_failed at query.role', async () => {
    const result = await api.listUsers({ client: server.client, auth: admin.token, query: { role: 'superuser' as never } });

    expectProblem(result, 400, 'validation_failed', 'query.role');
  });
});
