/**
 * Live events while Redis is away, on a Redis of this test's own (started on a free
 * port and killed; the machine's shared Redis is never touched): a write still
 * succeeds and its event is logged as not published; opening a stream is 503 with
 * Retry-After; a stream that was open stays open and, once Redis is back, is told
 * that what it may have missed is gone (`reset`) and gets the new events again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { loadConfig } from '../server/config.js';
import type { LogLine } from '../server/log.js';
import { startServer, type RunningServer } from '../server/server.js';
import { createBooking, createUser, expectData } from './support/factories.js';
import { startOwnRedis, type OwnRedis } from './support/instances.js';
import { clientFor, eventually, testEnvironment, type TestEnvironment } from './support/server.js';
import { eventsOf, openEventStream, type EventStream } from './support/sse.js';

let ownRedis: OwnRedis | undefined;
let env: TestEnvironment | undefined;
let server: RunningServer | undefined;
let stream: EventStream | undefined;

afterAll(async () => {
  stream?.close();
  await server?.close();
  await env?.close();
  await ownRedis?.destroy();
});

describe('live events while Redis is unreachable', () => {
  it('never fail a write, refuse new streams with 503, and keep open streams, which hear events again when Redis is back', async () => {
    ownRedis = await startOwnRedis();
    env = await testEnvironment();
    const lines: LogLine[] = [];
    server = await startServer({
      ...loadConfig({ NODE_ENV: 'test' }),
      port: 0,
      databaseUrl: env.databaseUrl,
      dataDir: 'memory://',
      redisUrl: ownRedis.url,
      redisKeyPrefix: 'events-outage:',
      seedOnFirstStart: false,
      runWorkers: false,
      jobSweepSeconds: 0,
      bookingSweepSeconds: 0,
      mailOutboxDir: env.outboxDir,
      logRequests: false,
      rateLimits: false,
      liveHeartbeatSeconds: 1,
    }, (line) => lines.push(line));
    const client = clientFor(server.url);
    const guest = await createUser(client);
    const booking = await createBooking(client, { guest });

    stream = await openEventStream(server.url, guest.token);
    expect(stream.status).toBe(200);
    await stream.waitFor((frame) => frame.comments.includes('connected'));
    await server.deps.events.publish([guest.id], { type: 'message.created', data: { n: 1 } });
    const [first] = await stream.waitForEvents(1);

    await ownRedis.stop();
    await eventually(async () => expect(lines.some((line) => /Redis is unreachable/.test(String(line.message)))).toBe(true));

    // The write is committed and answered; the event it owed is logged as lost.
    const cancelled = expectData('cancelBooking', await api.cancelBooking({ client, auth: guest.token, path: { booking_id: booking.id } }));
    expect(cancelled.status).toBe('cancelled');
    expect(lines.some((line) => line.message === 'could not publish a live event' && line.level === 'error')).toBe(true);

    // A new stream cannot follow anything now: 503 and when to try again.
    const refused = await openEventStream(server.url, guest.token);
    expect(refused.status).toBe(503);
    expect(refused.problem).toMatchObject({ code: 'service_unavailable' });
    expect(refused.headers.get('retry-after')).toBe('2');

    // The open stream is still open: heartbeats go on.
    const heartbeats = stream.frames.filter((frame) => frame.comments.includes('heartbeat')).length;
    await stream.waitFor(() => stream!.frames.filter((frame) => frame.comments.includes('heartbeat')).length > heartbeats, 3000);

    await ownRedis.start();
    // Redis came back empty (a crash): what the stream saw last is no longer kept, so it is told to reload,
    // and then hears new events as before.
    await stream.waitFor((frame) => frame.event === 'reset', 10_000);
    await eventually(async () => {
      await server!.deps.events.publish([guest.id], { type: 'message.created', data: { n: 2 } });
      expect(eventsOf(stream!.events()).some((event) => event.data.n === 2)).toBe(true);
    }, 10_000);
    const events = eventsOf(stream.events());
    expect(events[0]).toMatchObject({ id: first!.id, data: { n: 1 } });
    expect(events[1]).toEqual({ id: undefined, type: 'reset', data: {} });
    // Each event once, even if it was published more than once before one arrived.
    const ids = events.flatMap((event) => (event.id ? [event.id] : []));
    expect(new Set(ids).size).toBe(ids.length);

    // And new streams open again.
    const reopened = await openEventStream(server.url, guest.token);
    expect(reopened.status).toBe(200);
    reopened.close();
  }, 60_000);
});
