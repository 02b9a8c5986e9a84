/**
 * Every migration, in a static record. Kysely's FileMigrationProvider reads
 * the folder at run time and fails under vitest (`Unknown file extension
 * ".ts"`); imports work everywhere. Add each new migration here.
 */
import type { Migration } from 'kysely/migration';
import * as usersAndSessions from './2026-11-24T1200-users-and-sessions.js';
import * as properties from './2026-11-24T1210-properties.js';
import * as bookings from './2026-11-26T0900-bookings.js';
import * as payments from './2026-11-26T1000-payments.js';
import * as reviews from './2026-11-26T1100-reviews.js';
import * as notificationClaims from './2026-11-30T1200-notification-claims.js';
import * as settlementChecks from './2026-11-30T1300-settlement-checks.js';
import * as searchIndexes from './2026-11-30T1400-search-indexes.js';
import * as requestToBook from './2026-12-01T0900-request-to-book.js';
import * as wishlists from './2026-12-01T1100-wishlists.js';
import * as conversations from './2026-12-01T1000-conversations.js';
import * as conversationActivity from './2026-12-01T1200-conversation-activity.js';

export const migrations: Record<string, Migration> = {
  '2026-11-24T1200-users-and-sessions': usersAndSessions,
  '2026-11-24T1210-properties': properties,
  '2026-11-26T0900-bookings': bookings,
  '2026-11-26T1000-payments': payments,
  '2026-11-26T1100-reviews': reviews,
  '2026-11-30T1200-notification-claims': notificationClaims,
  '2026-11-30T1300-settlement-checks': settlementChecks,
  '2026-11-30T1400-search-indexes': searchIndexes,
  '2026-12-01T0900-request-to-book': requestToBook,
  '2026-12-01T1100-wishlists': wishlists,
  '2026-12-01T1000-conversations': conversations,
  '2026-12-01T1200-conversation-activity': conversationActivity,
};
