/**
 * Live events: what a signed-in user's open streams are told without polling
 * (a new message, a conversation read, a booking's status changed).
 *
 * Writers publish after their transaction has committed, to the users the
 * change concerns; publishing never fails the request (the change is already
 * committed and the REST reads remain the truth), it is logged instead.
 *
 * This module is the one door for publishing; how events travel between
 * processes (Redis) and reach a stream is its business, not the writers'.
 */
import type { RequestContext } from './operations.js';

/** The kinds of live event; their `data` is the spec's shape of the thing that changed. */
export type LiveEventType = 'message.created' | 'conversation.read' | 'booking.updated';

export interface LiveEvent {
  type: LiveEventType;
  /** As the API presents it (a Message, a read marker, a Booking): what the recipient may see. */
  data: Record<string, unknown>;
}

export type LiveEventListener = (event: LiveEvent & { id: string }) => void;

export interface LiveEvents {
  /** Delivers `event` to every open stream of each of `userIds`, in this process and others. */
  publish(userIds: readonly string[], event: LiveEvent): Promise<void>;
  /** Follows one user's events; returns the function that stops following. */
  subscribe(userId: string, listener: LiveEventListener): Promise<() => void>;
  close(): Promise<void>;
}

/** One process's events, without Redis (the embedded default): streams of this process only. */
export function createLocalEvents(): LiveEvents {
  const listeners = new Map<string, Set<LiveEventListener>>();
  let sequence = 0;
  return {
    async publish(userIds, event) {
      const id = `${Date.now()}-${sequence++}`;
      for (const userId of new Set(userIds)) {
        for (const listener of listeners.get(userId) ?? []) listener({ ...event, id });
      }
    },
    async subscribe(userId, listener) {
      const set = listeners.get(userId) ?? new Set();
      set.add(listener);
      listeners.set(userId, set);
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(userId);
      };
    },
    async close() {
      listeners.clear();
    },
  };
}

/** Publishes after commit; a failure is logged, never thrown (the change it announces has committed). */
export async function publishEvent(ctx: RequestContext, userIds: readonly string[], event: LiveEvent): Promise<void> {
  try {
    await ctx.deps.events.publish(userIds, event);
  } catch (err) {
    ctx.deps.log({ level: 'error', request_id: ctx.requestId, message: 'could not publish a live event', type: event.type, error: String(err) });
  }
}
