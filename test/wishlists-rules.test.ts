/**
 * The pure rules of wishlists (handlers/wishlists/rules.ts), on tables of cases:
 * names, the two limits and what `shared` does to a list's link.
 */
import { describe, expect, it } from 'vitest';
import { newItemRefusal, newWishlistRefusal, sharingChange, wishlistName } from '../handlers/wishlists/rules.js';

describe('wishlistName', () => {
  it.each([
    ['Autumn in Kyoto', 'Autumn in Kyoto'],
    ['  padded  ', 'padded'],
    ['Café ☕ & crêpes', 'Café ☕ & crêpes'],
    ['👨‍👩‍👧 family trips', '👨‍👩‍👧 family trips'],
    ['x'.repeat(50), 'x'.repeat(50)],
    // 50 characters of four UTF-16 units' worth each still count as 50.
    ['😀'.repeat(50), '😀'.repeat(50)],
    [` ${'y'.repeat(50)} `, 'y'.repeat(50)],
  ])('keeps %j as %j', (raw, kept) => {
    expect(wishlistName(raw)).toEqual({ name: kept });
  });

  it.each([
    ['', 'must not be blank'],
    ['   ', 'must not be blank'],
    ['\u0085next line', 'must not contain control or bidirectional formatting characters'],
    ['evil\u202Eeman', 'must not contain control or bidirectional formatting characters'],
    ['isolate\u2066d', 'must not contain control or bidirectional formatting characters'],
    ['x'.repeat(51), 'must be at most 50 characters'],
    ['😀'.repeat(51), 'must be at most 50 characters'],
  ])('refuses %j: %s', (raw, message) => {
    expect(wishlistName(raw)).toEqual({ problem: { path: 'body.name', message } });
  });
});

describe('the limits', () => {
  it.each([
    [0, 50, undefined],
    [49, 50, undefined],
    [50, 50, 'too_many_wishlists'],
    [51, 50, 'too_many_wishlists'],
    [0, 1, undefined],
    [1, 1, 'too_many_wishlists'],
  ])('an owner of %i lists, with MAX_WISHLISTS %i: %s', (count, max, code) => {
    expect(newWishlistRefusal(count, max)?.code).toBe(code);
  });

  it.each([
    [0, 100, undefined],
    [99, 100, undefined],
    [100, 100, 'wishlist_full'],
    [2, 2, 'wishlist_full'],
  ])('a list of %i listings, with MAX_WISHLIST_ITEMS %i: %s', (count, max, code) => {
    const refusal = newItemRefusal(count, max);
    expect(refusal?.code).toBe(code);
    if (refusal) expect(refusal.status).toBe(409);
  });
});

describe('sharingChange', () => {
  const token = 'T'.repeat(43);
  it.each([
    [null, true, 'issue'],
    [token, true, 'keep'],
    [token, false, 'revoke'],
    [null, false, 'keep'],
    [null, undefined, 'keep'],
    [token, undefined, 'keep'],
  ] as const)('token %s, shared %s: %s', (current, shared, change) => {
    expect(sharingChange(current, shared)).toBe(change);
  });
});
