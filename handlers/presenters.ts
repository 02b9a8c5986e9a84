/**
 * Rows as the spec shows them: one explicit mapper per resource, so that a
 * column (a password hash, a lock's helper field) reaches a response only when
 * it is named here.
 */
import type { BookingRow } from '../db/bookings.js';
import type { ConversationRow, MessageRow } from '../db/conversations.js';
import type { PaymentRow, RefundRow } from '../db/payments.js';
import type { PropertyRow } from '../db/properties.js';
import type { ReviewRow } from '../db/reviews.js';
import type { UserRow } from '../db/users.js';
import type { Booking, Conversation, HostResponse, Message, Payment, PriceBreakdown, Property, Review, User } from '../generated/client/types.gen.js';
import type { AuthUser } from '../server/auth.js';
import { maySeeContactDetails } from './access.js';
import { reviewWindow } from './reviews/rules.js';

/** `hostResponse`: a host's answering, as getUser shows it on a host's profile (absent from other answers). */
export function userRowToUser(row: UserRow, viewer: AuthUser | null, hostResponse?: HostResponse): User {
  const user: User = {
    id: row.id,
    role: row.role,
    name: row.name,
    bio: row.bio,
    avatar_url: row.avatar_url,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
  if (maySeeContactDetails(viewer, row)) {
    user.email = row.email ?? undefined;
    user.phone = row.phone;
  }
  if (hostResponse !== undefined) user.host_response = hostResponse;
  return user;
}

export function propertyRowToProperty(row: PropertyRow & { distance_km?: number | null }): Property {
  return {
    id: row.id,
    host_id: row.host_id,
    name: row.name,
    description: row.description,
    city: row.city,
    country: row.country,
    latitude: row.latitude,
    longitude: row.longitude,
    price_per_night: row.price_per_night,
    currency: row.currency as Property['currency'],
    cleaning_fee: row.cleaning_fee,
    max_guests: row.max_guests,
    bedrooms: row.bedrooms,
    amenities: row.amenities,
    photos: row.photos,
    cancellation_policy: row.cancellation_policy,
    min_nights: row.min_nights,
    max_nights: row.max_nights,
    instant_book: row.instant_book,
    // Kept as integers in the database; the average is rounded to two decimals only here.
    rating_average: row.review_count > 0 ? Math.round((row.rating_sum * 100) / row.review_count) / 100 : null,
    review_count: row.review_count,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    ...(row.distance_km != null ? { distance_km: Math.round(row.distance_km * 1000) / 1000 } : {}),
  };
}

export function bookingRowToBooking(row: BookingRow): Booking {
  const currency = row.currency as PriceBreakdown['currency'];
  return {
    id: row.id,
    property_id: row.property_id,
    guest_id: row.guest_id,
    check_in: row.check_in,
    check_out: row.check_out,
    guests: row.guests,
    status: row.status,
    price: {
      nights: row.nights,
      nightly_rate: row.nightly_rate,
      subtotal: row.subtotal,
      cleaning_fee: row.cleaning_fee,
      service_fee: row.service_fee,
      total: row.total,
      currency,
    },
    expires_at: row.expires_at?.toISOString() ?? null,
    cancelled_at: row.cancelled_at?.toISOString() ?? null,
    cancelled_by: row.cancelled_by,
    cancellation_reason: row.cancellation_reason,
    refund:
      row.refund_amount === null || row.refund_status === null
        ? null
        : { amount: row.refund_amount, currency, status: row.refund_status },
    responded_at: row.responded_at?.toISOString() ?? null,
    decline_reason: row.decline_reason,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function paymentRowToPayment(row: PaymentRow, refunds: RefundRow[]): Payment {
  return {
    id: row.id,
    booking_id: row.booking_id,
    payer_id: row.payer_id,
    amount: row.amount,
    currency: row.currency as Payment['currency'],
    status: row.status,
    payment_method: row.payment_method,
    provider: row.provider,
    provider_reference: row.provider_reference,
    failure_code: row.failure_code,
    failure_message: row.failure_message,
    refunded_amount: row.refunded_amount,
    refunds: refunds.map((refund) => ({
      id: refund.id,
      amount: refund.amount,
      currency: refund.currency as Payment['currency'],
      reason: refund.reason,
      status: refund.status,
      provider_reference: refund.provider_reference,
      failure_code: refund.failure_code,
      created_at: refund.created_at.toISOString(),
      updated_at: refund.updated_at.toISOString(),
      succeeded_at: refund.succeeded_at?.toISOString() ?? null,
    })),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    succeeded_at: row.succeeded_at?.toISOString() ?? null,
    failed_at: row.failed_at?.toISOString() ?? null,
    refunded_at: row.refunded_at?.toISOString() ?? null,
  };
}

/** `windowDays`: the deployment's review window, from which `editable_until` follows. */
export function reviewRowToReview(row: ReviewRow, windowDays: number): Review {
  return {
    id: row.id,
    booking_id: row.booking_id,
    property_id: row.property_id,
    author_id: row.author_id,
    author_name: row.author_name,
    rating: row.rating,
    comment: row.comment,
    host_reply:
      row.host_reply === null || row.host_replied_at === null || row.host_reply_updated_at === null
        ? null
        : { comment: row.host_reply, created_at: row.host_replied_at.toISOString(), updated_at: row.host_reply_updated_at.toISOString() },
    editable_until: reviewWindow(row.check_out, windowDays, row.today).lastDay,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function messageRowToMessage(row: MessageRow): Message {
  return {
    id: row.id,
    conversation_id: row.conversation_id,
    sender_id: row.sender_id,
    body: row.body,
    created_at: row.created_at.toISOString(),
  };
}

/** A thread as its viewer sees it: their unread count and read marker (0 and null for an admin's moderation read). */
export function conversationRowToConversation(row: ConversationRow): Conversation {
  return {
    id: row.id,
    property_id: row.property_id,
    guest_id: row.guest_id,
    host_id: row.host_id,
    booking_id: row.booking_id,
    last_message:
      row.last_message_id && row.last_message_sender_id && row.last_message_body !== null && row.last_message_created_at
        ? messageRowToMessage({
            id: row.last_message_id,
            conversation_id: row.id,
            sender_id: row.last_message_sender_id,
            body: row.last_message_body,
            created_at: row.last_message_created_at,
          })
        : null,
    unread_count: row.unread_count,
    last_read_at: row.last_read_at?.toISOString() ?? null,
    blocked_by: row.blocked_by,
    created_at: row.created_at.toISOString(),
    updated_at: row.last_activity_at.toISOString(),
  };
}
