/**
 * generated/staybook.postman_collection.json (scripts/generate-collection.ts): a Postman v2.1 collection that names
 * every operationId once, authorises with a collection-level bearer {{token}} and starts every URL with {{baseUrl}}.
 * Its drift from the spec is caught by `npm run generate:check` like the rest of generated/.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { postmanCollectionFile } from '../scripts/generate-collection.js';

const spec = parse(readFileSync(new URL('../spec/openapi.yaml', import.meta.url), 'utf8'));
const file = readFileSync(new URL('../generated/staybook.postman_collection.json', import.meta.url), 'utf8');
const collection = JSON.parse(file);
const requests = collection.item.flatMap((folder: any) => folder.item);
const operationIds = Object.values<any>(spec.paths).flatMap((item) =>
  ['get', 'post', 'put', 'patch', 'delete'].filter((m) => item[m]).map((m) => item[m].operationId as string),
);

describe('the Postman collection', () => {
  it('is what the generator makes of the current spec (no drift)', () => {
    expect(file).toBe(postmanCollectionFile(spec));
  });

  it('names every operationId exactly once', () => {
    expect(operationIds.length).toBeGreaterThan(30);
    expect(requests.map((r: any) => r.name).sort()).toEqual([...operationIds].sort());
  });

  it('is v2.1 with collection-level bearer auth and a baseUrl variable', () => {
    expect(collection.info.schema).toBe('https://schema.getpostman.com/json/collection/v2.1.0/collection.json');
    expect(collection.auth).toEqual({ type: 'bearer', bearer: [{ key: 'token', value: '{{token}}', type: 'string' }] });
    expect(collection.variable.map((v: any) => v.key)).toEqual(['baseUrl', 'token']);
    for (const request of requests) expect(request.request.url.raw).toMatch(/^\{\{baseUrl\}\}\//);
  });

  it('sends login and registerUser without auth, and a fresh Idempotency-Key where the spec takes one', () => {
    const byName = new Map(requests.map((r: any) => [r.name, r.request]));
    expect((byName.get('login') as any).auth).toEqual({ type: 'noauth' });
    expect((byName.get('getCurrentUser') as any).auth).toBeUndefined();
    const booking = byName.get('createBooking') as any;
    expect(booking.header).toContainEqual(expect.objectContaining({ key: 'Idempotency-Key', value: '{{$guid}}' }));
    expect(JSON.parse(booking.body.raw)).toBeTypeOf('object');
  });
});
