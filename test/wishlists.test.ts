/**
 * Wishlists: every operation and rule of the contract, its success and its
 * refusals with status and code, through the generated client against a real
 * PostgreSQL, with what the database holds afterwards: privacy (another user,
 * admins included, gets 404), the share link read without signing in and its
 * revocation, withdrawn listings vanishing, current prices and ratings, the
 * limits under concurrent requests, and the GraphQL nesting wishlist → listings.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import type { Property } from '../generated/client/types.gen.js';
import { graphqlRequest } from '../scripts/walk-graphql.js';
import { createAdmin, createProperty, createReview, createUser, expectData, type Account } from './support/factories.js';
import { expectProblem } from './support/problems.js';
import type { TestServer } from './support/server.js';
import { useTestApp } from './support/app.js';

const { env, server } = useTestApp();
let admin: Account;

beforeAll(async () => {
  admin = await createAdmin(server);
});

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const UNKNOWN_TOKEN = 'A'.repeat(43);

async function newList(owner: Account, name = `List ${Math.random().toString(36).slice(2, 8)}`, on: TestServer = server) {
  return expectData('createWishlist', await api.createWishlist({ client: on.client, auth: owner.token, body: { name } }));
}

async function add(owner: Account, wishlistId: string, propertyId: string, on: TestServer = server) {
  return api.addWishlistItem({ client: on.client, auth: owner.token, path: { wishlist_id: wishlistId, property_id: propertyId } });
}

function get(owner: Account | undefined, wishlistId: string) {
  return api.getWishlist({ client: server.client, auth: owner?.token, path: { wishlist_id: wishlistId } });
}

function share(owner: Account, wishlistId: string, shared: boolean) {
  return api.updateWishlist({ client: server.client, auth: owner.token, path: { wishlist_id: wishlistId }, body: { shared } });
}

function readShared(token: string, auth?: string) {
  return api.getSharedWishlist({ client: server.client, auth, path: { share_token: token } });
}

function listRow(id: string) {
  return server.deps.db.selectFrom('wishlists').selectAll().where('id', '=', id).executeTakeFirst();
}

function itemRows(wishlistId: string, on: TestServer = server) {
  return on.deps.db.selectFrom('wishlist_items').selectAll().where('wishlist_id', '=', wishlistId).orderBy('added_at').execute();
}

describe('createWishlist', () => {
  it('makes an empty private list of the caller, with Location', async () => {
    const guest = await createUser(server.client);
    const result = await api.createWishlist({ client: server.client, auth: guest.token, body: { name: '  Autumn in Kyoto ' } });
    expect(result.response.status).toBe(201);
    const list = result.data!;
    expect(list).toMatchObject({ owner_id: guest.id, name: 'Autumn in Kyoto', item_count: 0, cover_photo_url: null, shared: false, share_token: null });
    expect(result.response.headers.get('location')).toBe(`/wishlists/${list.id}`);
    expect(await listRow(list.id)).toMatchObject({ owner_id: guest.id, name: 'Autumn in Kyoto', share_token: null });
  });

  it('lets hosts keep lists too (anyone signed in may), but not anonymous callers (401)', async () => {
    const host = await createUser(server.client, { role: 'host' });
    await newList(host, 'Scouting the competition');
    expectProblem(await api.createWishlist({ client: server.client, body: { name: 'Nope' } }), 401, 'unauthenticated');
  });

  it('refuses a name the caller already uses, whatever the case, with 409 wishlist_name_taken; another user may use it', async () => {
    const guest = await createUser(server.client);
    await newList(guest, 'Beach weekends');
    const again = await api.createWishlist({ client: server.client, auth: guest.token, body: { name: 'BEACH weekends' } });
    expectProblem(again, 409, 'wishlist_name_taken');
    expect(await server.deps.db.selectFrom('wishlists').select('id').where('owner_id', '=', guest.id).execute()).toHaveLength(1);
    await newList(await createUser(server.client), 'Beach weekends');
  });

  it('refuses blank names, control and bidirectional formatting characters, and names over 50 characters (400 naming body.name)', async () => {
    const guest = await createUser(server.client);
    for (const name of ['', '   ', 'tab\there', 'c1\u0085control', 'evil\u202Eeman', 'x'.repeat(51)]) {
      expectProblem(await api.createWishlist({ client: server.client, auth: guest.token, body: { name } }), 400, 'validation_failed', 'body.name');
    }
    expectProblem(await api.createWishlist({ client: server.client, auth: guest.token, body: { name: 'ok', owner_id: admin.id } as never }), 400, 'validation_failed');
    expect(await server.deps.db.selectFrom('wishlists').select('id').where('owner_id', '=', guest.id).execute()).toEqual([]);
  });

  it('keeps at most MAX_WISHLISTS lists per user, even when the requests race (409 too_many_wishlists)', async () => {
    const limited = await env.start({ maxWishlists: 3 });
    const guest = await createUser(limited.client);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => api.createWishlist({ client: limited.client, auth: guest.token, body: { name: `Race ${i}` } })),
    );
    expect(results.filter((r) => r.response.status === 201)).toHaveLength(3);
    for (const refused of results.filter((r) => r.response.status !== 201)) expectProblem(refused, 409, 'too_many_wishlists');
    // The limited server's own database: on PGlite each server process-alike has its own.
    expect(await limited.deps.db.selectFrom('wishlists').select('id').where('owner_id', '=', guest.id).execute()).toHaveLength(3);
  });
});

describe('listWishlists', () => {
  it("shows only the caller's own lists, newest first, cursor-paginated, with counts and a cover, no-store", async () => {
    const guest = await createUser(server.client);
    const other = await createUser(server.client);
    const property = await createProperty(server.client, undefined, { photos: ['https://images.example.com/cover.jpg'] });
    const first = await newList(guest, 'First');
    const second = await newList(guest, 'Second');
    const third = await newList(guest, 'Third');
    await newList(other, 'Not yours');
    expect((await add(guest, second.id, property.id)).response.status).toBe(201);

    const page1 = await api.listWishlists({ client: server.client, auth: guest.token, query: { limit: 2 } });
    expect(page1.response.status).toBe(200);
    expect(page1.response.headers.get('cache-control')).toBe('no-store');
    expect(page1.data!.data.map((w) => w.id)).toEqual([third.id, second.id]);
    expect(page1.data!.data[1]).toMatchObject({ item_count: 1, cover_photo_url: 'https://images.example.com/cover.jpg' });
    const page2 = expectData('listWishlists', await api.listWishlists({ client: server.client, auth: guest.token, query: { limit: 2, cursor: page1.data!.next_cursor! } }));
    expect(page2.data.map((w) => w.id)).toEqual([first.id]);
    expect(page2.next_cursor).toBeNull();

    // Admins have no lists of their own here: they do not see other users'.
    expect(expectData('listWishlists', await api.listWishlists({ client: server.client, auth: admin.token })).data).toEqual([]);
    expectProblem(await api.listWishlists({ client: server.client }), 401, 'unauthenticated');
    expectProblem(await api.listWishlists({ client: server.client, auth: guest.token, query: { cursor: 'bm90LWEtY3Vyc29y' } }), 400, 'validation_failed', 'query.cursor');
  });
});

describe('getWishlist', () => {
  it('shows the listings most recently added first, each with its current price and rating, no-store with an ETag', async () => {
    const guest = await createUser(server.client);
    const older = await createProperty(server.client);
    const newer = await createProperty(server.client);
    const list = await newList(guest);
    await add(guest, list.id, older.id);
    await add(guest, list.id, newer.id);

    const result = await get(guest, list.id);
    expect(result.response.status).toBe(200);
    expect(result.response.headers.get('cache-control')).toBe('no-store');
    expect(result.response.headers.get('etag')).toBeTruthy();
    expect(result.data!.items.map((item) => item.property.id)).toEqual([newer.id, older.id]);
    expect(result.data!.item_count).toBe(2);
    const etag = result.response.headers.get('etag')!;
    const unchanged = await fetch(`${server.url}/wishlists/${list.id}`, { headers: { Authorization: `Bearer ${guest.token}`, 'If-None-Match': etag } });
    expect(unchanged.status).toBe(304);

    // The listing changes its price and is reviewed: the list shows it as it is now.
    await api.updateProperty({ client: server.client, auth: older.host.token, path: { property_id: older.id }, body: { price_per_night: 777_00 } });
    await createReview(server, { property: older, rating: 2 });
    const after = expectData('getWishlist', await get(guest, list.id));
    expect(after.items[1]!.property).toMatchObject({ id: older.id, price_per_night: 777_00, rating_average: 2, review_count: 1 });
    expect(after.items[1]!.property).toEqual(expectData('getProperty', await api.getProperty({ client: server.client, path: { property_id: older.id } })));
    // The list's representation changed with its listing, so the old ETag no longer matches.
    const changed = await fetch(`${server.url}/wishlists/${list.id}`, { headers: { Authorization: `Bearer ${guest.token}`, 'If-None-Match': etag } });
    expect(changed.status).toBe(200);
  });

  it('is 404 for another guest, for the host of a listing in it and for an admin; 401 without a token', async () => {
    const guest = await createUser(server.client);
    const property = await createProperty(server.client);
    const list = await newList(guest);
    await add(guest, list.id, property.id);
    for (const stranger of [await createUser(server.client), property.host, admin]) expectProblem(await get(stranger, list.id), 404, 'not_found');
    expectProblem(await get(undefined, list.id), 401, 'unauthenticated');
    expectProblem(await get(guest, UNKNOWN_ID), 404, 'not_found');
  });

  it('leaves a withdrawn listing out, without errors, in the list, its count, its cover and the shared view', async () => {
    const guest = await createUser(server.client);
    const staying = await createProperty(server.client, undefined, { photos: ['https://images.example.com/staying.jpg'] });
    const leaving = await createProperty(server.client, undefined, { photos: ['https://images.example.com/leaving.jpg'] });
    const list = await newList(guest);
    await add(guest, list.id, staying.id);
    await add(guest, list.id, leaving.id);
    const token = expectData('updateWishlist', await share(guest, list.id, true)).share_token!;

    expect((await api.deleteProperty({ client: server.client, auth: leaving.host.token, path: { property_id: leaving.id } })).response.status).toBe(204);

    const after = expectData('getWishlist', await get(guest, list.id));
    expect(after.items.map((item) => item.property.id)).toEqual([staying.id]);
    expect(after).toMatchObject({ item_count: 1, cover_photo_url: 'https://images.example.com/staying.jpg' });
    const summary = expectData('listWishlists', await api.listWishlists({ client: server.client, auth: guest.token })).data[0]!;
    expect(summary).toMatchObject({ id: list.id, item_count: 1, cover_photo_url: 'https://images.example.com/staying.jpg' });
    expect(expectData('getSharedWishlist', await readShared(token)).items.map((item) => item.property.id)).toEqual([staying.id]);
    // Its row stays (nothing is written on withdrawal); it cannot be added again, and removing it is a no-op.
    expect(await itemRows(list.id)).toHaveLength(2);
    expectProblem(await add(guest, list.id, leaving.id), 404, 'not_found');
    const removed = await api.removeWishlistItem({ client: server.client, auth: guest.token, path: { wishlist_id: list.id, property_id: leaving.id } });
    expect(removed.response.status).toBe(204);
  });
});

describe('updateWishlist', () => {
  it('renames the list, trimmed; a name of another of its lists is 409 wishlist_name_taken, its own name in another case is fine', async () => {
    const guest = await createUser(server.client);
    const list = await newList(guest, 'Spring');
    await newList(guest, 'Summer');
    const renamed = await api.updateWishlist({ client: server.client, auth: guest.token, path: { wishlist_id: list.id }, body: { name: ' Spring 2027 ' } });
    expect(renamed.response.status).toBe(200);
    expect(renamed.data).toMatchObject({ id: list.id, name: 'Spring 2027' });
    expect(new Date(renamed.data!.updated_at).getTime()).toBeGreaterThanOrEqual(new Date(list.updated_at).getTime());
    expectProblem(await api.updateWishlist({ client: server.client, auth: guest.token, path: { wishlist_id: list.id }, body: { name: 'summer' } }), 409, 'wishlist_name_taken');
    expect((await api.updateWishlist({ client: server.client, auth: guest.token, path: { wishlist_id: list.id }, body: { name: 'SPRING 2027' } })).response.status).toBe(200);
    expect((await listRow(list.id))!.name).toBe('SPRING 2027');
    expectProblem(await api.updateWishlist({ client: server.client, auth: guest.token, path: { wishlist_id: list.id }, body: {} }), 400, 'validation_failed');
    expectProblem(await api.updateWishlist({ client: server.client, auth: guest.token, path: { wishlist_id: list.id }, body: { name: '\u2066x' } }), 400, 'validation_failed', 'body.name');
  });

  it('shares by a new token, keeps it when shared again, revokes it (404 at once), and a new share gets another token', async () => {
    const guest = await createUser(server.client);
    const property = await createProperty(server.client);
    const list = await newList(guest, 'To show my sister');
    await add(guest, list.id, property.id);

    const shared = expectData('updateWishlist', await share(guest, list.id, true));
    expect(shared.shared).toBe(true);
    expect(shared.share_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await listRow(list.id))!.share_token).toBe(shared.share_token);
    expect(expectData('updateWishlist', await share(guest, list.id, true)).share_token).toBe(shared.share_token);

    const read = await readShared(shared.share_token!);
    expect(read.response.status).toBe(200);
    expect(read.response.headers.get('cache-control')).toBe('no-store');
    expect(read.data).toEqual({
      id: list.id,
      name: 'To show my sister',
      owner_name: guest.name,
      item_count: 1,
      updated_at: read.data!.updated_at,
      items: [{ property: expect.objectContaining({ id: property.id }), added_at: expect.any(String) }],
    });
    expect(read.data).not.toHaveProperty('owner_id');
    expect(read.data).not.toHaveProperty('share_token');

    const revoked = expectData('updateWishlist', await share(guest, list.id, false));
    expect(revoked).toMatchObject({ shared: false, share_token: null });
    expect((await listRow(list.id))!.share_token).toBeNull();
    expectProblem(await readShared(shared.share_token!), 404, 'not_found');

    const again = expectData('updateWishlist', await share(guest, list.id, true));
    expect(again.share_token).not.toBe(shared.share_token);
    expectProblem(await readShared(shared.share_token!), 404, 'not_found');
    expect((await readShared(again.share_token!)).response.status).toBe(200);
  });

  it("is 404 on another user's list, admins included, and changes nothing", async () => {
    const guest = await createUser(server.client);
    const list = await newList(guest, 'Mine');
    for (const stranger of [await createUser(server.client), admin]) {
      expectProblem(await api.updateWishlist({ client: server.client, auth: stranger.token, path: { wishlist_id: list.id }, body: { name: 'Theirs', shared: true } }), 404, 'not_found');
    }
    expect(await listRow(list.id)).toMatchObject({ name: 'Mine', share_token: null });
  });
});

describe('getSharedWishlist', () => {
  it('is read without signing in, and with any valid token; an expired or made-up bearer token is 401; an unknown link 404', async () => {
    const guest = await createUser(server.client);
    const list = await newList(guest);
    const token = expectData('updateWishlist', await share(guest, list.id, true)).share_token!;
    expect((await readShared(token)).response.status).toBe(200);
    expect((await readShared(token, (await createUser(server.client)).token)).response.status).toBe(200);
    expectProblem(await readShared(token, 'sbt_made_up'), 401, 'unauthenticated');
    expectProblem(await readShared(UNKNOWN_TOKEN), 404, 'not_found');
    expectProblem(await readShared('too-short'), 400, 'validation_failed', 'path.share_token');
  });

  it('stops working when the owner deletes the list or their account', async () => {
    const guest = await createUser(server.client);
    const first = await newList(guest);
    const second = await newList(guest);
    const firstToken = expectData('updateWishlist', await share(guest, first.id, true)).share_token!;
    const secondToken = expectData('updateWishlist', await share(guest, second.id, true)).share_token!;
    expect((await api.deleteWishlist({ client: server.client, auth: guest.token, path: { wishlist_id: first.id } })).response.status).toBe(204);
    expectProblem(await readShared(firstToken), 404, 'not_found');
    expect((await api.deleteUser({ client: server.client, auth: guest.token, path: { user_id: guest.id } })).response.status).toBe(204);
    expectProblem(await readShared(secondToken), 404, 'not_found');
    expect(await server.deps.db.selectFrom('wishlists').select('id').where('owner_id', '=', guest.id).execute()).toEqual([]);
  });
});

describe('deleteWishlist', () => {
  it('deletes the list and its items; 404 for anyone else and afterwards', async () => {
    const guest = await createUser(server.client);
    const property = await createProperty(server.client);
    const list = await newList(guest);
    await add(guest, list.id, property.id);
    for (const stranger of [await createUser(server.client), admin]) {
      expectProblem(await api.deleteWishlist({ client: server.client, auth: stranger.token, path: { wishlist_id: list.id } }), 404, 'not_found');
    }
    expect(await listRow(list.id)).toBeDefined();
    expect((await api.deleteWishlist({ client: server.client, auth: guest.token, path: { wishlist_id: list.id } })).response.status).toBe(204);
    expect(await listRow(list.id)).toBeUndefined();
    expect(await itemRows(list.id)).toEqual([]);
    expectProblem(await api.deleteWishlist({ client: server.client, auth: guest.token, path: { wishlist_id: list.id } }), 404, 'not_found');
    // The listing itself is untouched.
    expect((await api.getProperty({ client: server.client, path: { property_id: property.id } })).response.status).toBe(200);
  });
});

describe('addWishlistItem', () => {
  it('adds a listing (201, Location), and adding it again is 200 with the same added_at and one row', async () => {
    const guest = await createUser(server.client);
    const property = await createProperty(server.client);
    const list = await newList(guest);
    const first = await add(guest, list.id, property.id);
    expect(first.response.status).toBe(201);
    expect(first.response.headers.get('location')).toBe(`/wishlists/${list.id}/items/${property.id}`);
    expect(first.data!.property).toMatchObject({ id: property.id, price_per_night: property.price_per_night });
    const second = await add(guest, list.id, property.id);
    expect(second.response.status).toBe(200);
    expect(second.data!.added_at).toBe(first.data!.added_at);
    const rows = await itemRows(list.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.added_at.toISOString()).toBe(first.data!.added_at);
    // A change of its items moves the list's updated_at.
    expect((await listRow(list.id))!.updated_at.getTime()).toBeGreaterThan(new Date(list.updated_at).getTime() - 1);
  });

  it("is 404 for an unknown listing, and for another user's list (nothing is added)", async () => {
    const guest = await createUser(server.client);
    const property = await createProperty(server.client);
    const list = await newList(guest);
    expectProblem(await add(guest, list.id, UNKNOWN_ID), 404, 'not_found');
    for (const stranger of [await createUser(server.client), admin]) expectProblem(await add(stranger, list.id, property.id), 404, 'not_found');
    expect(await itemRows(list.id)).toEqual([]);
  });

  it('holds at most MAX_WISHLIST_ITEMS listings, even when adds race (409 wishlist_full); an item already there is still 200', async () => {
    const limited = await env.start({ maxWishlistItems: 2 });
    const guest = await createUser(limited.client);
    const host = await createUser(limited.client, { role: 'host' });
    const listings: Property[] = [];
    for (let i = 0; i < 5; i++) listings.push(await createProperty(limited.client, host));
    const list = await newList(guest, 'Tiny', limited);
    const results = await Promise.all(listings.map((listing) => add(guest, list.id, listing.id, limited)));
    expect(results.filter((r) => r.response.status === 201)).toHaveLength(2);
    for (const refused of results.filter((r) => r.response.status !== 201)) expectProblem(refused, 409, 'wishlist_full');
    expect(await itemRows(list.id, limited)).toHaveLength(2);
    const kept = (await itemRows(list.id, limited))[0]!.property_id;
    expect((await add(guest, list.id, kept, limited)).response.status).toBe(200);
  });
});

describe('removeWishlistItem', () => {
  it('removes the listing (204), idempotently; 404 only for a list that is not the caller\'s', async () => {
    const guest = await createUser(server.client);
    const property = await createProperty(server.client);
    const list = await newList(guest);
    await add(guest, list.id, property.id);
    const remove = (who: Account) => api.removeWishlistItem({ client: server.client, auth: who.token, path: { wishlist_id: list.id, property_id: property.id } });
    for (const stranger of [await createUser(server.client), admin]) expectProblem(await remove(stranger), 404, 'not_found');
    expect(await itemRows(list.id)).toHaveLength(1);
    expect((await remove(guest)).response.status).toBe(204);
    expect(await itemRows(list.id)).toEqual([]);
    expect((await remove(guest)).response.status).toBe(204);
    expect(expectData('getWishlist', await get(guest, list.id)).items).toEqual([]);
  });
});

describe('wishlists through GraphQL', () => {
  it('nests wishlist → listings → host in one query, with the same data as REST', async () => {
    const guest = await createUser(server.client);
    const property = await createProperty(server.client);
    const list = await newList(guest, 'Via GraphQL');
    await add(guest, list.id, property.id);
    const reply = await graphqlRequest<{ getWishlist: { name: string; items: { property: { id: string; price_per_night: number; host: { id: string } } }[] } }>(
      server.url,
      'query ($id: UUID!) { getWishlist(wishlist_id: $id) { name items { property { id price_per_night host { id } } } } }',
      { id: list.id },
      guest.token,
    );
    expect(reply.errors).toBeUndefined();
    expect(reply.data!.getWishlist).toEqual({
      name: 'Via GraphQL',
      items: [{ property: { id: property.id, price_per_night: property.price_per_night, host: { id: property.host.id } } }],
    });
    const stranger = await graphqlRequest(server.url, 'query ($id: UUID!) { getWishlist(wishlist_id: $id) { id } }', { id: list.id }, admin.token);
    expect(stranger.errors?.[0]?.extensions).toMatchObject({ code: 'not_found', status: 404 });
  });

  it('adds through a mutation, and reads a shared list without signing in', async () => {
    const guest = await createUser(server.client);
    const property = await createProperty(server.client);
    const list = await newList(guest, 'Mutated');
    const added = await graphqlRequest<{ addWishlistItem: { property: { id: string } } }>(
      server.url,
      'mutation ($list: UUID!, $property: UUID!) { addWishlistItem(wishlist_id: $list, property_id: $property) { property { id } } }',
      { list: list.id, property: property.id },
      guest.token,
    );
    expect(added.errors).toBeUndefined();
    expect(added.data!.addWishlistItem.property.id).toBe(property.id);
    expect(await itemRows(list.id)).toHaveLength(1);

    const token = expectData('updateWishlist', await share(guest, list.id, true)).share_token!;
    const shared = await graphqlRequest<{ getSharedWishlist: { owner_name: string; items: { property: { name: string } }[] } }>(
      server.url,
      'query ($token: String!) { getSharedWishlist(share_token: $token) { owner_name items { property { name } } } }',
      { token },
    );
    expect(shared.errors).toBeUndefined();
    expect(shared.data!.getSharedWishlist).toEqual({ owner_name: guest.name, items: [{ property: { name: property.name } }] });
  });
});
