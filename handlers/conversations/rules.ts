/**
 * The rules of conversations, as plain functions of their inputs: what a
 * message's text may be (the spec's MessageBody pattern and the database's
 * messages_body_check say the same), who may start a thread about a listing,
 * when a thread takes no more messages, and how a host's response numbers are
 * rounded for their profile.
 */
import { ApiError } from '../../server/errors.js';
import type { HostResponse } from '../../generated/client/types.gen.js';

export const MESSAGE_MAX_LENGTH = 4000;

/** Control characters a message may not hold: all but tab and newline. */
const FORBIDDEN = /[\u0000-\u0008\u000B-\u001F\u007F]/;

/** Why a message's text is refused, or undefined when it is fine: 1 to 4000 characters (code points), not blank, no control characters but tab and newline. */
export function messageTextProblem(text: string): string | undefined {
  const length = [...text].length;
  if (length < 1 || text.trim() === '') return 'must not be blank';
  if (length > MESSAGE_MAX_LENGTH) return `must be at most ${MESSAGE_MAX_LENGTH} characters`;
  if (FORBIDDEN.test(text)) return 'must not contain control characters other than tab and newline';
  return undefined;
}

/** A listing's own host does not start a thread with themself about it (422 own_listing). */
export function startRefusal(listing: { host_id: string }, callerId: string): ApiError | undefined {
  return listing.host_id === callerId
    ? new ApiError('own_listing', 'You host this listing; guests start conversations about it with you.')
    : undefined;
}

/** While either participant blocks the other, no message goes either way (403 conversation_blocked). */
export function sendRefusal(blocked: boolean, callerBlocks: boolean): ApiError | undefined {
  if (!blocked) return undefined;
  return new ApiError(
    'conversation_blocked',
    callerBlocks
      ? 'You have blocked this conversation; unblock it to send messages again.'
      : 'A participant has blocked this conversation; no new messages can be sent in it.',
  );
}

/** A host's answering as their profile shows it: a whole percent and whole minutes (rounded), or null without any thread. */
export function hostResponse(counts: { conversations: number; answered: number; median_seconds: number | null } | undefined): HostResponse {
  if (!counts || counts.conversations === 0) return null;
  return {
    conversations: counts.conversations,
    response_rate: Math.round((counts.answered * 100) / counts.conversations),
    median_response_minutes: counts.median_seconds === null ? null : Math.round(counts.median_seconds / 60),
  };
}
