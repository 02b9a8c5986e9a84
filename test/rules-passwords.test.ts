/**
 * server/passwords.ts and its setting: argon2id under either profile, hashes of
 * one profile verifying under the other, the decoy for unknown accounts, and
 * which profile a deployment gets (fast only where NODE_ENV=test, never in
 * production).
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../server/config.js';
import { hashPassword, verifyPassword } from '../server/passwords.js';

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
