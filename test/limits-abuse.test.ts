/**
 * `npm run abuse` (scripts/abuse.ts) against a test server with the default budgets
 * (RATE_LIMITS on, nothing else changed): its figures show each limit holding.
 */
import { describe, expect, it } from 'vitest';
import { runAbuse } from '../scripts/abuse.js';
import { useTestApp } from './support/app.js';

const { server } = useTestApp({ config: { rateLimits: true } });

describe('npm run abuse', () => {
  it('shows the sign-in and request limits holding, and reports the hold cap and the GraphQL fan-out', async () => {
    const lines: string[] = [];
    const figures = await runAbuse(server.url, (line) => lines.push(line));

    // 40 passwords at once: LOGIN_MAX_FAILURES (10) checked, the rest, the right one too, refused.
    expect(figures.signIn).toMatchObject({ sent: 40, checked: 10, refused: 30, rightPassword: 429, held: true });
    // 300 GETs: at most the request budget answered, the rest 429 with Retry-After.
    expect(figures.requests.ok + figures.requests.limited).toBe(300);
    expect(figures.requests.ok).toBeLessThanOrEqual(server.deps.config.rateLimitRequests);
    expect(figures.requests.limited).toBeGreaterThanOrEqual(300 - server.deps.config.rateLimitRequests);
    expect(Number(figures.requests.retryAfter)).toBeGreaterThan(0);
    expect(figures.requests.policy).toBe(`"requests";q=${server.deps.config.rateLimitRequests};w=60`);
    // The hold cap and the GraphQL cost limit are other helpers' work: reported either way, never a 5xx.
    expect(figures.holdCap.accepted).toBeGreaterThan(0);
    expect(figures.holdCap.stoppedBy).not.toMatch(/^5/);
    expect(figures.graphql.status).toBeLessThan(500);
    expect(figures.graphql.ms).toBeGreaterThan(0);
    expect(lines).toHaveLength(4);
    expect(lines.join('\n')).toMatch(/^hold cap: .*\ngraphql fan-out: .*\nsign-in burst: 40 sent at once, 10 passwords checked, 30 refused with 429; the right password \(40th\) got 429\nrequest burst: 300 GETs at once, \d+ x 200, \d+ x 429/);
  });
});
