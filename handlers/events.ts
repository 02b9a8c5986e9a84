/**
 * The live events stream (`GET /events`, Server-Sent Events): the caller's own
 * events only (server/events.ts delivers each user's to that user's streams), first
 * what came after `Last-Event-ID`, then the live ones. The body is a stream that
 * Koa pipes to the socket as it is written; it ends when the client goes away,
 * when the session ends (checked at each heartbeat), or when the server shuts down
 * (events.endAll()).
 */
import { PassThrough } from 'node:stream';
import { findBookingById } from '../db/bookings.js';
import { publishWith, type LiveEvent } from '../server/events.js';
import { assertStreamAllowed } from '../server/limits.js';
import { caller, type Deps, type RequestContext, type ResourceHandlers } from '../server/operations.js';
import { toldOfBookingChanges } from './access.js';
import { bookingRowToBooking } from './presenters.js';

/** The reconnect delay a client's EventSource is told (`retry:`), in milliseconds. */
export const RETRY_MS = 3000;

/** What may wait, unread by a slow client, before its stream is ended. */
const MAX_UNREAD_BYTES = 1024 * 1024;

function frame(event: LiveEvent & { id: string } | { id?: undefined; type: 'reset'; data: Record<string, never> }): string {
  return `${event.id ? `id: ${event.id}\n` : ''}event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

export const eventHandlers: ResourceHandlers<'streamEvents'> = {
  async streamEvents(input, ctx) {
    const user = caller(ctx);
    const { deps } = ctx;
    // Checked and then counted (subscribe registers before its first await) in one turn of the event loop.
    assertStreamAllowed(deps.config, { mine: deps.events.following(user.id), all: deps.events.following() });
    const body = new PassThrough();
    let stop: (() => void) | undefined;
    let heartbeat: NodeJS.Timeout | undefined;
    let ended = false;
    /**
     * Writes unless the stream has ended (the client went away, or the server ended it). A client
     * that does not read what it is sent is cut off rather than buffered for without bound: it
     * reconnects with Last-Event-ID and is sent what it missed from the backlog.
     */
    const send = (text: string) => {
      if (ended || body.destroyed) return;
      if (body.writableLength > MAX_UNREAD_BYTES) return end();
      body.write(text);
    };
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      stop?.();
      body.end();
    };
    // The client went away (Koa destroys the body when the response closes).
    body.once('close', end);
    body.write(`retry: ${RETRY_MS}\n: connected\n\n`);
    stop = await deps.events.subscribe(user.id, (event) => send(frame(event)), {
      lastEventId: input.headers['last-event-id'],
      onGap: () => send(frame({ type: 'reset', data: {} })),
      onEnd: end,
    });
    if (ended) stop();
    heartbeat = setInterval(() => {
      send(': heartbeat\n\n');
      // Signed out, expired or deleted: the stream ends with the session (a store failure keeps it open).
      deps.sessions.resolve(user.token).then((session) => {
        if (!session) end();
      }, () => undefined);
    }, deps.config.liveHeartbeatSeconds * 1000);
    heartbeat.unref();
    return {
      status: 200,
      body: body as unknown as string,
      headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' },
    };
  },
};

/**
 * After a booking's change has committed: its guest and its listing's host are told
 * (`booking.updated`, the booking as getBooking shows it). Read again after commit, so
 * the event carries what the change left, whoever wrote it. Never throws.
 */
export async function publishBookingUpdated(ctx: RequestContext, bookingId: string): Promise<void> {
  await announceBooking(ctx.deps, bookingId, ctx.requestId);
}

/** The same where there is no request (a background job): with the process's database, events and log. */
export async function announceBooking(deps: Pick<Deps, 'db' | 'events' | 'log'>, bookingId: string, requestId?: string): Promise<void> {
  try {
    const row = await findBookingById(deps.db, bookingId);
    if (!row) return;
    await publishWith(deps, toldOfBookingChanges(row), { type: 'booking.updated', data: bookingRowToBooking(row) as unknown as Record<string, unknown> }, requestId);
  } catch (err) {
    deps.log({ level: 'error', ...(requestId ? { request_id: requestId } : {}), message: 'could not publish a booking change', booking_id: bookingId, error: String(err) });
  }
}
