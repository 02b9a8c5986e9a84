/**
 * Security headers, from helmet (koa-helmet) rather than by hand: HSTS, nosniff,
 * no framing, and a Content-Security-Policy per kind of answer. The JSON API (and
 * everything not named below) gets the strictest policy, as nothing it sends is
 * meant to run in a browser; /docs (Swagger UI, all from our own /docs/* files) and
 * the GraphiQL page (one inline script and style from @graphql-yoga/render-graphiql,
 * its editor workers started from blob: URLs) get the least each needs to work.
 *
 * Also the cache rule for private answers: whatever answers a request that carried
 * credentials, and whatever a write answers (a token from `login`, the private
 * profile `registerUser` returns), is `Cache-Control: no-store`, so neither a shared
 * cache nor the browser's own keeps it.
 */
import { createHash } from 'node:crypto';
import type { Middleware } from 'koa';
import helmet from 'koa-helmet';

/** One year, the common choice (and the minimum for preload lists, which we do not join). */
const HSTS_MAX_AGE_SECONDS = 31_536_000;

/**
 * Every response's headers. HSTS is sent always: browsers only honour it over HTTPS
 * (which a deployment terminates in front of us), so on plain-HTTP localhost it does
 * nothing, and behind TLS it needs no setting to be on. includeSubDomains only covers
 * names below the API's own host; no preload, which is hard to undo.
 */
export function securityHeaders(): Middleware {
  const policy = helmet({
    // For JSON, problem documents, metrics and the spec: nothing may load, run or frame.
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    strictTransportSecurity: { maxAge: HSTS_MAX_AGE_SECONDS, includeSubDomains: true, preload: false },
    // The same as frame-ancestors 'none', for browsers that predate CSP level 2.
    xFrameOptions: { action: 'deny' },
  });
  // These headers depend on no request (no nonces): helmet computes them once, here, on a
  // recording response, and each request gets them set in one loop, without helmet's
  // middleware chain and the promise koa-helmet wraps around it per request.
  const headers = new Map<string, string | number | readonly string[]>();
  const removed: string[] = [];
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => void headers.set(name, value),
    removeHeader: (name: string) => void removed.push(name),
  };
  void policy({ req: {}, res: recorder } as unknown as Parameters<Middleware>[0], async () => {});
  if (headers.size === 0) throw new Error('helmet set no headers synchronously: the recorded header set would be empty');
  return async (ctx, next) => {
    const { res } = ctx;
    for (const [name, value] of headers) res.setHeader(name, value);
    for (const name of removed) res.removeHeader(name);
    await next();
  };
}

export function docsCsp(): Middleware {
  return helmet.contentSecurityPolicy({
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
  });
}

/**
 * The policy of a GraphiQL page: its inline scripts allowed by their sha256 (so no
 * other inline script, such as injected markup, may run), its editor's workers from
 * blob: URLs, its queries to this origin. The editor (Monaco) adds <style> elements
 * as it runs, hence 'unsafe-inline' for styles only.
 */
export function graphiqlCsp(html: string): string {
  const hashes = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(
    ([, body]) => `'sha256-${createHash('sha256').update(body ?? '').digest('base64')}'`,
  );
  return [
    "default-src 'none'",
    `script-src ${hashes.join(' ') || "'none'"}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    'worker-src blob:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Wraps the GraphQL GET route: an HTML answer (the GraphiQL page) gets graphiqlCsp, anything else keeps the strict policy. */
export function withGraphiqlCsp(graphql: Middleware): Middleware {
  // The page (9 MB, the editor inlined) is the same on every load: hashing it takes ~80 ms, comparing it ~1 ms.
  let last: { page: Buffer; policy: string } | undefined;
  return async (ctx, next) => {
    await graphql(ctx, next);
    if (!ctx.response.is('html') || !Buffer.isBuffer(ctx.body)) return;
    const page = ctx.body;
    if (!last?.page.equals(page)) last = { page, policy: graphiqlCsp(page.toString('utf8')) };
    ctx.set('Content-Security-Policy', last.policy);
  };
}

/**
 * `Cache-Control: no-store` on answers a cache must never keep: any answer to a request
 * that carried credentials (private data, and whatever the token may see), and any
 * answer to a write (tokens, the private profile at sign-up). An answer that chose its
 * own Cache-Control keeps it. Anonymous reads of public resources are left to their handlers.
 */
export function noStoreForPrivateAnswers(): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } finally {
      const credentialed = Boolean(ctx.get('Authorization'));
      const write = ctx.method !== 'GET' && ctx.method !== 'HEAD';
      if ((credentialed || write) && !ctx.response.get('Cache-Control')) ctx.set('Cache-Control', 'no-store');
    }
  };
}
