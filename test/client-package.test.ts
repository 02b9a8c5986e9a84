/**
 * The published client as another project meets it: clients/typescript is built and `npm pack`ed, the tarball is
 * installed (offline: it has no runtime dependencies) into a temporary copy of clients/example-journey, and the
 * example's guest journey (sign in, search, book, pay, read) runs against a fresh server with demo data. The
 * installed client is then used directly for what it adds over the bare generated one: auth, idempotency keys,
 * pagination and typed problems.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../server/config.js';
import { startServer, type RunningServer } from '../server/server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const packageDir = path.join(root, 'clients/typescript');
const run = promisify(execFile);
// npm and the package's build run on the Node running the tests, with the repository's tools first on PATH.
const toolEnv = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${path.join(root, 'node_modules/.bin')}${path.delimiter}${process.env.PATH}` };

let server: RunningServer;
let scratch: string;
let tarball: string;
let example: string;

beforeAll(async () => {
  // A fresh embedded server as `npm start` makes one (PGlite in memory, no Redis), seeded with the demo data the
  // journey signs in with. Rate limits off: the file signs in more often than a person would.
  server = await startServer({ ...loadConfig({ NODE_ENV: 'test' }), port: 0, dataDir: 'memory://', seedOnFirstStart: true, logRequests: false, rateLimits: false });
  scratch = await mkdtemp(path.join(tmpdir(), 'staybook-client-'));
  // `npm pack` runs the package's prepack (its build) and writes the tarball where we say.
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: packageDir, env: toolEnv });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = path.join(scratch, packed!.filename);
  example = path.join(scratch, 'example-journey');
  await cp(path.join(root, 'clients/example-journey'), example, { recursive: true, filter: (source) => !source.includes('node_modules') });
  const manifest = JSON.parse(await readFile(path.join(example, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  manifest.dependencies['@staybook/client'] = `file:${tarball}`;
  await writeFile(path.join(example, 'package.json'), JSON.stringify(manifest, null, 2));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: example, env: toolEnv });
}, 300_000);

afterAll(async () => {
  await server?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Runs the example's journey against the test server; its JSON lines by step. */
async function journey(...args: string[]): Promise<Record<string, Record<string, unknown>>> {
  const { stdout } = await run(process.execPath, ['journey.mjs', ...args], { cwd: example, env: { ...process.env, STAYBOOK_URL: server.url } }).catch(
    (err: { stdout?: string; stderr?: string }) => {
      throw new Error(`the journey failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    },
  );
  const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { step: string } & Record<string, unknown>);
  return Object.fromEntries(lines.map((line) => [line.step, line]));
}

describe('the packed client', () => {
  it('is a clean tarball: dist, README and package.json only, no runtime dependencies, the spec\'s version', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.trim().split('\n');
    expect(files.filter((file) => !/^package\/(dist\/.+\.(js|d\.ts)|README\.md|package\.json)$/.test(file))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(['package/dist/index.js', 'package/dist/index.d.ts', 'package/README.md']));
    const manifest = JSON.parse(await readFile(path.join(example, 'node_modules/@staybook/client/package.json'), 'utf8')) as Record<string, unknown>;
    const spec = parse(await readFile(path.join(root, 'spec/openapi.yaml'), 'utf8')) as { info: { version: string } };
    expect(manifest.version).toBe(spec.info.version);
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.exports).toEqual({ '.': { types: './dist/index.d.ts', import: './dist/index.js' }, './package.json': './package.json' });
    // Installed with --offline: nothing but the tarball came in.
    expect(await readdir(path.join(example, 'node_modules'))).toEqual(['.package-lock.json', '@staybook']);
  });

  it('runs the example\'s guest journey against a fresh server: sign in, search, book, pay, read', async () => {
    const steps = await journey();
    expect(steps['failed']).toBeUndefined();
    expect(steps['sign-in']).toMatchObject({ role: 'guest' });
    expect(steps['book']).toMatchObject({ status: 'pending' });
    expect(steps['book-again']).toMatchObject({ status: 409, code: 'dates_unavailable' });
    expect(steps['pay']).toMatchObject({ status: 'succeeded' });
    expect(steps['read']).toMatchObject({ status: 'confirmed' });
    expect(steps['done']).toEqual({ step: 'done', ok: true });
    // What the database holds: the demo guest's booking, confirmed, with its payment.
    const booking = await server.deps.db
      .selectFrom('bookings')
      .innerJoin('users', 'users.id', 'bookings.guest_id')
      .select(['bookings.status', 'users.email'])
      .where('bookings.id', '=', steps['book']!['booking_id'] as string)
      .executeTakeFirstOrThrow();
    expect(booking).toEqual({ status: 'confirmed', email: 'guest@example.com' });
    const payments = await server.deps.db.selectFrom('payments').select('status').where('booking_id', '=', steps['book']!['booking_id'] as string).execute();
    expect(payments).toEqual([{ status: 'succeeded' }]);
  }, 60_000);

  it('runs the journey for a guest it registers', async () => {
    const steps = await journey('--register');
    expect(steps['failed']).toBeUndefined();
    expect(steps['register']).toMatchObject({ role: 'guest' });
    expect(steps['read']).toMatchObject({ status: 'confirmed' });
  }, 60_000);

  it('works on the oldest Node it declares (the system Node 20 where there is one)', async () => {
    const node20 = await run('node', ['--version'], { env: { ...process.env, PATH: process.env.PATH!.split(path.delimiter).filter((dir) => !dir.includes('node_modules')).join(path.delimiter) } })
      .then(({ stdout }) => stdout.trim())
      .catch(() => null);
    if (!node20?.startsWith('v20.')) return; // No Node 20 on this machine: the journey above ran on the current one.
    const env = { ...process.env, STAYBOOK_URL: server.url, PATH: process.env.PATH!.split(path.delimiter).filter((dir) => !dir.includes('node_modules')).join(path.delimiter) };
    const { stdout } = await run('node', ['journey.mjs', '--register'], { cwd: example, env });
    expect(stdout).toContain('"step":"done"');
  }, 60_000);

  it('type-checks the example with tsc --strict against the installed declarations', async () => {
    const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
    const args = ['--noEmit', '--strict', '--allowJs', '--checkJs', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022'];
    const types = ['--types', 'node', '--typeRoots', path.join(root, 'node_modules/@types')];
    const result = await run(process.execPath, [tsc, ...args, ...types, 'journey.mjs'], { cwd: example }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? String(err) }));
    expect(result.stdout).toBe('');
  }, 120_000);
});

describe('what the client adds', () => {
  // The package as installed in the example. Untyped here on purpose: its declarations exist only once it is built
  // (the tsc test above checks them); typing this file by the package's src would make `tsc` need a build first.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let staybook: any;
  beforeAll(async () => {
    staybook = await import(pathToFileURL(path.join(example, 'node_modules/@staybook/client/dist/index.js')).href);
  });

  it('throws a typed problem carrying the problem document, and sends the token it was given', async () => {
    const client = staybook.createStaybookClient({ baseUrl: server.url });
    const missing = await client.getCurrentUser().catch((err: unknown) => err);
    expect(missing).toBeInstanceOf(staybook.StaybookProblem);
    expect(missing).toMatchObject({ status: 401, code: 'unauthenticated', problem: { status: 401, code: 'unauthenticated' } });
    const session = await client.signIn('guest@example.com', 'demo-password');
    expect(client.token).toBe(session.access_token);
    const other = staybook.createStaybookClient({ baseUrl: server.url });
    other.setToken(session.access_token);
    expect(await other.getCurrentUser()).toMatchObject({ email: 'guest@example.com' });
    const invalid = await client.getProperty({ path: { property_id: 'not-a-uuid' } }).catch((err: unknown) => err);
    expect(invalid).toMatchObject({ status: 400, code: 'validation_failed', problem: { errors: expect.arrayContaining([expect.objectContaining({ path: 'path.property_id' })]) } });
  });

  it('sends a fresh Idempotency-Key on each call of an operation that takes one, and the caller\'s when given', async () => {
    const sent: Array<{ url: string; key: string | null }> = [];
    const client = staybook.createStaybookClient({
      baseUrl: server.url,
      fetch: async (req: Request) => {
        sent.push({ url: new URL(req.url).pathname, key: req.headers.get('Idempotency-Key') });
        return fetch(req);
      },
    });
    await client.signIn('guest@example.com', 'demo-password');
    const stay = { check_in: '2027-09-01', check_out: '2027-09-08' };
    const { data } = await client.listProperties({ query: { ...stay, guests: 1, limit: 100 } });
    const property = (data as Array<{ id: string; min_nights: number; max_nights: number }>).find((each) => each.min_nights <= 7 && each.max_nights >= 7);
    const body = { property_id: property!.id, ...stay, guests: 1 };
    const first = await client.createBooking({ body });
    await client.cancelBooking({ path: { booking_id: first.id }, body: {} });
    const second = await client.createBooking({ body, headers: { 'Idempotency-Key': 'retry-key-1' } });
    // A caller's key makes a retry safe: the same key and body give the first answer again, not a second booking.
    const retried = await client.createBooking({ body, headers: { 'Idempotency-Key': 'retry-key-1' } });
    expect(retried.id).toBe(second.id);
    const keys = sent.filter((each) => each.url === '/bookings').map((each) => each.key);
    expect(keys).toHaveLength(3);
    expect(keys[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(keys.slice(1)).toEqual(['retry-key-1', 'retry-key-1']);
    // Sign-in and reads carry none.
    expect(sent.filter((each) => each.url === '/auth/login' || each.url === '/properties').map((each) => each.key)).toEqual([null, null]);
    await client.cancelBooking({ path: { booking_id: second.id }, body: {} });
  });

  it('throws NotModified, with the ETag, for a conditional read of an unchanged resource', async () => {
    const client = staybook.createStaybookClient({ baseUrl: server.url });
    let etag: string | null = null;
    client.http.interceptors.response.use((response: Response) => {
      etag = response.headers.get('ETag') ?? etag;
      return response;
    });
    const [first] = (await client.listProperties({ query: { limit: 1 } })).data as Array<{ id: string }>;
    const property = await client.getProperty({ path: { property_id: first!.id } });
    expect(property.id).toBe(first!.id);
    expect(etag).toMatch(/^(W\/)?"/);
    const again = await client.getProperty({ path: { property_id: first!.id }, headers: { 'If-None-Match': etag } }).catch((err: unknown) => err);
    expect(again).toBeInstanceOf(staybook.NotModified);
    expect(again).toMatchObject({ status: 304, etag });
  });

  it('iterates every item of every page, following next_cursor', async () => {
    const client = staybook.createStaybookClient({ baseUrl: server.url });
    const all = ((await client.listProperties({ query: { limit: 100 } })).data as Array<{ id: string }>).map((each) => each.id);
    const paged: string[] = [];
    for await (const property of client.paginate('listProperties', { query: { limit: 1 } })) paged.push(property.id);
    expect(all.length).toBeGreaterThan(1);
    expect(paged).toEqual(all);
  });
});
