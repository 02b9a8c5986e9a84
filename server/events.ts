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
 *
 * Every event gets an id when it is published, `<milliseconds>-<sequence>`, which
 * grows with each event of one user; each user's recent events are kept (a bounded
 * backlog) so that a stream that reconnects with the id it saw last (`Last-Event-ID`)
 * is sent exactly what it missed, then the live ones, without duplicates or gaps:
 * a follower registers first, then reads the backlog, holding back live events
 * meanwhile, and passes on only ids after the last one it passed on.
 *
 * - `createLocalEvents()`: one process (the embedded default without Redis); the
 *   backlog is in memory.
 * - `createRedisEvents()`: every process sharing a Redis. Publishing runs one Lua
 *   script per event: XADD to each recipient's stream (`<prefix>events:<user>`,
 *   trimmed to about `backlog` entries and expiring `retentionSeconds` after its last
 *   event) and PUBLISH of the event with its id on the recipient's channel (the
 *   same name), atomically, so that the order a subscriber hears events in is the
 *   order of their ids. Each process has one subscriber connection, subscribed to
 *   the channels of the users with an open stream here, and fans events out to
 *   those streams in memory. After an outage of that connection, each stream is
 *   sent what it missed from the backlog once Redis answers again.
 */
import type { Redis } from 'ioredis';
import { ApiError } from './errors.js';
import type { LogFn } from './log.js';
import type { RequestContext } from './operations.js';
import { connectRedis, redisIsDown } from './redis.js';

/** The kinds of live event; their `data` is the spec's shape of the thing that changed. */
export type LiveEventType = 'message.created' | 'conversation.read' | 'booking.updated';

export interface LiveEvent {
  type: LiveEventType;
  /** As the API presents it (a Message, a read marker, a Booking): what the recipient may see. */
  data: Record<string, unknown>;
}

export type LiveEventListener = (event: LiveEvent & { id: string }) => void;

export interface FollowOptions {
  /** The id of the last event the client saw: the events after it are sent first. */
  lastEventId?: string | undefined;
  /** Events after `lastEventId` may have been dropped from the backlog (too old, or too many): the client should reload. */
  onGap?: () => void;
  /** The follow was ended by the server (shutdown): the stream should end. */
  onEnd?: () => void;
}

export interface LiveEvents {
  /** Delivers `event` to every open stream of each of `userIds`, in this process and others. */
  publish(userIds: readonly string[], event: LiveEvent): Promise<void>;
  /**
   * Follows one user's events; returns the function that stops following. Throws
   * `503 service_unavailable` while events cannot be followed (Redis unreachable, or
   * the process shutting down).
   */
  subscribe(userId: string, listener: LiveEventListener, options?: FollowOptions): Promise<() => void>;
  /** How many follows of `userId` this process has open (the per-user stream limit); without a user, of everyone (the per-process limit). */
  following(userId?: string): number;
  /** Ends every follow of this process (their `onEnd` is called) and refuses new ones: the first step of a shutdown. */
  endAll(): void;
  close(): Promise<void>;
}

/** An event id, `<ms>-<seq>` as Redis streams make them, as a comparable pair. */
const EVENT_ID = /^(\d{1,15})-(\d{1,15})$/;

export function isEventId(value: string): boolean {
  return EVENT_ID.test(value);
}

/** Negative, zero or positive as `a` is before, equal to or after `b`. */
export function compareEventIds(a: string, b: string): number {
  const [, am = '0', as = '0'] = EVENT_ID.exec(a) ?? [];
  const [, bm = '0', bs = '0'] = EVENT_ID.exec(b) ?? [];
  return Number(am) - Number(bm) || Number(as) - Number(bs);
}

type Stamped = LiveEvent & { id: string };

/** Where the recent events of a user are kept, and how the newest id is found. */
interface Backlog {
  /** The events after `id`, oldest first; `complete` is false when some of them may have been dropped. */
  after(userId: string, id: string): Promise<{ events: Stamped[]; complete: boolean }>;
  /** The id of the user's newest kept event, or `0-0`. */
  newest(userId: string): Promise<string>;
}

interface Follower {
  listener: LiveEventListener;
  options: FollowOptions;
  /** The last id passed on; later events only. */
  lastId: string;
  /** While the backlog is being read, live events wait here. */
  held: Stamped[] | undefined;
}

/**
 * The part both implementations share: followers per user, replay from the backlog
 * with live events held back meanwhile, and passing on each id once, in order.
 */
class Fanout {
  readonly followers = new Map<string, Set<Follower>>();
  /** Every user's follows together, kept as they come and go rather than summed per new stream. */
  private total = 0;
  ended = false;

  constructor(private readonly backlog: Backlog, private readonly log: LogFn) {}

  deliver(userId: string, event: Stamped): void {
    for (const follower of this.followers.get(userId) ?? []) this.offer(follower, event);
  }

  private offer(follower: Follower, event: Stamped): void {
    if (follower.held) {
      follower.held.push(event);
      return;
    }
    if (compareEventIds(event.id, follower.lastId) <= 0) return;
    follower.lastId = event.id;
    try {
      follower.listener(event);
    } catch (err) {
      this.log({ level: 'error', message: 'a live event listener failed', error: String(err) });
    }
  }

  /** Registers at once (so that counting follows is exact), then catches up from the backlog. */
  async follow(userId: string, listener: LiveEventListener, options: FollowOptions, registered: () => Promise<void>): Promise<() => void> {
    if (this.ended) throw new ApiError('service_unavailable', 'The server is shutting down; reconnect.', undefined, { 'Retry-After': '1' });
    const follower: Follower = { listener, options, lastId: '0-0', held: [] };
    const set = this.followers.get(userId) ?? new Set();
    set.add(follower);
    this.total += 1;
    this.followers.set(userId, set);
    const stop = () => {
      // endAll may have let go of it already; a follow is uncounted once.
      if (set.delete(follower)) this.total -= 1;
      if (set.size === 0 && this.followers.get(userId) === set) this.followers.delete(userId);
    };
    try {
      await registered();
      await this.catchUp(userId, follower, options.lastEventId);
    } catch (err) {
      stop();
      throw err;
    }
    return stop;
  }

  /** Sends `follower` what came after `since` (or, without it, starts from the newest event), then what was held back. */
  async catchUp(userId: string, follower: Follower, since: string | undefined): Promise<void> {
    follower.held ??= [];
    try {
      if (since === undefined) {
        // From now on: what is kept is old news, but what arrived since registering (held) is not,
        // even when the newest kept event is one of those.
        const newest = await this.backlog.newest(userId);
        const firstHeld = follower.held?.[0]?.id;
        const anchor = firstHeld !== undefined && compareEventIds(firstHeld, newest) <= 0 ? undefined : newest;
        if (anchor !== undefined && compareEventIds(anchor, follower.lastId) > 0) follower.lastId = anchor;
      } else {
        const { events, complete } = await this.backlog.after(userId, since);
        if (!complete) follower.options.onGap?.();
        if (compareEventIds(since, follower.lastId) > 0) follower.lastId = since;
        const held = follower.held;
        follower.held = undefined;
        for (const event of events) this.offer(follower, event);
        follower.held = held;
      }
    } finally {
      const held = follower.held ?? [];
      follower.held = undefined;
      for (const event of held) this.offer(follower, event);
    }
  }

  following(userId?: string): number {
    if (userId === undefined) return this.total;
    return this.followers.get(userId)?.size ?? 0;
  }

  endAll(): void {
    this.ended = true;
    const all = [...this.followers.values()].flatMap((set) => [...set]);
    for (const set of this.followers.values()) set.clear();
    this.followers.clear();
    this.total = 0;
    for (const follower of all) follower.options.onEnd?.();
  }
}

/** Makes ids that grow within this process, as Redis does within a stream. */
function idMaker(): () => string {
  let lastMs = 0;
  let sequence = 0;
  return () => {
    const now = Date.now();
    if (now > lastMs) {
      lastMs = now;
      sequence = 0;
    } else sequence += 1;
    return `${lastMs}-${sequence}`;
  };
}

/** One process's events, without Redis (the embedded default): streams of this process only, the backlog in memory. */
export function createLocalEvents(options: { backlog?: number; retentionSeconds?: number; log?: LogFn } = {}): LiveEvents {
  const size = options.backlog ?? 1000;
  const retentionMs = (options.retentionSeconds ?? 3600) * 1000;
  const log = options.log ?? (() => undefined);
  const kept = new Map<string, { events: Stamped[]; dropped: string }>();
  const nextId = idMaker();
  /** Forgets what is past its retention: `dropped` remembers the newest id forgotten, so a reconnect after it knows of the gap. */
  const prune = (userId: string) => {
    const entry = kept.get(userId);
    if (!entry) return undefined;
    const oldest = `${Date.now() - retentionMs}-0`;
    while (entry.events.length > 0 && (entry.events.length > size || compareEventIds(entry.events[0]!.id, oldest) < 0)) {
      entry.dropped = entry.events.shift()!.id;
    }
    return entry;
  };
  const fanout = new Fanout({
    async after(userId, id) {
      const entry = prune(userId);
      if (!entry) return { events: [], complete: false };
      return { events: entry.events.filter((event) => compareEventIds(event.id, id) > 0), complete: compareEventIds(id, entry.dropped) >= 0 };
    },
    async newest(userId) {
      return prune(userId)?.events.at(-1)?.id ?? '0-0';
    },
  }, log);
  let published = 0;
  return {
    async publish(userIds, event) {
      const id = nextId();
      // Now and then, users with nothing left to keep are forgotten (as Redis expires their streams).
      if (++published % 1000 === 0) {
        for (const userId of [...kept.keys()]) if (prune(userId)?.events.length === 0) kept.delete(userId);
      }
      for (const userId of new Set(userIds)) {
        const entry = kept.get(userId) ?? { events: [], dropped: '0-0' };
        kept.set(userId, entry);
        entry.events.push({ ...event, id });
        prune(userId);
        fanout.deliver(userId, { ...event, id });
      }
    },
    subscribe: (userId, listener, followOptions = {}) => fanout.follow(userId, listener, followOptions, async () => undefined),
    following: (userId) => fanout.following(userId),
    endAll: () => fanout.endAll(),
    async close() {
      fanout.endAll();
      kept.clear();
    },
  };
}

/**
 * XADD to each recipient's stream and PUBLISH there, in one atomic step.
 * KEYS: the recipients' stream keys; ARGV: max length, retention seconds, the event
 * JSON, then the recipients' channel names. Returns the ids, one per key.
 */
const PUBLISH_SCRIPT = `
local ids = {}
for i, key in ipairs(KEYS) do
  local id = redis.call('XADD', key, 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[3])
  redis.call('EXPIRE', key, ARGV[2])
  redis.call('PUBLISH', ARGV[3 + i], id .. ' ' .. ARGV[3])
  ids[i] = id
end
return ids
`;

/**
 * Every process's events, through Redis. `redis` is the process's connection (its key
 * prefix applies to the stream keys); a subscriber connection of its own is opened
 * on the first follow. Channel names get the prefix by hand, as ioredis does not prefix them.
 */
export function createRedisEvents(options: {
  redis: Redis;
  url: string;
  keyPrefix: string;
  backlog: number;
  retentionSeconds: number;
  log: LogFn;
}): LiveEvents {
  const { redis, keyPrefix, log } = options;
  const key = (userId: string) => `events:${userId}`;
  const channel = (userId: string) => `${keyPrefix}events:${userId}`;
  // Opened on the first follow: a process that only publishes (a worker, a server nobody follows yet) holds none.
  let subscriber: Redis | undefined;
  const parse = (id: string, fields: string[]): Stamped | undefined => {
    const json = fields[fields.indexOf('event') + 1];
    try {
      const event = JSON.parse(json ?? '') as LiveEvent;
      return { type: event.type, data: event.data, id };
    } catch {
      return undefined;
    }
  };
  const unavailable = () =>
    new ApiError('service_unavailable', 'Live events are unavailable for a moment; reconnect shortly.', undefined, { 'Retry-After': '2' });
  const fanout = new Fanout({
    async after(userId, id) {
      // `(id` is exclusive; the id itself is read too, to know whether it is still kept.
      const [first] = await redis.xrange(key(userId), '-', '+', 'COUNT', 1);
      const entries = await redis.xrange(key(userId), `(${id}`, '+');
      const events = entries.flatMap(([entryId, fields]) => parse(entryId, fields) ?? []);
      // Nothing after `id` was dropped when `id` itself is still kept (or older than the oldest kept); a stream
      // that expired whole may have taken events after `id` with it.
      const complete = first ? compareEventIds(first[0], id) <= 0 : compareEventIds(id, '0-0') === 0;
      return { events, complete };
    },
    async newest(userId) {
      const [last] = await redis.xrevrange(key(userId), '+', '-', 'COUNT', 1);
      return last?.[0] ?? '0-0';
    },
  }, log);

  const listen = (connection: Redis) => connection.on('message', (name: string, message: string) => {
    if (!name.startsWith(`${keyPrefix}events:`)) return;
    const userId = name.slice(`${keyPrefix}events:`.length);
    const space = message.indexOf(' ');
    try {
      const event = JSON.parse(message.slice(space + 1)) as LiveEvent;
      fanout.deliver(userId, { type: event.type, data: event.data, id: message.slice(0, space) });
    } catch (err) {
      log({ level: 'error', message: 'an unreadable live event was received', error: String(err) });
    }
  });

  // After the subscriber was cut off, each open stream is sent what was published meanwhile: once
  // subscribed again (ioredis resubscribes after 'ready'; our own SUBSCRIBE is answered after its),
  // the backlog is read, tried again each second while Redis does not answer yet.
  let wasReady = false;
  let lost = false;
  const resync = async (connection: Redis, attempt: number): Promise<void> => {
    try {
      const users = [...fanout.followers.keys()];
      if (users.length === 0) return;
      await connection.subscribe(...users.map(channel));
      await Promise.all(users.flatMap((userId) => [...(fanout.followers.get(userId) ?? [])].map((follower) =>
        fanout.catchUp(userId, follower, follower.lastId))));
    } catch (err) {
      if (attempt >= 30 || fanout.ended) {
        log({ level: 'warn', message: 'could not catch live streams up after a Redis outage', error: String(err) });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000).unref());
      await resync(connection, attempt + 1);
    }
  };
  const connectSubscriber = (): Redis => {
    const connection = connectRedis(options.url, { keyPrefix: '', log: () => undefined });
    listen(connection);
    connection.on('ready', () => {
      if (wasReady && lost) {
        lost = false;
        void resync(connection, 1);
      }
      wasReady = true;
    });
    connection.on('close', () => {
      lost = true;
    });
    return connection;
  };

  const subscribed = new Map<string, Promise<unknown>>();
  return {
    async publish(userIds, event) {
      const users = [...new Set(userIds)];
      if (users.length === 0) return;
      if (redisIsDown(redis)) throw new Error('Redis is unreachable');
      await redis.eval(PUBLISH_SCRIPT, users.length, ...users.map(key), options.backlog, options.retentionSeconds, JSON.stringify(event), ...users.map(channel));
    },
    subscribe(userId, listener, followOptions = {}) {
      if (fanout.ended) return fanout.follow(userId, listener, followOptions, async () => undefined);
      const connection = (subscriber ??= connectSubscriber());
      if (redisIsDown(redis) || redisIsDown(connection)) return Promise.reject(unavailable());
      return fanout.follow(userId, listener, followOptions, async () => {
        let done = subscribed.get(userId);
        if (!done) {
          done = connection.subscribe(channel(userId));
          subscribed.set(userId, done);
          done.catch(() => subscribed.delete(userId));
        }
        try {
          await done;
        } catch {
          throw unavailable();
        }
      }).then((stop) => () => {
        stop();
        if (fanout.following(userId) === 0 && subscribed.has(userId)) {
          subscribed.delete(userId);
          connection.unsubscribe(channel(userId)).catch(() => undefined);
        }
      }, (err: unknown) => {
        if (err instanceof ApiError) throw err;
        log({ level: 'warn', message: 'could not follow live events', error: String(err) });
        throw unavailable();
      });
    },
    following: (userId) => fanout.following(userId),
    endAll: () => fanout.endAll(),
    async close() {
      fanout.endAll();
      subscribed.clear();
      subscriber?.disconnect();
    },
  };
}

/** Publishes after commit; a failure is logged, never thrown (the change it announces has committed). */
export async function publishEvent(ctx: RequestContext, userIds: readonly string[], event: LiveEvent): Promise<void> {
  await publishWith(ctx.deps, userIds, event, ctx.requestId);
}

/** The same, where there is no request (a webhook's settlement, a job): with the process's dependencies. */
export async function publishWith(
  deps: { events: LiveEvents; log: LogFn },
  userIds: readonly string[],
  event: LiveEvent,
  requestId?: string,
): Promise<void> {
  try {
    await deps.events.publish(userIds, event);
  } catch (err) {
    deps.log({ level: 'error', ...(requestId ? { request_id: requestId } : {}), message: 'could not publish a live event', type: event.type, error: String(err) });
  }
}
