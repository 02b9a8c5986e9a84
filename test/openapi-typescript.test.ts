/**
 * What a front-end team gets from the spec with the most common generator and no configuration:
 * openapi-typescript with its default options, then `tsc --strict` on a small program written against
 * its output (plain types, and openapi-fetch's typed calls). The program sends only the required fields of a new listing, a new account and a booking,
 * and reads enums through their component names: it compiles only if defaulted request fields are
 * optional and the enums are named, reused components (no casts anywhere).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import openapiTS, { astToString } from 'openapi-typescript';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/** Written against `schema.d.ts` as a consumer would; every value below is typed by annotation only. */
const PROGRAM = `import createClient from 'openapi-fetch';
import type { components, paths } from './schema.js';

type Schemas = components['schemas'];

// Only the required fields: cleaning_fee, amenities, photos, cancellation_policy, min_nights and max_nights are left out.
const listing: Schemas['PropertyInput'] = {
  name: 'Sunny loft by the river',
  description: 'Two rooms, a balcony and the river below.',
  city: 'Lisbon',
  country: 'PT',
  latitude: 38.7223,
  longitude: -9.1393,
  price_per_night: 12000,
  currency: 'EUR',
  max_guests: 4,
  bedrooms: 2,
};

// role is left out: guest.
const account: Schemas['RegisterUserInput'] = { email: 'ana@example.com', password: 'correct-horse-battery', name: 'Ana Pereira' };

const booking: paths['/bookings']['post']['requestBody']['content']['application/json'] = {
  property_id: '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f',
  check_in: '2027-03-01',
  check_out: '2027-03-04',
  guests: 2,
};

// Named enums, one type each, used where the spec uses them.
const policy: Schemas['CancellationPolicy'] = 'strict';
const withPolicy: Schemas['PropertyInput'] = { ...listing, cancellation_policy: policy };
// A response's enum field is the same named type as the request's.
const policyOf = (property: Schemas['Property']): Schemas['CancellationPolicy'] => property.cancellation_policy;
const refundStatusOf = (refund: NonNullable<Schemas['Refund']>): Schemas['RefundStatus'] => refund.status;
const paymentRefundStatusOf = (refund: Schemas['PaymentRefund']): Schemas['RefundStatus'] => refund.status;
const sort: NonNullable<paths['/properties']['get']['parameters']['query']>['sort'] = 'price_asc';

// openapi-fetch over the same types: bodies, parameters and answers checked, nothing cast.
const api = createClient<paths>({ baseUrl: 'http://localhost:3000' });
export async function book(): Promise<Schemas['BookingStatus'] | string> {
  const created = await api.POST('/properties', { body: listing });
  if (created.error) return created.error.code;
  const { data, error } = await api.POST('/bookings', { body: { ...booking, property_id: created.data.id } });
  if (error) return error.code;
  return data.status;
}

export const all = [listing, account, booking, withPolicy, policyOf, refundStatusOf, paymentRefundStatusOf, sort];
`;

/** Types the spec at `specFile` with openapi-typescript's defaults and compiles PROGRAM against it with --strict. */
async function compileAgainst(specFile: string): Promise<{ ok: boolean; output: string; types: string }> {
  const types = astToString(await openapiTS(pathToFileURL(specFile)));
  const dir = await mkdtemp(path.join(tmpdir(), 'staybook-openapi-ts-'));
  try {
    await writeFile(path.join(dir, 'schema.d.ts'), types);
    await writeFile(path.join(dir, 'program.ts'), PROGRAM);
    // The program imports openapi-fetch as a consumer would, from a node_modules beside it.
    await symlink(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
    const args = [tsc, '--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2022,dom', '--types', 'node', path.join(dir, 'program.ts')];
    try {
      const { stdout } = await run(process.execPath, args, { cwd: dir });
      return { ok: true, output: stdout, types };
    } catch (err) {
      return { ok: false, output: String((err as { stdout?: string }).stdout ?? err), types };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('openapi-typescript with default options, tsc --strict', () => {
  let result: Awaited<ReturnType<typeof compileAgainst>>;
  beforeAll(async () => {
    result = await compileAgainst(path.join(root, 'spec/openapi.yaml'));
  }, 120_000);

  it('compiles a program that creates a listing, an account and a booking with only their required fields, without casts', () => {
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  });

  it('emits every enum of the spec once, as a named component (no inline string-literal unions of enum values)', async () => {
    // Each enum's values appear as a union in exactly one place, its component; `guest | host` in three components
    // of different meaning (RegistrationRole, BookingListRole, ConversationRole), never inline.
    const spec = await readFile(path.join(root, 'spec/openapi.yaml'), 'utf8');
    expect(spec).not.toMatch(/enum: \[flexible, moderate, strict\][\s\S]*enum: \[flexible, moderate, strict\]/);
    for (const union of ['"flexible" | "moderate" | "strict"', '"pending" | "succeeded" | "failed"', '"guest" | "host"', '"stripe" | "local"']) {
      expect(result.types.split(`${union};`).length - 1, union).toBe(union === '"guest" | "host"' ? 3 : 1);
    }
  });
});
