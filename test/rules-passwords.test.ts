/**
 * server/passwords.ts and its setting: argon2id under either profile, hashes of
 * one profile verifying under the other, the decoy for unknown accounts, and
 * which profile a deployment gets (fast only where NODE_ENV=test, never in
 * production); and the password policy: the common-password list shipped in
 * data/, the email, and the spec's length bounds agreeing with the list.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../server/config.js';
import { DEMO_PASSWORD } from '../server/demo-data.js';
import { hashPassword, passwordWeakness, verifyPassword } from '../server/passwords.js';
import { loadSpec } from '../server/server.js';

describe('hashPassword and verifyPassword', () => {
  it('hash with the parameters of their profile, encoded in the hash', async () => {
    expect(await hashPassword('correct horse battery', 'standard')).toMatch(/^\$argon2id\$v=19\$m=65536,p=4,t=3\$/);
    expect(await hashPassword('correct horse battery', 'fast')).toMatch(/^\$argon2id\$v=19\$m=1024,p=1,t=1\$/);
    expect(await hashPassword('correct horse battery')).toMatch(/^\$argon2id\$v=19\$m=65536,p=4,t=3\$/);
  });

  it.each([
    ['standard', 'fast'],
    ['fast', 'standard'],
    ['fast', 'fast'],
  ] as const)('verify a %s hash under the %s profile, and refuse a wrong password', async (madeWith, checkedWith) => {
    const hash = await hashPassword('correct horse battery', madeWith);
    expect(await verifyPassword(hash, 'correct horse battery', checkedWith)).toBe(true);
    expect(await verifyPassword(hash, 'Correct horse battery', checkedWith)).toBe(false);
  });

  it('answer false for an account without a hash, whatever the password', async () => {
    expect(await verifyPassword(null, 'decoy-password-never-used', 'fast')).toBe(false);
    expect(await verifyPassword(undefined, '', 'fast')).toBe(false);
  });
});

describe('PASSWORD_HASH_PROFILE', () => {
  it.each([
    [{}, 'standard'],
    [{ NODE_ENV: 'development' }, 'standard'],
    [{ NODE_ENV: 'production' }, 'standard'],
    [{ NODE_ENV: 'test' }, 'fast'],
    [{ NODE_ENV: 'test', PASSWORD_HASH_PROFILE: 'standard' }, 'standard'],
    [{ NODE_ENV: 'development', PASSWORD_HASH_PROFILE: 'fast' }, 'fast'],
  ])('%o gives %s', (env, profile) => {
    expect(loadConfig(env).passwordHashProfile).toBe(profile);
  });

  it('refuses an unknown profile, and the fast one in production', () => {
    expect(() => loadConfig({ PASSWORD_HASH_PROFILE: 'cheap' })).toThrow(/PASSWORD_HASH_PROFILE must be standard or fast/);
    expect(() => loadConfig({ NODE_ENV: 'production', PASSWORD_HASH_PROFILE: 'fast' })).toThrow(/for tests/);
  });
});

describe('passwordWeakness', () => {
  const account = { email: 'ana.pereira@example.com' };

  it.each([
    ['password1234', 'is one of the most commonly used passwords; choose another'],
    ['PASSWORD1234', 'is one of the most commonly used passwords; choose another'],
    [' qwertyuiop ', 'is one of the most commonly used passwords; choose another'],
    ['1q2w3e4r5t', 'is one of the most commonly used passwords; choose another'],
    ['ana.pereira@example.com', 'must not be the email address'],
    ['Ana.Pereira@Example.com', 'must not be the email address'],
    ['ana.pereira', 'must not be the email address'],
    ['correct horse battery', null],
    ['tram 28 to alfama', null],
    ['ana.pereira 1987 lisbon', null],
  ])('%j: %s', (password, weakness) => {
    expect(passwordWeakness(password, account)).toBe(weakness);
  });

  it('lets the demo password and the test factories\' passwords through', () => {
    for (const password of [DEMO_PASSWORD, 'correct horse battery', 'admin password 1', 'a brand new passphrase']) {
      expect(passwordWeakness(password, { email: 'someone@example.test' }), password).toBeNull();
    }
  });
});

describe('data/common-passwords.txt', () => {
  const entries = readFileSync(new URL('../data/common-passwords.txt', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'));

  it('holds a few thousand lower-case entries, one a line, without duplicates', () => {
    expect(entries.length).toBeGreaterThan(1000);
    expect(new Set(entries).size).toBe(entries.length);
    for (const entry of entries) expect(entry).toBe(entry.trim().toLowerCase());
  });

  it('holds only passwords the spec would otherwise accept: each within both password schemas\' lengths', async () => {
    const spec = (await loadSpec()) as unknown as { components: { schemas: Record<string, { properties: Record<string, { minLength: number; maxLength: number }> }> } };
    for (const schema of ['RegisterUserInput', 'UpdateUserInput']) {
      const { minLength, maxLength } = spec.components.schemas[schema]!.properties['password']!;
      expect(minLength, schema).toBe(10);
      const outside = entries.filter((entry) => [...entry].length < minLength || [...entry].length > maxLength);
      expect(outside, schema).toEqual([]);
    }
  });
});
