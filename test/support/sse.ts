/**
 * A Server-Sent Events reader for tests: plain fetch, the body read as it arrives
 * and cut into frames as the standard does (fields per line, a blank line ends a
 * frame, `:` lines are comments), so a test can wait for the next event, assert
 * that none came, or see the stream end.
 */
import { expect } from 'vitest';

export interface Frame {
  id?: string;
  event?: string;
  data?: string;
  retry?: number;
  comments: string[];
}

export interface EventStream {
  status: number;
  headers: Headers;
  /** Every frame so far (comment-only frames included). */
  frames: Frame[];
  /** The events so far (frames with an `event`). */
  events(): Frame[];
  /** Waits until `count` events have arrived (or the timeout), then returns them all. */
  waitForEvents(count: number, timeoutMs?: number): Promise<Frame[]>;
  /** Waits until a frame matching `match` has arrived. */
  waitFor(match: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  /** Resolves when the server has ended the body. */
  ended: Promise<void>;
  /** The problem document, when the answer was not a stream. */
  problem?: { code: string; status: number };
  close(): void;
}

export async function openEventStream(baseUrl: string, token: string | undefined, options: { lastEventId?: string } = {}): Promise<EventStream> {
  const abort = new AbortController();
  const headers: Record<string, string> = { Accept: 'text/event-stream' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (options.lastEventId) headers['Last-Event-ID'] = options.lastEventId;
  const response = await fetch(`${baseUrl}/events`, { headers, signal: abort.signal });
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of waiters) waiter();
  };
  let closed = false;
  const stream: EventStream = {
    status: response.status,
    headers: response.headers,
    frames,
    events: () => frames.filter((frame) => frame.event !== undefined),
    async waitForEvents(count, timeoutMs = 5000) {
      await waitUntil(() => stream.events().length >= count, timeoutMs, `${count} events (have ${stream.events().length})`);
      return stream.events();
    },
    async waitFor(match, timeoutMs = 5000) {
      await waitUntil(() => frames.some(match), timeoutMs, 'a matching frame');
      return frames.find(match)!;
    },
    ended: Promise.resolve(),
    close() {
      closed = true;
      abort.abort();
    },
  };
  const waitUntil = (ready: () => boolean, timeoutMs: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      if (ready()) return resolve();
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(frames)}`));
      }, timeoutMs);
      const check = () => {
        if (!ready()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
    });
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
    stream.problem = (await response.json()) as { code: string; status: number };
    return stream;
  }
  stream.ended = (async () => {
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let current: Frame = { comments: [] };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline).replace(/\r$/, '');
          buffer = buffer.slice(newline + 1);
          if (line === '') {
            frames.push(current);
            current = { comments: [] };
            notify();
            continue;
          }
          if (line.startsWith(':')) {
            current.comments.push(line.slice(1).trim());
            continue;
          }
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'id') current.id = value;
          else if (field === 'event') current.event = value;
          else if (field === 'data') current.data = current.data === undefined ? value : `${current.data}\n${value}`;
          else if (field === 'retry') current.retry = Number(value);
        }
      }
    } catch (err) {
      if (!closed) throw err;
    }
  })();
  // A test that never awaits `ended` must not see an unhandled rejection when it aborts.
  stream.ended.catch(() => undefined);
  return stream;
}

/** The JSON data of each event, with its type and id. */
export function eventsOf(frames: Frame[]): { id: string | undefined; type: string | undefined; data: Record<string, unknown> }[] {
  return frames.filter((frame) => frame.event !== undefined).map((frame) => ({ id: frame.id, type: frame.event, data: JSON.parse(frame.data ?? 'null') }));
}

/** Waits `ms` and asserts that the stream got no further events meanwhile. */
export async function expectNoMoreEvents(stream: EventStream, ms = 300): Promise<void> {
  const before = stream.events().length;
  await new Promise((resolve) => setTimeout(resolve, ms));
  expect(stream.events().slice(before)).toEqual([]);
}

/** The first frame of a response's event stream, up to and including its blank line; the stream is then closed. */
export async function firstFrameOf(response: Response): Promise<string> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  while (!text.includes('\n\n')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  await reader.cancel();
  return text.slice(0, text.indexOf('\n\n') + 2);
}
