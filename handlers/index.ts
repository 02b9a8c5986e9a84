/**
 * Every operation of the spec, keyed by operationId. The `Handlers` type makes a
 * missing operation a compile error; server/api.ts refuses to start on one too.
 */
import type { Handlers } from '../server/operations.js';
import { authHandlers } from './auth.js';
import { bookingHandlers } from './bookings.js';
import { conversationHandlers } from './conversations.js';
import { paymentHandlers } from './payments.js';
import { propertyHandlers } from './properties.js';
import { reviewHandlers } from './reviews.js';
import { userHandlers } from './users.js';

export const handlers: Handlers = {
  ...userHandlers,
  ...authHandlers,
  ...propertyHandlers,
  ...bookingHandlers,
  ...paymentHandlers,
  ...reviewHandlers,
  ...conversationHandlers,
};
