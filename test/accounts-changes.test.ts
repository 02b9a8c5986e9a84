/**
 * Accounts (issue 13, finding 9): a password must not be one of the common ones or
 * the email; changing one's own email needs the current password, as changing the
 * password does; either change ends every other session of the account (the one
 * making it goes on); and wrong current passwords count like wrong sign-ins.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { useTestApp } from './support/app.js';
import { createAdmin, createUser, signIn, uniqueEmail, type Account } from './support/factories.js';
import { expectProblem } from './support/problems.js';

const MAX_FAILURES = 3;
const { server } = useTestApp({ config: { loginMaxFailures: MAX_FAILURES } });

function userRow(id: string) {
  return server.deps.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/** The status /users/me answers with this token: 200 while its session lives, 401 once it has ended. */
async function meStatus(token: string): Promise<number> {
  return (await api.getCurrentUser({ client: server.client, auth: token })).response.status;
}

/** A user signed in twice: `token` (the session that makes the change) and `other` (say, a stolen copy). */
async function userWithTwoSessions(): Promise<Account & { other: string }> {
  const user = await createUser(server.client);
  return { ...user, other: await signIn(server.client, user.email, user.password) };
}

describe('the password policy', () => {
  it.each([
    ['a common password', 'password1234'],
    ['a common password in other case', 'PassWord1234'],
    ['a common keyboard walk', 'qwertyuiop'],
    ['a common number', '1234567890'],
  ])('registerUser refuses %s with 422 password_too_weak at body.password and creates nothing', async (_kind, password) => {
    const email = uniqueEmail('weak');
    const result = await api.registerUser({ client: server.client, body: { email, password, name: 'Weak Password' } });

    const problem = expectProblem(result, 422, 'password_too_weak', 'body.password');
    expect(problem.errors).toEqual([{ path: 'body.password', message: 'is one of the most commonly used passwords; choose another' }]);
    const rows = await server.deps.db.selectFrom('users').select('id').where('email', '=', email).execute();
    expect(rows).toEqual([]);
  });

  it('registerUser refuses the email address as the password', async () => {
    const email = uniqueEmail('self');
    const result = await api.registerUser({ client: server.client, body: { email, password: email.toUpperCase(), name: 'Self' } });

    const problem = expectProblem(result, 422, 'password_too_weak', 'body.password');
    expect(problem.errors).toEqual([{ path: 'body.password', message: 'must not be the email address' }]);
  });

  it('registerUser accepts a few uncommon words', async () => {
    const result = await api.registerUser({ client: server.client, body: { email: uniqueEmail('ok'), password: 'tram 28 to alfama', name: 'Fine' } });
    expect(result.response.status).toBe(201);
  });

  it('updateUser refuses a common new password with 422 password_too_weak and keeps the old one and every session', async () => {
    const user = await userWithTwoSessions();
    const before = await userRow(user.id);

    const result = await api.updateUser({
      client: server.client,
      auth: user.token,
      path: { user_id: user.id },
      body: { password: 'ILoveYou123', current_password: user.password },
    });

    expectProblem(result, 422, 'password_too_weak', 'body.password');
    expect((await userRow(user.id)).password_hash).toBe(before.password_hash);
    expect(await meStatus(user.other)).toBe(200);
  });
});

describe('changing the email', () => {
  it('needs current_password: without it 400 at body.current_password, and nothing changes', async () => {
    const user = await userWithTwoSessions();

    const result = await api.updateUser({ client: server.client, auth: user.token, path: { user_id: user.id }, body: { email: uniqueEmail('taken-over') } });

    expectProblem(result, 400, 'validation_failed', 'body.current_password');
    expect((await userRow(user.id)).email).toBe(user.email);
    expect(await meStatus(user.other)).toBe(200);
  });

  it('refuses a wrong current_password with 422 current_password_incorrect, and nothing changes', async () => {
    const user = await userWithTwoSessions();

    const result = await api.updateUser({
      client: server.client,
      auth: user.token,
      path: { user_id: user.id },
      body: { email: uniqueEmail('taken-over'), current_password: 'not the password at all' },
    });

    expectProblem(result, 422, 'current_password_incorrect');
    expect((await userRow(user.id)).email).toBe(user.email);
    expect(await meStatus(user.other)).toBe(200);
  });

  it('with the right current_password: the new email signs in, every other session ends, this one goes on', async () => {
    const user = await userWithTwoSessions();
    const newEmail = uniqueEmail('moved');

    const result = await api.updateUser({
      client: server.client,
      auth: user.token,
      path: { user_id: user.id },
      body: { email: newEmail, current_password: user.password },
    });

    expect(result.response.status).toBe(200);
    expect(result.data!.email).toBe(newEmail);
    expect((await userRow(user.id)).email).toBe(newEmail);
    expect(await meStatus(user.other)).toBe(401);
    expect(await meStatus(user.token)).toBe(200);
    const rows = await server.deps.db.selectFrom('sessions').select('token_hash').where('user_id', '=', user.id).execute();
    expect(rows).toHaveLength(1);
    expect(await signIn(server.client, newEmail, user.password)).toMatch(/^sbt_/);
  });

  it('sending the email it already has is no change: no password needed, no session ends', async () => {
    const user = await userWithTwoSessions();

    const result = await api.updateUser({
      client: server.client,
      auth: user.token,
      path: { user_id: user.id },
      body: { email: user.email.toUpperCase(), name: 'Same Email' },
    });

    expect(result.response.status).toBe(200);
    expect(result.data).toMatchObject({ email: user.email, name: 'Same Email' });
    expect(await meStatus(user.other)).toBe(200);
  });

  it('by an admin for another user needs no current_password and ends every session of that user', async () => {
    const user = await userWithTwoSessions();
    const admin = await createAdmin(server);
    const newEmail = uniqueEmail('admin-moved');

    const result = await api.updateUser({ client: server.client, auth: admin.token, path: { user_id: user.id }, body: { email: newEmail } });

    expect(result.response.status).toBe(200);
    expect((await userRow(user.id)).email).toBe(newEmail);
    expect(await meStatus(user.token)).toBe(401);
    expect(await meStatus(user.other)).toBe(401);
    expect(await meStatus(admin.token)).toBe(200);
  });
});

describe('changing the password', () => {
  it('ends every other session and keeps this one', async () => {
    const user = await userWithTwoSessions();

    const result = await api.updateUser({
      client: server.client,
      auth: user.token,
      path: { user_id: user.id },
      body: { password: 'a brand new passphrase', current_password: user.password },
    });

    expect(result.response.status).toBe(200);
    expect(await meStatus(user.other)).toBe(401);
    expect(await meStatus(user.token)).toBe(200);
  });
});

describe('wrong current passwords', () => {
  it(`count like wrong sign-ins: after ${MAX_FAILURES} the right one is refused with 429 too, and nothing changes`, async () => {
    const user = await userWithTwoSessions();
    const change = (current_password: string) =>
      api.updateUser({ client: server.client, auth: user.token, path: { user_id: user.id }, body: { email: uniqueEmail('guess'), current_password } });

    for (let attempt = 1; attempt <= MAX_FAILURES; attempt += 1) {
      expectProblem(await change(`wrong guess number ${attempt}`), 422, 'current_password_incorrect');
    }
    const refused = await change(user.password);
    expectProblem(refused, 429, 'rate_limited');
    expect(Number(refused.response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await userRow(user.id)).email).toBe(user.email);
    expect(await meStatus(user.other)).toBe(200);
  });
});
