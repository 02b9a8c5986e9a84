/**
 * Queries on wishlists and their items. Each takes the database or a transaction
 * first.
 *
 * A withdrawn listing (properties.deleted_at set) keeps its item rows, and every
 * query here leaves it out: it disappears from lists, counts and covers at once,
 * without a write. Items are read joined with the listing as it is now, so a
 * list always shows current prices and ratings; nothing here is cached.
 */
import { sql, type Selectable } from 'kysely';
import type { Db, Tx } from './index.js';
import type { Wishlists } from '../generated/db.js';
import type { PropertyRow } from './properties.js';

/** A wishlist with what its summary shows of its live listings. */
export type WishlistRow = Selectable<Wishlists> & { item_count: number; cover_photo_url: string | null };

/** A listing in a list, as it is now, and when it was added. */
export type WishlistItemRow = PropertyRow & { added_at: Date };

/** A shared list as its link shows it: with its owner's display name. */
export type SharedWishlistRow = WishlistRow & { owner_name: string };

const liveItemCount = sql<number>`(
  select count(*)::int from wishlist_items i join properties p on p.id = i.property_id
  where i.wishlist_id = wishlists.id and p.deleted_at is null
)`;

const coverPhoto = sql<string | null>`(
  select p.photos[1] from wishlist_items i join properties p on p.id = i.property_id
  where i.wishlist_id = wishlists.id and p.deleted_at is null and cardinality(p.photos) > 0
  order by i.added_at desc, i.property_id limit 1
)`;

function selectWishlists(db: Db | Tx) {
  return db.selectFrom('wishlists').selectAll('wishlists').select([liveItemCount.as('item_count'), coverPhoto.as('cover_photo_url')]);
}

export async function findWishlistById(db: Db | Tx, id: string): Promise<WishlistRow | undefined> {
  return selectWishlists(db).where('wishlists.id', '=', id).executeTakeFirst();
}

/** The wishlist, locked until the transaction ends: changes of one list (its items' limit included) queue here. */
export async function lockWishlist(trx: Tx, id: string): Promise<WishlistRow | undefined> {
  return selectWishlists(trx).where('wishlists.id', '=', id).forUpdate('wishlists').executeTakeFirst();
}

export interface WishlistListOptions {
  ownerId: string;
  /** created_at and id of the last row of the previous page. */
  after?: { createdAt: string; id: string };
  limit: number;
}

/** An owner's lists, newest first (wishlists_owner_idx). */
export async function listWishlists(db: Db, options: WishlistListOptions): Promise<WishlistRow[]> {
  let query = selectWishlists(db).where('wishlists.owner_id', '=', options.ownerId);
  if (options.after) {
    const { createdAt, id } = options.after;
    query = query.where((eb) => eb(eb.refTuple('wishlists.created_at', 'wishlists.id'), '<', eb.tuple(new Date(createdAt), id)));
  }
  return query.orderBy('wishlists.created_at', 'desc').orderBy('wishlists.id', 'desc').limit(options.limit + 1).execute();
}

export async function countWishlistsOf(db: Db | Tx, ownerId: string): Promise<number> {
  const { count } = await db
    .selectFrom('wishlists')
    .select((eb) => eb.cast<number>(eb.fn.countAll(), 'integer').as('count'))
    .where('owner_id', '=', ownerId)
    .executeTakeFirstOrThrow();
  return count;
}

/** 23505 on wishlists_owner_name_key when the owner has a list of that name (any case). */
export async function insertWishlist(trx: Tx, row: { id?: string; owner_id: string; name: string; share_token?: string | null }): Promise<WishlistRow> {
  const { id } = await trx.insertInto('wishlists').values(row).returning('id').executeTakeFirstOrThrow();
  return (await findWishlistById(trx, id))!;
}

/** Renames the list and/or sets its link token (null: not shared); the trigger moves updated_at. Without changes, writes nothing. */
export async function updateWishlistRow(trx: Tx, id: string, changes: { name?: string; share_token?: string | null }): Promise<WishlistRow> {
  if (Object.keys(changes).length > 0) await trx.updateTable('wishlists').set(changes).where('id', '=', id).execute();
  return (await findWishlistById(trx, id))!;
}

/**
 * How many live listings the list holds, counted by a statement of its own: after
 * lockWishlist has waited for a concurrent add, only a new statement sees that add.
 */
export async function countLiveItems(trx: Tx, wishlistId: string): Promise<number> {
  const { count } = await trx
    .selectFrom('wishlist_items')
    .innerJoin('properties', 'properties.id', 'wishlist_items.property_id')
    .select((eb) => eb.cast<number>(eb.fn.countAll(), 'integer').as('count'))
    .where('wishlist_items.wishlist_id', '=', wishlistId)
    .where('properties.deleted_at', 'is', null)
    .executeTakeFirstOrThrow();
  return count;
}

/** A change of the list's items is a change of the list: its updated_at moves (the trigger sets it). */
export async function touchWishlist(trx: Tx, id: string): Promise<void> {
  await trx.updateTable('wishlists').set((eb) => ({ name: eb.ref('name') })).where('id', '=', id).execute();
}

/** The list and its items (on delete cascade). */
export async function deleteWishlistRow(trx: Tx, id: string): Promise<void> {
  await trx.deleteFrom('wishlists').where('id', '=', id).execute();
}

function selectItems(db: Db | Tx) {
  return db
    .selectFrom('wishlist_items')
    .innerJoin('properties', 'properties.id', 'wishlist_items.property_id')
    .selectAll('properties')
    .select('wishlist_items.added_at')
    .where('properties.deleted_at', 'is', null);
}

/** The list's live listings, most recently added first. */
export async function findWishlistItems(db: Db | Tx, wishlistId: string): Promise<WishlistItemRow[]> {
  return selectItems(db)
    .where('wishlist_items.wishlist_id', '=', wishlistId)
    .orderBy('wishlist_items.added_at', 'desc')
    .orderBy('wishlist_items.property_id')
    .execute();
}

/** The listing in the list, when it is there and still listed. */
export async function findWishlistItem(db: Db | Tx, wishlistId: string, propertyId: string): Promise<WishlistItemRow | undefined> {
  return selectItems(db).where('wishlist_items.wishlist_id', '=', wishlistId).where('wishlist_items.property_id', '=', propertyId).executeTakeFirst();
}

/**
 * Puts the listing in the list. A row left from before the listing was withdrawn
 * cannot be met here (withdrawn listings cannot be added, nor come back), so the
 * primary key only ever meets a concurrent add, which the list's lock prevents.
 */
export async function insertWishlistItem(trx: Tx, wishlistId: string, propertyId: string): Promise<Date> {
  const { added_at } = await trx
    .insertInto('wishlist_items')
    .values({ wishlist_id: wishlistId, property_id: propertyId })
    .returning('added_at')
    .executeTakeFirstOrThrow();
  return added_at;
}

/** Takes the listing out of the list; true when it was there. */
export async function deleteWishlistItem(trx: Tx, wishlistId: string, propertyId: string): Promise<boolean> {
  const result = await trx.deleteFrom('wishlist_items').where('wishlist_id', '=', wishlistId).where('property_id', '=', propertyId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** The list whose link this is, while it is shared. */
export async function findSharedWishlist(db: Db | Tx, shareToken: string): Promise<SharedWishlistRow | undefined> {
  return selectWishlists(db)
    .innerJoin('users', 'users.id', 'wishlists.owner_id')
    .select('users.name as owner_name')
    .where('wishlists.share_token', '=', shareToken)
    .executeTakeFirst();
}

/** Items as they stood, for demo data: each with its own time of adding. */
export async function insertWishlistItems(trx: Tx, rows: { wishlist_id: string; property_id: string; added_at: Date }[]): Promise<void> {
  if (rows.length > 0) await trx.insertInto('wishlist_items').values(rows).execute();
}
