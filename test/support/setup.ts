/**
 * Runs before every test file (vitest.config.ts `setupFiles`).
 *
 * Requests from tests to their servers close their connection after the answer.
 * A test file runs its servers in its own process, and starting one blocks that
 * process for seconds (openapi-backend compiles every validator at once; far longer
 * when the machine is busy). A keep-alive connection left idle across such a block
 * is closed by the server (Node's 5 s keep-alive timeout) while the client, whose
 * own timer could not run either, sends the next request on it: `fetch failed`,
 * ECONNRESET, about one time in two. A new connection per request costs well under
 * a millisecond on loopback and takes the race away.
 */
const keepAliveFetch = globalThis.fetch;

function isLoopback(input: RequestInfo | URL): boolean {
  const url = new URL(input instanceof Request ? input.url : input);
  return url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
}

globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
  if (!isLoopback(input)) return keepAliveFetch(input, init);
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  headers.set('connection', 'close');
  return keepAliveFetch(input, { ...init, headers });
};
