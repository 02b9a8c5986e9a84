/**
 * Wishlists: a user's named lists of listings. Private to their owner (anyone
 * else, admins included, gets 404: ./access.ts mayUseWishlist), unless the owner
 * shares one, which gives it a link token that anyone reads it by
 * (getSharedWishlist) until the owner revokes it.
 *
 * The database keeps what it can (wishlists migration): names unique per owner
 * regardless of case (23505 on wishlists_owner_name_key, mapped to 409
 * wishlist_name_taken in server/errors.ts), a listing in a list at most once,
 * unique link tokens. The limits (MAX_WISHLISTS, MAX_WISHLIST_ITEMS) are counted
 * under a lock, of the owner for new lists and of the list for new items, so
 * concurrent requests cannot pass them; the rules themselves are in
 * ./wishlists/rules.ts.
 *
 * Nothing here goes through the read cache: lists show each listing's current
 * price and rating, and are read from the database every time.
 */
import { randomBytes } from 'node:crypto';
import { lockGuest } from '../db/bookings.js';
import type { Tx } from '../db/index.js';
import { findPropertyById } from '../db/properties.js';
import {
  countLiveItems,
  countWishlistsOf,
  deleteWishlistItem,
  deleteWishlistRow,
  findSharedWishlist,
  findWishlistById,
  findWishlistItem,
  findWishlistItems,
  insertWishlist,
  insertWishlistItem,
  listWishlists,
  lockWishlist,
  touchWishlist,
  updateWishlistRow,
  type WishlistRow,
} from '../db/wishlists.js';
import { ApiError, invalidFields } from '../server/errors.js';
import { caller, type RequestContext, type ResourceHandlers } from '../server/operations.js';
import { decodeCursor, page } from '../server/pagination.js';
import { mayUseWishlist, permit, wishlistsVisibleTo } from './access.js';
import { sharedWishlist, wishlistItemRowToItem, wishlistRowToWishlist, wishlistWithItems } from './presenters.js';
import { newItemRefusal, newWishlistRefusal, sharingChange, wishlistName } from './wishlists/rules.js';

/** Private answers, and the shared read (so that a revoked link is gone at once from every cache). */
const NO_STORE = { 'Cache-Control': 'no-store' };

/** A link token: 32 random bytes, base64url (43 characters), as the spec's ShareToken pattern says. */
function newShareToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The name as kept, or 400 validation_failed naming body.name. */
function checkedName(raw: string): string {
  const checked = wishlistName(raw);
  if ('problem' in checked) throw invalidFields([checked.problem]);
  return checked.name;
}

/** Runs `work` in a transaction on the caller's wishlist, locked so that changes of it queue (404 when it is not theirs). */
async function changeWishlist<T>(ctx: RequestContext, wishlistId: string, work: (trx: Tx, wishlist: WishlistRow) => Promise<T>): Promise<T> {
  const auth = caller(ctx);
  return ctx.deps.db.transaction().execute(async (trx) => work(trx, permit(mayUseWishlist(auth, await lockWishlist(trx, wishlistId)))));
}

export const wishlistHandlers: ResourceHandlers<
  | 'listWishlists'
  | 'createWishlist'
  | 'getWishlist'
  | 'updateWishlist'
  | 'deleteWishlist'
  | 'addWishlistItem'
  | 'removeWishlistItem'
  | 'getSharedWishlist'
> = {
  async listWishlists({ query }, ctx) {
    const limit = query.limit ?? 20;
    const after = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const rows = await listWishlists(ctx.deps.db, {
      ...wishlistsVisibleTo(caller(ctx)),
      after: after ? { createdAt: after[0] as string, id: after[1] as string } : undefined,
      limit,
    });
    return {
      status: 200,
      body: page(rows, limit, wishlistRowToWishlist, (row) => [row.created_at.toISOString(), row.id]),
      headers: NO_STORE,
    };
  },

  async createWishlist({ body }, ctx) {
    const auth = caller(ctx);
    const name = checkedName(body.name);
    const row = await ctx.deps.db.transaction().execute(async (trx) => {
      // The owner's row lock: concurrent creates of one owner are counted one after another.
      await lockGuest(trx, auth.id);
      const refusal = newWishlistRefusal(await countWishlistsOf(trx, auth.id), ctx.deps.config.maxWishlists);
      if (refusal) throw refusal;
      return insertWishlist(trx, { owner_id: auth.id, name });
    });
    return { status: 201, body: wishlistRowToWishlist(row), headers: { Location: `/wishlists/${row.id}` } };
  },

  async getWishlist({ path }, ctx) {
    const { db } = ctx.deps;
    // One snapshot (repeatable read) for the list and its items, so the two agree.
    return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(async (trx) => {
      const wishlist = permit(mayUseWishlist(caller(ctx), await findWishlistById(trx, path.wishlist_id)));
      return { status: 200 as const, body: wishlistWithItems(wishlist, await findWishlistItems(trx, wishlist.id)), headers: NO_STORE };
    });
  },

  async updateWishlist({ path, body }, ctx) {
    const name = body.name === undefined ? undefined : checkedName(body.name);
    return changeWishlist(ctx, path.wishlist_id, async (trx, wishlist) => {
      const sharing = sharingChange(wishlist.share_token, body.shared);
      const row = await updateWishlistRow(trx, wishlist.id, {
        ...(name === undefined ? {} : { name }),
        ...(sharing === 'issue' ? { share_token: newShareToken() } : sharing === 'revoke' ? { share_token: null } : {}),
      });
      return { status: 200 as const, body: wishlistRowToWishlist(row) };
    });
  },

  async deleteWishlist({ path }, ctx) {
    await changeWishlist(ctx, path.wishlist_id, (trx, wishlist) => deleteWishlistRow(trx, wishlist.id));
    return { status: 204 };
  },

  async addWishlistItem({ path }, ctx) {
    return changeWishlist(ctx, path.wishlist_id, async (trx, wishlist) => {
      const existing = await findWishlistItem(trx, wishlist.id, path.property_id);
      if (existing) return { status: 200 as const, body: wishlistItemRowToItem(existing) };
      // A withdrawn listing is no more addable than a missing one.
      const listing = await findPropertyById(trx, path.property_id);
      if (!listing) throw new ApiError('not_found', 'No such property.');
      const refusal = newItemRefusal(await countLiveItems(trx, wishlist.id), ctx.deps.config.maxWishlistItems);
      if (refusal) throw refusal;
      const addedAt = await insertWishlistItem(trx, wishlist.id, listing.id);
      await touchWishlist(trx, wishlist.id);
      return {
        status: 201 as const,
        body: wishlistItemRowToItem({ ...listing, added_at: addedAt }),
        headers: { Location: `/wishlists/${wishlist.id}/items/${listing.id}` },
      };
    });
  },

  async removeWishlistItem({ path }, ctx) {
    await changeWishlist(ctx, path.wishlist_id, async (trx, wishlist) => {
      if (await deleteWishlistItem(trx, wishlist.id, path.property_id)) await touchWishlist(trx, wishlist.id);
    });
    return { status: 204 };
  },

  async getSharedWishlist({ path }, ctx) {
    const { db } = ctx.deps;
    return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(async (trx) => {
      const row = await findSharedWishlist(trx, path.share_token);
      if (!row) throw new ApiError('not_found', 'No wishlist is shared by this link; its owner may have stopped sharing it.');
      return { status: 200 as const, body: sharedWishlist(row, await findWishlistItems(trx, row.id)), headers: NO_STORE };
    });
  },
};
