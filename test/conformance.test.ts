/**
 * The conformance command (scripts/conformance/run.ts) against a test server: a conforming server gives 0 failures;
 * the same server behind a proxy that plants one wrong field is reported, with a curl line that reproduces it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runConformance } from '../scripts/conformance/run.js';
import { useTestApp } from './support/app.js';
import { firstFrameOf } from './support/sse.js';

const spec = parse(readFileSync(new URL('../spec/openapi.yaml', import.meta.url), 'utf8'));
const { server } = useTestApp();

/** A proxy to the test server that rewrites GET /users/me's `role` to a value outside the spec's enum. */
async function brokenProxy(target: string): Promise<{ url: string; close: () => Promise<void> }> {
  const proxy = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k))) as Record<string, string>;
    const upstream = await fetch(`${target}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
    // The live events stream never ends: pass on its first frame only, then end both sides.
    const stream = upstream.headers.get('content-type')?.startsWith('text/event-stream');
    let text = stream ? await firstFrameOf(upstream) : await upstream.text();
    if (req.method === 'GET' && req.url?.startsWith('/users/me') && upstream.status === 200) {
      text = JSON.stringify({ ...JSON.parse(text), role: 'superuser' });
    }
    const out: Record<string, string> = {};
    upstream.headers.forEach((v, k) => {
      if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k)) out[k] = v;
    });
    res.writeHead(upstream.status, out).end(text);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => proxy.close(() => resolve())) };
}


describe('npm run conformance', () => {
  const closers: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const close of closers) await close();
  });

  it('finds no failure on a conforming server (writes included)', async () => {
    const lines: string[] = [];
    const report = await runConformance({ base: server.url, spec, seed: 42, runs: 4, log: (l) => lines.push(l) });
    expect(lines.filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(report.failures).toEqual([]);
    expect(report.operations).toBeGreaterThan(25);
    expect(report.requests).toBeGreaterThan(100);
    // It follows what it created: reads and writes of ids reach real resources, not only 404s.
    const succeeded = (id: string) => Object.entries(report.statuses[id] ?? {}).some(([status, n]) => Number(status) < 300 && n > 0);
    for (const id of ['registerUser', 'login', 'createProperty', 'getProperty', 'getUser', 'getCurrentUser']) {
      expect(succeeded(id), id).toBe(true);
    }
  }, 120_000);

  it('finds no failure with invalid requests too: each gets a declared 4xx', async () => {
    const lines: string[] = [];
    const report = await runConformance({ base: server.url, spec, seed: 9, runs: 2, invalid: true, log: (l) => lines.push(l) });
    expect(lines.filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(report.failures).toEqual([]);
    expect(report.statuses.getProperty?.['400']).toBeGreaterThan(0);
  }, 120_000);

  it('only GETs with --read-only', async () => {
    const report = await runConformance({ base: server.url, spec, seed: 7, runs: 2, readOnly: true });
    expect(report.failures).toEqual([]);
    expect(report.operations).toBe(Object.values<any>(spec.paths).filter((item) => item.get).length);
  }, 60_000);

  it('reports a planted wrong field with a curl line that reproduces it', async () => {
    const proxy = await brokenProxy(server.url);
    closers.push(proxy.close);
    const report = await runConformance({ base: proxy.url, spec, seed: 42, runs: 2 });
    const failure = report.failures.find((f) => f.operationId === 'getCurrentUser');
    expect(failure).toBeDefined();
    expect(failure!.status).toBe(200);
    expect(failure!.problems.join('\n')).toMatch(/body \/role must be equal to one of the allowed values/);
    expect(failure!.curl).toBe(`curl -sS -i -X GET '${proxy.url}/users/me' -H "Authorization: Bearer $TOKEN"`);
    expect(report.failures.map((f) => f.operationId)).toEqual(report.failures.map(() => 'getCurrentUser'));
  }, 120_000);
});
