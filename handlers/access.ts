/**
 * Who may see, change, pay for or review what: every such decision of the API,
 * each a named function of the caller and the thing asked about. GraphQL runs
 * the same handlers, so these decide for it too.
 *
 * A decision is allowed (with the thing, narrowed), not found, or forbidden.
 * What the caller may not even see answers not_found, exactly as if it did not
 * exist, so that ids cannot be probed; forbidden is kept for what the caller can
 * see but not do. `permit` turns a refusal into the ApiError a client gets.
 */
import type { AuthUser } from '../server/auth.js';
import { ApiError } from '../server/errors.js';

export type Access<T> = { allowed: true; subject: T } | { allowed: false; code: 'not_found' | 'forbidden'; detail: string };

const allow = <T>(subject: T): Access<T> => ({ allowed: true, subject });
const notFound = (detail: string) => ({ allowed: false, code: 'not_found', detail }) as const;
const forbidden = (detail: string) => ({ allowed: false, code: 'forbidden', detail }) as const;

/** The thing when the decision allows it; otherwise the refusal, thrown as the client will see it. */
export function permit<T>(access: Access<T>): T {
  if (!access.allowed) throw new ApiError(access.code, access.detail);
  return access.subject;
}

export function isAdmin(auth: AuthUser | null): boolean {
  return auth?.role === 'admin';
}

// Bookings ---------------------------------------------------------------------

/** A booking with the parties to it: its guest and its listing's host. */
interface BookingParties {
  guest_id: string;
  host_id: string;
}

const NO_SUCH_BOOKING = 'No such booking.';

function seesBooking(auth: AuthUser, booking: BookingParties): boolean {
  return booking.guest_id === auth.id || booking.host_id === auth.id || isAdmin(auth);
}

/** Its guest, the host of its listing and admins see a booking; to anyone else it does not exist. */
export function mayViewBooking<B extends BookingParties>(auth: AuthUser, booking: B | undefined): Access<B> {
  return booking && seesBooking(auth, booking) ? allow(booking) : notFound(NO_SUCH_BOOKING);
}

/** Whoever sees a booking may cancel it: its guest, its host, an admin (the refund depends on which: cancellingParty). */
export function mayCancelBooking<B extends BookingParties>(auth: AuthUser, booking: B | undefined): Access<B> {
  return mayViewBooking(auth, booking);
}

/** Only the guest who booked changes a booking's dates or party. */
export function mayChangeBooking<B extends BookingParties>(auth: AuthUser, booking: B | undefined): Access<B> {
  if (!booking || !seesBooking(auth, booking)) return notFound(NO_SUCH_BOOKING);
  return booking.guest_id === auth.id ? allow(booking) : forbidden('Only the guest who booked may change a booking.');
}

/** Only the booking's guest pays for it. */
export function mayPayForBooking<B extends BookingParties>(auth: AuthUser, booking: B | undefined): Access<B> {
  if (!booking || !seesBooking(auth, booking)) return notFound(NO_SUCH_BOOKING);
  return booking.guest_id === auth.id ? allow(booking) : forbidden("Only the booking's guest may pay for it.");
}

/** Only the guest who stayed reviews a stay. */
export function mayReviewBooking<B extends BookingParties>(auth: AuthUser, booking: B | undefined): Access<B> {
  if (!booking || !seesBooking(auth, booking)) return notFound(NO_SUCH_BOOKING);
  return booking.guest_id === auth.id ? allow(booking) : forbidden('Only the guest who stayed may review a stay.');
}

/**
 * Only the host of its listing accepts or declines a booking request: the guest
 * and an admin see it but may not answer it (forbidden); to anyone else it does not exist.
 */
export function mayAnswerBookingRequest<B extends BookingParties>(auth: AuthUser, booking: B | undefined): Access<B> {
  if (!booking || !seesBooking(auth, booking)) return notFound(NO_SUCH_BOOKING);
  return booking.host_id === auth.id ? allow(booking) : forbidden("Only the listing's host may accept or decline a booking request.");
}

/**
 * Who a cancellation counts as, for the refund policy: the guest cancelling their
 * own stay, or the host or an admin (an admin cancelling a stay they booked
 * themself acts as an admin).
 */
export function cancellingParty(auth: AuthUser, booking: BookingParties): 'guest' | 'host_or_admin' {
  return booking.guest_id === auth.id && !isAdmin(auth) ? 'guest' : 'host_or_admin';
}

/** Which bookings a list shows: an admin's all, anyone else's their stays as guest, or as host with role=host. */
export function bookingsVisibleTo(auth: AuthUser, role: 'guest' | 'host' | undefined): { guestId?: string; hostId?: string } {
  if (isAdmin(auth)) return {};
  return role === 'host' ? { hostId: auth.id } : { guestId: auth.id };
}

// Payments ---------------------------------------------------------------------

/** Its payer and admins see a payment; to anyone else it does not exist. */
export function mayViewPayment<P extends { payer_id: string }>(auth: AuthUser, payment: P | undefined): Access<P> {
  return payment && (payment.payer_id === auth.id || isAdmin(auth)) ? allow(payment) : notFound('No such payment.');
}

/** Which payments a list shows: an admin's all, anyone else's their own. */
export function paymentsVisibleTo(auth: AuthUser): { payerId?: string } {
  return isAdmin(auth) ? {} : { payerId: auth.id };
}

// Reviews ----------------------------------------------------------------------

/** A review with its author and its listing's host. Reviews are public: only changing one is decided here. */
interface ReviewParties {
  author_id: string;
  host_id: string;
}

const NO_SUCH_REVIEW = 'No such review.';

export type ReviewDecision = <R extends ReviewParties>(auth: AuthUser, review: R | undefined) => Access<R>;

/** Only its author edits a review. */
export const mayEditReview: ReviewDecision = (auth, review) => {
  if (!review) return notFound(NO_SUCH_REVIEW);
  return review.author_id === auth.id ? allow(review) : forbidden('Only its author may edit a review.');
};

/** Its author or an admin deletes a review. */
export const mayDeleteReview: ReviewDecision = (auth, review) => {
  if (!review) return notFound(NO_SUCH_REVIEW);
  return review.author_id === auth.id || isAdmin(auth) ? allow(review) : forbidden('Only its author or an admin may delete a review.');
};

/** Only the listing's host replies to its reviews. */
export const mayReplyToReview: ReviewDecision = (auth, review) => {
  if (!review) return notFound(NO_SUCH_REVIEW);
  return review.host_id === auth.id ? allow(review) : forbidden("Only the listing's host may reply to its reviews.");
};

/** The listing's host or an admin removes a reply. */
export const mayRemoveReviewReply: ReviewDecision = (auth, review) => {
  if (!review) return notFound(NO_SUCH_REVIEW);
  return review.host_id === auth.id || isAdmin(auth) ? allow(review) : forbidden("Only the listing's host or an admin may remove a reply.");
};

// Properties -------------------------------------------------------------------

/** Hosts and admins list properties; guests do not. */
export function mayListProperty(auth: AuthUser): Access<AuthUser> {
  return auth.role === 'guest' ? forbidden('Only hosts and admins may list properties.') : allow(auth);
}

/** The listing's host or an admin changes, withdraws or blocks nights of a listing (anyone may see a listed one). */
export function mayManageProperty<P extends { host_id: string }>(auth: AuthUser, listing: P | undefined): Access<P> {
  if (!listing) return notFound('No such property.');
  return listing.host_id === auth.id || isAdmin(auth) ? allow(listing) : forbidden("Only the listing's host or an admin may change it.");
}

// Users ------------------------------------------------------------------------

/** Only admins list users. */
export function mayListUsers(auth: AuthUser): Access<AuthUser> {
  return isAdmin(auth) ? allow(auth) : forbidden('Only admins may list users.');
}

/** The user themself or an admin changes or deletes an account (profiles are public). */
export function mayManageAccount<U extends { id: string }>(auth: AuthUser, user: U | undefined): Access<U> {
  if (!user) return notFound('No such user.');
  return user.id === auth.id || isAdmin(auth) ? allow(user) : forbidden('Only the user themself or an admin may do this.');
}

/** Everyone proves they know their own password to change it; an admin resets another user's without it. */
export function mustProveCurrentPassword(auth: AuthUser, user: { id: string }): boolean {
  return user.id === auth.id;
}

/** A profile's email and phone are seen by the user themself and admins only. */
export function maySeeContactDetails(viewer: AuthUser | null, user: { id: string }): boolean {
  return viewer !== null && (viewer.id === user.id || isAdmin(viewer));
}

// Conversations ----------------------------------------------------------------

/** A thread with its two participants: the guest and the listing's host. */
interface ConversationParties {
  guest_id: string;
  host_id: string;
}

const NO_SUCH_CONVERSATION = 'No such conversation.';

export function isParticipant(auth: AuthUser, conversation: ConversationParties): boolean {
  return conversation.guest_id === auth.id || conversation.host_id === auth.id;
}

/** Its guest and its host read a thread, and admins for moderation (a read that is recorded: isModerationRead); to anyone else it does not exist. */
export function mayReadConversation<C extends ConversationParties>(auth: AuthUser, conversation: C | undefined): Access<C> {
  return conversation && (isParticipant(auth, conversation) || isAdmin(auth)) ? allow(conversation) : notFound(NO_SUCH_CONVERSATION);
}

/** An admin reading a thread they are not part of: the read is written down. */
export function isModerationRead(auth: AuthUser, conversation: ConversationParties): boolean {
  return isAdmin(auth) && !isParticipant(auth, conversation);
}

/** Only its participants write in a thread, mark it read or block it; an admin who may read it may not speak in it. */
export function mayTakePartInConversation<C extends ConversationParties>(auth: AuthUser, conversation: C | undefined): Access<C> {
  if (!conversation || !(isParticipant(auth, conversation) || isAdmin(auth))) return notFound(NO_SUCH_CONVERSATION);
  return isParticipant(auth, conversation) ? allow(conversation) : forbidden('Admins read conversations for moderation; only its guest and host take part in one.');
}
