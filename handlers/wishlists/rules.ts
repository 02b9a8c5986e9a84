/**
 * The rules of wishlists, as plain functions of their inputs: what a list's name
 * may be, how many lists one account keeps and how many listings one list holds
 * (MAX_WISHLISTS, MAX_WISHLIST_ITEMS), and what a change of `shared` does to the
 * list's link token.
 */
import { ApiError, type FieldError } from '../../server/errors.js';

export const WISHLIST_NAME_MAX = 50;

/**
 * Characters a name may not hold beyond what the spec's pattern already refuses
 * (ASCII control characters): C1 controls, and the bidirectional overrides and
 * isolates, which would make a name read differently on screen from what it is.
 */
const UNPRINTABLE = /[\u0080-\u009F\u202A-\u202E\u2066-\u2069]/u;

/** A name as it is kept (leading and trailing spaces dropped), or what is wrong with it, naming `body.name`. */
export function wishlistName(raw: string): { name: string } | { problem: FieldError } {
  const name = raw.trim();
  if (name.length === 0) return { problem: { path: 'body.name', message: 'must not be blank' } };
  if (UNPRINTABLE.test(name)) return { problem: { path: 'body.name', message: 'must not contain control or bidirectional formatting characters' } };
  if ([...name].length > WISHLIST_NAME_MAX) return { problem: { path: 'body.name', message: `must be at most ${WISHLIST_NAME_MAX} characters` } };
  return { name };
}

/** Why the owner of `count` lists may not make another, or undefined when they may. */
export function newWishlistRefusal(count: number, max: number): ApiError | undefined {
  if (count < max) return undefined;
  return new ApiError('too_many_wishlists', `You already have ${count} wishlists, the most one account may keep; delete one first.`);
}

/** Why a list of `count` listings may not take another, or undefined when it may. */
export function newItemRefusal(count: number, max: number): ApiError | undefined {
  if (count < max) return undefined;
  return new ApiError('wishlist_full', `This wishlist already holds ${count} listings, the most a list may; remove one or start another list.`);
}

/**
 * What `shared` in an update does to the list's link: a private list that is
 * shared gets a new token (`issue`), a shared one is revoked (`revoke`), and
 * anything else leaves it as it is (`keep`), so that sending `shared: true`
 * again does not break a link already handed out.
 */
export function sharingChange(currentToken: string | null, shared: boolean | undefined): 'issue' | 'revoke' | 'keep' {
  if (shared === true && currentToken === null) return 'issue';
  if (shared === false && currentToken !== null) return 'revoke';
  return 'keep';
}
