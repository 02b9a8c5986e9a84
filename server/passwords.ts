/**
 * Password hashing: argon2id, in one place (sign-up, password change, sign-in,
 * the demo data). The profile chooses the cost of new hashes; argon2 writes its
 * parameters into each hash, so a hash made under one profile verifies under the
 * other, and a deployment can change profiles without resetting anyone.
 */
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
