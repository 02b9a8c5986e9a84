/**
 * Security headers (issue 13, finding 9): HSTS, nosniff and no framing on every
 * answer; the strict CSP on the JSON API; a CSP on /docs and on GraphiQL that still
 * allows every script and style those pages load; and `Cache-Control: no-store` on
 * answers that carry tokens or private data, never on a public read.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import { useTestApp } from './support/app.js';
import { createHost, createProperty, createUser, uniqueEmail } from './support/factories.js';

const { server } = useTestApp({ config: { graphqlGraphiql: true } });

/** A CSP header as directive → sources. */
function parseCsp(header: string | null): Map<string, string[]> {
  expect(header, 'a Content-Security-Policy header').toBeTruthy();
  return new Map(
    header!.split(';').map((part) => part.trim()).filter(Boolean).map((part) => {
      const [name, ...sources] = part.split(/\s+/);
      return [name!.toLowerCase(), sources] as [string, string[]];
    }),
  );
}

/** The JSON API's policy: nothing may load, run or frame. */
function expectStrictCsp(response: Response, label = ''): void {
  const csp = parseCsp(response.headers.get('content-security-policy'));
  expect(Object.fromEntries(csp), label).toEqual({ 'default-src': ["'none'"], 'frame-ancestors': ["'none'"] });
}

/** The sources the policy allows for a kind of resource, falling back to default-src as browsers do. */
function sourcesFor(csp: Map<string, string[]>, directive: string): string[] {
  return csp.get(directive) ?? csp.get('default-src') ?? [];
}

describe('headers on every answer', () => {
  it.each([
    ['a JSON read', '/properties'],
    ['a problem document', '/properties/00000000-0000-4000-8000-000000000000'],
    ['the spec', '/openapi.json'],
    ['an unknown path', '/nowhere'],
  ])('sends HSTS, nosniff and no framing on %s', async (_kind, path) => {
    const response = await fetch(`${server.url}${path}`);
    await response.arrayBuffer();
    expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('x-powered-by')).toBeNull();
  });

  it("gives the JSON API the strict policy: default-src 'none'; frame-ancestors 'none'", async () => {
    for (const path of ['/properties', '/users/me', '/openapi.json']) {
      const response = await fetch(`${server.url}${path}`);
      await response.arrayBuffer();
      expectStrictCsp(response, path);
    }
  });
});

describe('/docs', () => {
  it('allows every script and style the page loads, and nothing inline or from another origin', async () => {
    const response = await fetch(`${server.url}/docs`);
    expect(response.status).toBe(200);
    const csp = parseCsp(response.headers.get('content-security-policy'));
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
    expect(csp.get('default-src')).toEqual(["'none'"]);
    expect(sourcesFor(csp, 'script-src')).not.toContain("'unsafe-inline'");
    expect(sourcesFor(csp, 'script-src')).not.toContain("'unsafe-eval'");
    const html = await response.text();

    // Inline scripts would need a nonce or hash; the page has none.
    expect([...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>/g)]).toEqual([]);
    const scripts = [...html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)].map((m) => m[1]!);
    const styles = [...html.matchAll(/<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"/g)].map((m) => m[1]!);
    const icons = [...html.matchAll(/<link[^>]*rel="icon"[^>]*href="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts).toEqual(['/docs/swagger-ui-bundle.js', '/docs/swagger-ui-standalone-preset.js', '/docs/init.js']);
    expect(styles).toEqual(['/docs/swagger-ui.css']);

    // Same-origin paths are what 'self' allows; each is served, with the type a browser will run or apply.
    for (const [directive, urls, type] of [
      ['script-src', scripts, /^text\/javascript/],
      ['style-src', styles, /^text\/css/],
      ['img-src', icons, /^image\//],
    ] as const) {
      expect(sourcesFor(csp, directive), directive).toContain("'self'");
      for (const url of urls) {
        expect(new URL(url, server.url).origin, url).toBe(new URL(server.url).origin);
        const asset = await fetch(new URL(url, server.url));
        await asset.arrayBuffer();
        expect(asset.status, url).toBe(200);
        expect(asset.headers.get('content-type'), url).toMatch(type);
        expect(asset.headers.get('x-content-type-options'), url).toBe('nosniff');
      }
    }
    // Swagger UI fetches the spec from this origin.
    expect(sourcesFor(csp, 'connect-src')).toContain("'self'");
  });

  it('starts Swagger UI without a call to another origin (no validator badge)', async () => {
    const init = await (await fetch(`${server.url}/docs/init.js`)).text();
    expect(init).toContain("url: '/openapi.json'");
    expect(init).toContain('validatorUrl: null');
  });
});

describe('GraphiQL at /graphql', () => {
  it('allows its inline script by hash, its workers from blob: and its queries to this origin', async () => {
    const response = await fetch(`${server.url}/graphql`, { headers: { Accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = parseCsp(response.headers.get('content-security-policy'));
    const html = await response.text();

    const inline = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(inline.length).toBeGreaterThan(0);
    const { createHash } = await import('node:crypto');
    for (const body of inline) {
      expect(sourcesFor(csp, 'script-src')).toContain(`'sha256-${createHash('sha256').update(body).digest('base64')}'`);
    }
    expect(sourcesFor(csp, 'script-src')).not.toContain("'unsafe-inline'");
    // No script loaded from elsewhere.
    expect([...html.matchAll(/<script[^>]*\bsrc=/g)]).toEqual([]);
    expect(sourcesFor(csp, 'worker-src')).toContain('blob:');
    expect(sourcesFor(csp, 'connect-src')).toContain("'self'");
    expect(sourcesFor(csp, 'style-src')).toContain("'unsafe-inline'");
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);

    // A second load gets the same policy (it is worked out once per page).
    const again = await fetch(`${server.url}/graphql`, { headers: { Accept: 'text/html' } });
    expect(await again.text()).toBe(html);
    expect(again.headers.get('content-security-policy')).toBe(response.headers.get('content-security-policy'));
  });

  it('keeps the strict policy on a GraphQL answer', async () => {
    const response = await fetch(`${server.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, { headers: { Accept: 'application/json' } });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    expectStrictCsp(response);
  });
});

describe('Cache-Control on private answers', () => {
  it('is no-store on the token login returns and on the profile registerUser returns', async () => {
    const email = uniqueEmail('cache');
    const registered = await api.registerUser({ client: server.client, body: { email, password: 'correct horse battery', name: 'Cache Test' } });
    expect(registered.response.status).toBe(201);
    expect(registered.response.headers.get('cache-control')).toBe('no-store');

    const login = await api.login({ client: server.client, body: { email, password: 'correct horse battery' } });
    expect(login.response.status).toBe(200);
    expect(login.response.headers.get('cache-control')).toBe('no-store');

    // A refused sign-in too: it says whether the pair was right.
    const refused = await api.login({ client: server.client, body: { email, password: 'not the password' } });
    expect(refused.response.status).toBe(401);
    expect(refused.response.headers.get('cache-control')).toBe('no-store');
  });

  it('is no-store on /users/me and on any answer to a signed-in request', async () => {
    const guest = await createUser(server.client);
    const me = await api.getCurrentUser({ client: server.client, auth: guest.token });
    expect(me.response.status).toBe(200);
    expect(me.response.headers.get('cache-control')).toBe('no-store');

    const bookings = await api.listBookings({ client: server.client, auth: guest.token });
    expect(bookings.response.status).toBe(200);
    expect(bookings.response.headers.get('cache-control')).toBe('no-store');

    const profile = await api.getUser({ client: server.client, auth: guest.token, path: { user_id: guest.id } });
    expect(profile.data!.email).toBe(guest.email);
    expect(profile.response.headers.get('cache-control')).toBe('no-store');

    // Through GraphQL as well: a POST carrying the token.
    const graphql = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${guest.token}` },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    await graphql.arrayBuffer();
    expect(graphql.headers.get('cache-control')).toBe('no-store');
  });

  it('is declared by the spec on the answers of login, registerUser, getCurrentUser and updateUser', async () => {
    const spec = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { operationId: string; responses: Record<string, { $ref?: string; headers?: Record<string, { $ref: string }> }> }>>;
      components: { responses: Record<string, { headers?: Record<string, { $ref: string }> }> };
    };
    const operations = Object.values(spec.paths).flatMap((item) => Object.values(item));
    for (const [operationId, status] of [['login', '200'], ['registerUser', '201'], ['getCurrentUser', '200'], ['updateUser', '200']] as const) {
      let response = operations.find((operation) => operation.operationId === operationId)!.responses[status]!;
      if (response.$ref) response = spec.components.responses[response.$ref.split('/').pop()!]!;
      expect(response.headers?.['Cache-Control']?.$ref, operationId).toBe('#/components/headers/CacheControlNoStore');
    }
  });

  it('is left off an anonymous read of a public resource', async () => {
    const host = await createHost(server.client);
    const property = await createProperty(server.client, host);
    const response = await fetch(`${server.url}/properties/${property.id}`);
    await response.arrayBuffer();
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).not.toBe('no-store');
  });
});
