/**
 * The interactive API reference at /docs: Swagger UI from the swagger-ui-dist npm
 * package, served from node_modules so it works offline, pointed at /openapi.json.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

const assetsDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const assets: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

export const docsPage = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Staybook API reference</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

// Kept as a file of its own so the page needs no inline script: its CSP (server/headers.ts) allows scripts from 'self' only.
export const docsInit = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  persistAuthorization: true,
  // No badge image from validator.swagger.io: the page loads nothing from other origins (its CSP forbids it).
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: 'StandaloneLayout',
  // Swagger UI cannot generate values: a write that takes an Idempotency-Key gets a
  // fresh one on every try when the field is empty or holds the spec's placeholder,
  // so a second try is a new request, not 409 idempotency_key_reused.
  requestInterceptor: function (request) {
    var method = (request.method || 'GET').toUpperCase();
    var key = request.headers['Idempotency-Key'];
    if (method === 'POST' && /\\/(bookings|payments)(\\?|$)/.test(request.url) && (!key || key === 'new-uuid-per-try')) {
      request.headers['Idempotency-Key'] = crypto.randomUUID();
    }
    return request;
  },
  // Signing in with "Try it out" on login authorizes the page with the new token.
  responseInterceptor: function (response) {
    if (/\\/auth\\/login(\\?|$)/.test(response.url) && response.status === 200 && response.body && response.body.access_token) {
      window.ui.preauthorizeApiKey('bearerAuth', response.body.access_token);
    }
    return response;
  }
});
`;

/** One of the whitelisted Swagger UI files, or null for any other name. */
export async function docsAsset(name: string): Promise<{ body: Buffer; type: string } | null> {
  const type = assets[name];
  if (!type) return null;
  return { body: await readFile(path.join(assetsDir, name)), type };
}
