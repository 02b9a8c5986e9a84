/**
 * Live events (`GET /events`, Server-Sent Events) against real PostgreSQL and Redis:
 * two server processes on one database and one Redis, as a deployment runs them, so
 * an event published through one reaches a stream opened on the other; reconnecting
 * with Last-Event-ID is sent exactly what was missed; nobody hears another user's
 * events; the per-user stream limit; a signed-out session ends its stream; a
 * shutdown ends open streams at once. Streams are read with plain fetch
 * (test/support/sse.ts). Redis outages are in events-outage.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import type { Booking } from '../generated/client/types.gen.js';
import { createBooking, createProperty, createUser, expectData, fromToday, payStay, type Account } from './support/factories.js';
import { eventsOf, expectNoMoreEvents, openEventStream, type EventStream } from './support/sse.js';
import { eventually, redisUrl, testEnvironment, type TestEnvironment, type TestServer } from './support/server.js';

let env: TestEnvironment;
/** Two processes-alike on one database and one Redis. */
let one: TestServer;
let two: TestServer;
const open: EventStream[] = [];

beforeAll(async () => {
  env = await testEnvironment();
  one = await env.start({ liveMaxStreams: 3, liveHeartbeatSeconds: 1 });
  two = await env.start({ liveMaxStreams: 3, liveHeartbeatSeconds: 1 });
});
afterAll(async () => {
  for (const stream of open) stream.close();
  await env?.close();
});

async function follow(server: TestServer, account: Account | undefined, lastEventId?: string): Promise<EventStream> {
  const stream = await openEventStream(server.url, account?.token, { lastEventId });
  open.push(stream);
  return stream;
}

/** The stream has told the server it is listening: its first frame has come. */
async function following(server: TestServer, account: Account, lastEventId?: string): Promise<EventStream> {
  const stream = await follow(server, account, lastEventId);
  expect(stream.status).toBe(200);
  await stream.waitFor((frame) => frame.comments.includes('connected'));
  return stream;
}

describe('opening a stream', () => {
  it('answers 200 text/event-stream, no-store and unbuffered, with a retry hint first and heartbeats after', async () => {
    const guest = await createUser(one.client);
    const stream = await following(one, guest);
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers.get('cache-control')).toBe('no-store');
    expect(stream.headers.get('x-accel-buffering')).toBe('no');
    expect(stream.headers.get('x-request-id')).toBeTruthy();
    expect(stream.frames[0]).toMatchObject({ retry: 3000, comments: ['connected'] });
    // LIVE_HEARTBEAT_SECONDS=1 on these servers.
    await stream.waitFor((frame) => frame.comments.includes('heartbeat'), 3000);
    expect(stream.events()).toEqual([]);
    stream.close();
  });

  it('refuses a caller that is not signed in (401) and a malformed Last-Event-ID (400)', async () => {
    const anonymous = await follow(one, undefined);
    expect(anonymous.status).toBe(401);
    expect(anonymous.problem).toMatchObject({ code: 'unauthenticated' });
    const guest = await createUser(one.client);
    const malformed = await openEventStream(one.url, guest.token, { lastEventId: 'yesterday' });
    expect(malformed.status).toBe(400);
    expect(malformed.problem).toMatchObject({ code: 'validation_failed' });
  });

  it('is in the generated client: streamEvents yields the events as they come', async () => {
    const guest = await createUser(one.client);
    const controller = new AbortController();
    const received: unknown[] = [];
    const { stream } = await api.streamEvents({ client: two.client, auth: guest.token, signal: controller.signal, sseMaxRetryAttempts: 1 });
    const reading = (async () => {
      try {
        for await (const data of stream) {
          received.push(data);
          if (received.length === 1) break;
        }
      } catch {
        // aborted
      }
    })();
    await eventually(async () => expect(one.deps.events.following(guest.id) + two.deps.events.following(guest.id)).toBe(1));
    await one.deps.events.publish([guest.id], { type: 'booking.updated', data: { hello: 'world' } });
    await reading;
    controller.abort();
    expect(received).toEqual([{ hello: 'world' }]);
  });
});

describe('delivery', () => {
  let guest: Account;
  let stranger: Account;
  let booking: Booking & { guest: Account };
  let host: Account;

  beforeAll(async () => {
    guest = await createUser(one.client);
    stranger = await createUser(one.client);
    const property = await createProperty(one.client);
    host = property.host;
    booking = await createBooking(one.client, { guest, property, stay: { check_in: fromToday(40), check_out: fromToday(43) } });
  });

  it('tells the guest (a stream on another process) and the host of a booking change made on one process, and nobody else', async () => {
    const guestStream = await following(two, guest);
    const hostStream = await following(one, host);
    const strangerStream = await following(two, stranger);

    const changed = expectData('updateBooking', await api.updateBooking({ client: one.client, auth: guest.token, path: { booking_id: booking.id }, body: { guests: 3 } }));
    const [toGuest] = eventsOf(await guestStream.waitForEvents(1));
    const [toHost] = eventsOf(await hostStream.waitForEvents(1));
    expect(toGuest).toMatchObject({ type: 'booking.updated', data: { id: booking.id, guests: 3, status: 'pending' } });
    expect(toGuest!.data).toEqual(JSON.parse(JSON.stringify(changed)));
    // Each user's events have ids of their own (a stream per user): the same change, its own id.
    expect(toHost).toEqual({ ...toGuest, id: expect.stringMatching(/^\d+-\d+$/) });
    expect(toGuest!.id).toMatch(/^\d+-\d+$/);

    // Paying confirms it: both are told again, on whichever process they follow.
    await payStay(one, booking);
    const [, confirmed] = eventsOf(await guestStream.waitForEvents(2));
    expect(confirmed).toMatchObject({ type: 'booking.updated', data: { id: booking.id, status: 'confirmed' } });
    expect(eventsOf(await hostStream.waitForEvents(2))[1]).toEqual({ ...confirmed, id: expect.any(String) });

    // The host cancels through the other process.
    expectData('cancelBooking', await api.cancelBooking({ client: two.client, auth: host.token, path: { booking_id: booking.id }, body: { reason: 'Burst pipe' } }));
    const [, , cancelled] = eventsOf(await guestStream.waitForEvents(3));
    expect(cancelled).toMatchObject({ type: 'booking.updated', data: { id: booking.id, status: 'cancelled', cancellation_reason: 'Burst pipe' } });
    expect(eventsOf(await hostStream.waitForEvents(3))[2]).toEqual({ ...cancelled, id: expect.any(String) });

    // Ids grow, each event once.
    const ids = guestStream.events().map((frame) => frame.id!);
    expect(new Set(ids).size).toBe(3);
    expect([...ids].sort(compareIds)).toEqual(ids);
    await expectNoMoreEvents(strangerStream);
    expect(strangerStream.events()).toEqual([]);
    for (const stream of [guestStream, hostStream, strangerStream]) stream.close();
  });

  it('tells guest and host when a background job confirms a booking (a payment whose outcome was unknown)', async () => {
    const other = await createBooking(one.client, { guest, stay: { check_in: fromToday(50), check_out: fromToday(52) } });
    const stream = await following(two, guest);
    // A payment the provider did not answer for: the follow-up job asks again with its key, and the answer confirms.
    const payment = await one.deps.db.insertInto('payments').values({
      id: randomUUID(), booking_id: other.id, payer_id: guest.id, amount: other.price.total, currency: other.price.currency,
      payment_method: 'pm_card_visa', provider: one.deps.payments.name, provider_idempotency_key: `follow-up-${randomUUID()}`,
    }).returning('id').executeTakeFirstOrThrow();
    await one.deps.jobs.enqueue([{ name: 'follow-up-payment', id: payment.id }]);
    const [confirmed] = eventsOf(await stream.waitForEvents(1));
    expect(confirmed).toMatchObject({ type: 'booking.updated', data: { id: other.id, status: 'confirmed' } });
    stream.close();
  });

  it('keeps the backlog in Redis under the key prefix, bounded and expiring', async () => {
    const probe = new Redis(redisUrl);
    try {
      const key = `${env.redisKeyPrefix}events:${guest.id}`;
      // Each booking's creation, the three changes of the first booking and the confirmation of the second.
      expect(await probe.xlen(key)).toBe(6);
      const ttl = await probe.ttl(key);
      expect(ttl).toBeGreaterThan(3500);
      expect(ttl).toBeLessThanOrEqual(3600);
      expect(await probe.exists(`${env.redisKeyPrefix}events:${stranger.id}`)).toBe(0);
    } finally {
      probe.disconnect();
    }
  });
});

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
}

describe('reconnecting with Last-Event-ID', () => {
  it('sends exactly the events missed, then the live ones, without duplicates', async () => {
    const user = await createUser(one.client);
    const first = await following(one, user);
    await one.deps.events.publish([user.id], { type: 'booking.updated', data: { n: 1 } });
    const [seen] = await first.waitForEvents(1);
    first.close();
    // Missed while away, published through both processes.
    await two.deps.events.publish([user.id], { type: 'booking.updated', data: { n: 2 } });
    await one.deps.events.publish([user.id], { type: 'message.created', data: { n: 3 } });

    const again = await following(two, user, seen!.id);
    await one.deps.events.publish([user.id], { type: 'conversation.read', data: { n: 4 } });
    const events = eventsOf(await again.waitForEvents(3));
    expect(events.map((event) => [event.type, event.data.n])).toEqual([['booking.updated', 2], ['message.created', 3], ['conversation.read', 4]]);
    await expectNoMoreEvents(again);
    again.close();
  });

  it('has no gap and no duplicate when it reconnects while events are being published', async () => {
    const user = await createUser(one.client);
    const published: string[] = [];
    let publishing = true;
    const publisher = (async () => {
      for (let n = 0; publishing || n < 20; n++) {
        await (n % 2 ? one : two).deps.events.publish([user.id], { type: 'message.created', data: { n } });
        published.push(String(n));
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    const first = await following(one, user);
    const before = await first.waitForEvents(5);
    first.close();
    const last = before.at(-1)!;
    const again = await following(two, user, last.id);
    await again.waitForEvents(10);
    publishing = false;
    await publisher;
    const total = Number(published.at(-1)) + 1;
    const lastN = Number(JSON.parse(last.data!).n);
    const events = eventsOf(await again.waitForEvents(total - lastN - 1));
    expect(events.map((event) => event.data.n)).toEqual(Array.from({ length: total - lastN - 1 }, (_, i) => lastN + 1 + i));
    again.close();
  });

  it('gets, on a fresh stream, every event published after it opened, even while the stream was subscribing', async () => {
    const user = await createUser(one.client);
    const started: number[] = [];
    let publishing = true;
    const publisher = (async () => {
      for (let n = 0; publishing; n++) {
        started[n] = performance.now();
        await (n % 2 ? one : two).deps.events.publish([user.id], { type: 'message.created', data: { n } });
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 30));
    const stream = await follow(two, user);
    await stream.waitFor((frame) => frame.comments.includes('connected'));
    const openedAt = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 100));
    publishing = false;
    await publisher;
    const after = started.flatMap((time, n) => (time > openedAt ? [n] : []));
    expect(after.length).toBeGreaterThan(0);
    const last = started.length - 1;
    await stream.waitFor((frame) => frame.data !== undefined && JSON.parse(frame.data).n === last);
    const events = eventsOf(stream.events());
    const received = events.map((event) => event.data.n as number);
    // Contiguous (no gap, no duplicate), and nothing published after the stream opened is missing.
    expect(received).toEqual(Array.from({ length: received.length }, (_, i) => received[0]! + i));
    expect(received).toEqual(expect.arrayContaining(after));
    stream.close();
  });

  it('starts with a reset event when events after Last-Event-ID are no longer kept', async () => {
    const user = await createUser(one.client);
    await one.deps.events.publish([user.id], { type: 'booking.updated', data: { n: 1 } });
    // An id older than anything kept: what came between may be gone.
    const stream = await following(two, user, '1-0');
    const events = eventsOf(await stream.waitForEvents(2));
    expect(events).toEqual([{ id: undefined, type: 'reset', data: {} }, expect.objectContaining({ type: 'booking.updated', data: { n: 1 } })]);
    stream.close();
  });
});

describe('limits and endings', () => {
  it('refuses one stream more than LIVE_MAX_STREAMS per user on a process (429), and takes one again after a close', async () => {
    const user = await createUser(one.client);
    const streams = [await following(one, user), await following(one, user), await following(one, user)];
    const refused = await follow(one, user);
    expect(refused.status).toBe(429);
    expect(refused.problem).toMatchObject({ code: 'rate_limited' });
    expect(refused.headers.get('retry-after')).toBe('1');
    // Another user, and the same user on another process, are not counted against it.
    expect((await following(one, await createUser(one.client))).status).toBe(200);
    expect((await following(two, user)).status).toBe(200);
    streams[0]!.close();
    await eventually(async () => expect(one.deps.events.following(user.id)).toBe(2));
    expect((await following(one, user)).status).toBe(200);
  });

  it('refuses a stream past LIVE_MAX_STREAMS_PER_PROCESS of all accounts with 503 and Retry-After, and takes one again after a close', async () => {
    const full = await env.start({ liveMaxStreamsPerProcess: 2, liveHeartbeatSeconds: 1 });
    const [first, second, third] = [await createUser(full.client), await createUser(full.client), await createUser(full.client)];
    const streams = [await following(full, first), await following(full, second)];

    const refused = await follow(full, third);

    expect(refused.status).toBe(503);
    expect(refused.problem).toMatchObject({ code: 'service_unavailable' });
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(full.deps.events.following()).toBe(2);
    // What an operator sees coming: the open streams on the process's metrics.
    const metrics = await (await fetch(new URL('/metrics', full.url))).text();
    expect(metrics).toMatch(/^staybook_live_streams 2$/m);
    // Another process is not full.
    expect((await following(one, third)).status).toBe(200);
    streams[0]!.close();
    await eventually(async () => expect(full.deps.events.following()).toBe(1));
    expect((await following(full, third)).status).toBe(200);
  });

  it('ends the stream at the next heartbeat once its session is signed out', async () => {
    const user = await createUser(one.client);
    const stream = await following(two, user);
    await api.logout({ client: one.client, auth: user.token });
    const started = performance.now();
    await stream.ended;
    expect(performance.now() - started).toBeLessThan(3000);
    await eventually(async () => expect(two.deps.events.following(user.id)).toBe(0));
  });

  it('stops following when the client goes away', async () => {
    const user = await createUser(one.client);
    const stream = await following(one, user);
    expect(one.deps.events.following(user.id)).toBe(1);
    stream.close();
    await eventually(async () => expect(one.deps.events.following(user.id)).toBe(0));
  });

  it('ends open streams at once on shutdown: close() takes well under the grace period', async () => {
    const server = await env.start({ shutdownGraceSeconds: 10 });
    const user = await createUser(server.client);
    const stream = await following(server, user);
    const started = performance.now();
    await server.close();
    expect(performance.now() - started).toBeLessThan(2000);
    await stream.ended;
  });
});

describe('without Redis (one process, the embedded default)', () => {
  let local: TestEnvironment;
  let server: TestServer;
  beforeAll(async () => {
    local = await testEnvironment({ redis: false });
    server = await local.start({ liveBacklog: 3 });
  });
  afterAll(async () => local?.close());

  it('delivers to this process\'s streams and replays from memory after Last-Event-ID', async () => {
    const guest = await createUser(server.client);
    const stranger = await createUser(server.client);
    const booking = await createBooking(server.client, { guest });
    const stream = await following(server, guest);
    const strangers = await following(server, stranger);
    expectData('cancelBooking', await api.cancelBooking({ client: server.client, auth: guest.token, path: { booking_id: booking.id } }));
    const [cancelled] = await stream.waitForEvents(1);
    expect(eventsOf([cancelled!])[0]).toMatchObject({ type: 'booking.updated', data: { id: booking.id, status: 'cancelled' } });
    stream.close();
    await server.deps.events.publish([guest.id], { type: 'message.created', data: { n: 2 } });
    const again = await following(server, guest, cancelled!.id);
    expect(eventsOf(await again.waitForEvents(1))).toEqual([expect.objectContaining({ type: 'message.created', data: { n: 2 } })]);
    await expectNoMoreEvents(strangers);
    expect(strangers.events()).toEqual([]);
    again.close();
    strangers.close();
  });

  it('keeps the last LIVE_BACKLOG events of a user: a reconnect from before them starts with reset, then what is kept', async () => {
    const user = await createUser(server.client);
    const stream = await following(server, user);
    for (let n = 1; n <= 5; n++) await server.deps.events.publish([user.id], { type: 'message.created', data: { n } });
    const [first] = await stream.waitForEvents(5);
    stream.close();
    const again = await following(server, user, first!.id);
    const events = eventsOf(await again.waitForEvents(4));
    expect(events.map((event) => event.type === 'reset' ? 'reset' : event.data.n)).toEqual(['reset', 3, 4, 5]);
    again.close();
    // From an id still kept: exactly what came after it, no reset.
    const fromKept = await following(server, user, eventsOf(stream.events())[2]!.id);
    expect(eventsOf(await fromKept.waitForEvents(2)).map((event) => event.data.n)).toEqual([4, 5]);
    await expectNoMoreEvents(fromKept);
    fromKept.close();
  });
});
