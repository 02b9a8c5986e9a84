/**
 * handlers/access.ts on tables of cases: for each decision, every kind of
 * caller against the thing asked about, and the answer a client gets (allowed,
 * 404 not_found as if it did not exist, or 403 forbidden).
 */
import { describe, expect, it } from 'vitest';
import {
  bookingsVisibleTo,
  cancellingParty,
  isModerationRead,
  isParticipant,
  mayCancelBooking,
  mayChangeBooking,
  mayDeleteReview,
  mayEditReview,
  mayListProperty,
  mayListUsers,
  mayManageAccount,
  mayManageProperty,
  mayPayForBooking,
  mayReadConversation,
  mayRemoveReviewReply,
  mayReplyToReview,
  mayReviewBooking,
  mayTakePartInConversation,
  mayViewBooking,
  mayViewPayment,
  maySeeContactDetails,
  mustProveCurrentPassword,
  paymentsVisibleTo,
  permit,
  type Access,
} from '../handlers/access.js';
import type { AuthUser } from '../server/auth.js';
import { ApiError } from '../server/errors.js';

const as = (id: string, role: AuthUser['role']): AuthUser => ({ id, role, token: 'sbt_test' });
const guest = as('guest', 'guest');
const host = as('host', 'host');
const stranger = as('stranger', 'guest');
const otherHost = as('other-host', 'host');
const admin = as('admin', 'admin');

/** What a client would get: 'allowed', or the status and code of the refusal. */
function answer(access: Access<unknown>): string {
  if (access.allowed) return 'allowed';
  return access.code === 'not_found' ? '404 not_found' : '403 forbidden';
}

describe('bookings', () => {
  const booking = { guest_id: 'guest', host_id: 'host' };
  const decisions = { mayViewBooking, mayCancelBooking, mayChangeBooking, mayPayForBooking, mayReviewBooking };
  it.each([
    // caller, view, cancel, change, pay, review
    [guest, 'allowed', 'allowed', 'allowed', 'allowed', 'allowed'],
    [host, 'allowed', 'allowed', '403 forbidden', '403 forbidden', '403 forbidden'],
    [admin, 'allowed', 'allowed', '403 forbidden', '403 forbidden', '403 forbidden'],
    [stranger, '404 not_found', '404 not_found', '404 not_found', '404 not_found', '404 not_found'],
    [otherHost, '404 not_found', '404 not_found', '404 not_found', '404 not_found', '404 not_found'],
  ])('%o', (caller, ...expected) => {
    expect(Object.values(decisions).map((decide) => answer(decide(caller, booking)))).toEqual(expected);
    // No booking at all reads exactly as one the caller may not see.
    expect(Object.values(decisions).map((decide) => answer(decide(caller, undefined)))).toEqual(Object.values(decisions).map(() => '404 not_found'));
  });

  it('names who cancelled for the refund policy: only the guest themself counts as the guest', () => {
    expect(cancellingParty(guest, booking)).toBe('guest');
    expect(cancellingParty(host, booking)).toBe('host_or_admin');
    expect(cancellingParty(admin, booking)).toBe('host_or_admin');
    expect(cancellingParty(admin, { guest_id: 'admin', host_id: 'host' })).toBe('host_or_admin');
  });

  it.each([
    [guest, undefined, { guestId: 'guest' }],
    [guest, 'guest', { guestId: 'guest' }],
    [host, 'host', { hostId: 'host' }],
    [host, undefined, { guestId: 'host' }],
    [admin, 'host', {}],
    [admin, undefined, {}],
  ] as const)('lists for %o with role=%s: %o', (caller, role, scope) => {
    expect(bookingsVisibleTo(caller, role)).toEqual(scope);
  });
});

describe('payments', () => {
  const payment = { payer_id: 'guest' };
  it.each([
    [guest, 'allowed', { payerId: 'guest' }],
    [admin, 'allowed', {}],
    [host, '404 not_found', { payerId: 'host' }],
    [stranger, '404 not_found', { payerId: 'stranger' }],
  ])('%o', (caller, view, scope) => {
    expect(answer(mayViewPayment(caller, payment))).toBe(view);
    expect(answer(mayViewPayment(caller, undefined))).toBe('404 not_found');
    expect(paymentsVisibleTo(caller)).toEqual(scope);
  });
});

describe('reviews', () => {
  const review = { author_id: 'guest', host_id: 'host' };
  const decisions = { mayEditReview, mayDeleteReview, mayReplyToReview, mayRemoveReviewReply };
  it.each([
    // caller, edit, delete, reply, remove reply
    [guest, 'allowed', 'allowed', '403 forbidden', '403 forbidden'],
    [host, '403 forbidden', '403 forbidden', 'allowed', 'allowed'],
    [admin, '403 forbidden', 'allowed', '403 forbidden', 'allowed'],
    [stranger, '403 forbidden', '403 forbidden', '403 forbidden', '403 forbidden'],
  ])('%o', (caller, ...expected) => {
    expect(Object.values(decisions).map((decide) => answer(decide(caller, review)))).toEqual(expected);
    expect(Object.values(decisions).map((decide) => answer(decide(caller, undefined)))).toEqual(Object.values(decisions).map(() => '404 not_found'));
  });
});

describe('properties', () => {
  const listing = { host_id: 'host' };
  it.each([
    [guest, '403 forbidden', '403 forbidden'],
    [host, 'allowed', 'allowed'],
    [otherHost, 'allowed', '403 forbidden'],
    [admin, 'allowed', 'allowed'],
  ])('%o may list: %s; may manage this listing: %s', (caller, list, manage) => {
    expect(answer(mayListProperty(caller))).toBe(list);
    expect(answer(mayManageProperty(caller, listing))).toBe(manage);
    expect(answer(mayManageProperty(caller, undefined))).toBe('404 not_found');
  });
});

describe('users', () => {
  const account = { id: 'guest' };
  it.each([
    [guest, '403 forbidden', 'allowed', true, true],
    [stranger, '403 forbidden', '403 forbidden', false, false],
    [admin, 'allowed', 'allowed', false, true],
  ])('%o', (caller, list, manage, proves, contact) => {
    expect(answer(mayListUsers(caller))).toBe(list);
    expect(answer(mayManageAccount(caller, account))).toBe(manage);
    expect(answer(mayManageAccount(caller, undefined))).toBe('404 not_found');
    expect(mustProveCurrentPassword(caller, account)).toBe(proves);
    expect(maySeeContactDetails(caller, account)).toBe(contact);
  });

  it('shows contact details to nobody signed out, and an admin proves their own password too', () => {
    expect(maySeeContactDetails(null, account)).toBe(false);
    expect(mustProveCurrentPassword(admin, { id: 'admin' })).toBe(true);
  });
});

describe('conversations', () => {
  const thread = { guest_id: 'guest', host_id: 'host' };
  it.each([
    // caller, read, take part, participant, moderation read
    [guest, 'allowed', 'allowed', true, false],
    [host, 'allowed', 'allowed', true, false],
    [admin, 'allowed', '403 forbidden', false, true],
    [stranger, '404 not_found', '404 not_found', false, false],
    [otherHost, '404 not_found', '404 not_found', false, false],
  ])('%o', (caller, read, takePart, participant, moderation) => {
    expect(answer(mayReadConversation(caller, thread))).toBe(read);
    expect(answer(mayTakePartInConversation(caller, thread))).toBe(takePart);
    expect(isParticipant(caller, thread)).toBe(participant);
    expect(isModerationRead(caller, thread)).toBe(moderation);
    expect(answer(mayReadConversation(caller, undefined))).toBe('404 not_found');
    expect(answer(mayTakePartInConversation(caller, undefined))).toBe('404 not_found');
  });

  it('treats an admin who is a participant (they asked about a listing) as a participant, not a moderator', () => {
    const own = { guest_id: 'admin', host_id: 'host' };
    expect(answer(mayTakePartInConversation(admin, own))).toBe('allowed');
    expect(isModerationRead(admin, own)).toBe(false);
  });
});

describe('permit', () => {
  it('hands back what it allows and throws the refusal as the ApiError a client sees', () => {
    const booking = { guest_id: 'guest', host_id: 'host' };
    expect(permit(mayViewBooking(guest, booking))).toBe(booking);
    const refused = (() => {
      try {
        permit(mayChangeBooking(host, booking));
      } catch (err) {
        return err;
      }
    })();
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ code: 'forbidden', status: 403, message: 'Only the guest who booked may change a booking.' });
    expect(() => permit(mayViewBooking(stranger, booking))).toThrow(expect.objectContaining({ code: 'not_found', status: 404, message: 'No such booking.' }));
  });
});
