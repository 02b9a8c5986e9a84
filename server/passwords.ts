/**
 * Passwords, in one place: hashing with argon2id (sign-up, password change, sign-in,
 * the demo data) and the policy a new password must meet. The profile chooses the
 * cost of new hashes; argon2 writes its parameters into each hash, so a hash made
 * under one profile verifies under the other, and a deployment can change profiles
 * without resetting anyone.
 */
import { readFileSync } from 'node:fs';
import argon2 from 'argon2';
import type { Config } from './config.js';

export type PasswordHashProfile = Config['passwordHashProfile'];

const PARAMETERS: Record<PasswordHashProfile, { memoryCost: number; timeCost: number; parallelism: number }> = {
  // argon2's own defaults (64 MiB, 3 passes, 4 lanes): memory-hard, as the contract promises.
  standard: { memoryCost: 65_536, timeCost: 3, parallelism: 4 },
  // For tests only (NODE_ENV=test makes it the default there): 1 MiB and one pass is
  // cheap to attack and is never a deployment's profile; it exists so that suites
  // that sign up hundreds of users do not spend their time hashing.
  fast: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
};

/** A new argon2id hash of the password. 'standard' unless the caller says otherwise. */
export function hashPassword(password: string, profile: PasswordHashProfile = 'standard'): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id, ...PARAMETERS[profile] });
}

// Verified when there is no hash (an unknown email), so that a wrong email costs as long
// as a wrong password and response times do not reveal which emails are registered.
const decoys = new Map<PasswordHashProfile, Promise<string>>();
function decoyHash(profile: PasswordHashProfile): Promise<string> {
  let decoy = decoys.get(profile);
  if (!decoy) {
    decoy = hashPassword('decoy-password-never-used', profile);
    decoys.set(profile, decoy);
  }
  return decoy;
}

/**
 * Whether the password matches the hash. Without a hash (no such account, or a
 * deleted one) a decoy of the same profile is verified and the answer is false.
 */
export async function verifyPassword(hash: string | null | undefined, password: string, profile: PasswordHashProfile = 'standard'): Promise<boolean> {
  const valid = await argon2.verify(hash ?? (await decoyHash(profile)), password);
  return hash != null && valid;
}

// The policy (NIST SP 800-63B's advice: length and a blocklist, no composition rules, no expiry).
// The length, 10 to 128 characters, is in the spec (RegisterUserInput and UpdateUserInput), so
// the request validator refuses a short one with 400 before it gets here; what the spec cannot
// say is checked below.

/** data/common-passwords.txt, lower-cased: read once, when the first password is checked. */
let common: Set<string> | undefined;
function commonPasswords(): Set<string> {
  common ??= new Set(
    readFileSync(new URL('../data/common-passwords.txt', import.meta.url), 'utf8')
      .split('\n')
      .map((line) => line.trim().toLowerCase())
      .filter((line) => line !== '' && !line.startsWith('#')),
  );
  return common;
}

/**
 * Why a new password is refused, as a message for `errors[].message`, or null when it
 * may be used: one of the commonly used passwords (compared case-insensitively), or the
 * account's own email or the part before its @ (the first things an attacker tries).
 */
export function passwordWeakness(password: string, account: { email: string }): string | null {
  const candidate = password.trim().toLowerCase();
  if (commonPasswords().has(candidate)) return 'is one of the most commonly used passwords; choose another';
  const email = account.email.toLowerCase();
  if (candidate === email || candidate === email.slice(0, email.lastIndexOf('@'))) return 'must not be the email address';
  return null;
}
