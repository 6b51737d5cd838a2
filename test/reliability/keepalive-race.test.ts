/**
 * Reliability case 10: the keep-alive race (nodejs/node#47130). The app closes idle connections after its
 * keepAliveTimeout; a proxy that reuses such a socket just as the app closes it gets ECONNRESET. Requests through the
 * queue-proxy spaced across the app's timeout (scaled to 200 ms: gaps 185–215 ms, four clients) see no error.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import { sleep, startApp, startQp } from '../proxy/fixtures.js';
import { httpIssue, printFigures } from './support.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

describe('reliability 10: keep-alive race', () => {
  it('requests spaced around the app keep-alive timeout: no errors', async () => {
    const app = await startApp();
    closers.push(() => app.close());
    app.server.keepAliveTimeout = 200;
    let closedByApp = 0;
    app.server.on('connection', (s) => s.on('close', () => closedByApp++));
    const qp = await startQp(app.port);
    closers.push(() => qp.close());
    const agent = new Agent({ connections: 4, keepAliveTimeout: 60_000 });
    closers.push(() => agent.close());
    const url = `http://127.0.0.1:${qp.ports.serving}/`;
    const failed: Record<string, number> = {};
    let sent = 0;
    await Promise.all(
      Array.from({ length: 4 }, async (_, client) => {
        for (let i = 0; i < 8; i++) {
          const gap = 185 + client + 4 * i; // 185–216 ms across the four clients
          const r = await httpIssue(agent, url);
          sent++;
          if (!r.ok) failed[r.error ?? 'unknown'] = (failed[r.error ?? 'unknown'] ?? 0) + 1;
          await sleep(gap);
        }
      }),
    );
    const succeeded = sent - Object.values(failed).reduce((a, b) => a + b, 0);
    printFigures('10 (keep-alive race)', { sent, succeeded, failed, appClosedIdleConnections: closedByApp });
    expect(sent).toBe(32);
    expect(failed).toEqual({});
    // The race was really run: the app closed idle connections under the proxy many times.
    expect(closedByApp).toBeGreaterThan(5);
  });
});
