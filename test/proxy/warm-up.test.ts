import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseQueueProxyConfig } from '../../proxy/config.js';
import { warmUpServingPath } from '../../proxy/warm-up.js';

const ENV = {
  CONTAINER_CONCURRENCY: '0',
  REVISION_TIMEOUT_SECONDS: '30',
  SERVING_NAMESPACE: 'ns',
  SERVING_CONFIGURATION: 'c',
  SERVING_REVISION: 'r',
  SERVING_POD: 'p',
  SERVING_POD_IP: '127.0.0.1',
};

describe('warmUpServingPath', () => {
  it('drives requests through the serving path to a loopback sink, never to the app', async () => {
    let appRequests = 0;
    const app = createServer((_req, res) => {
      appRequests++;
      res.end('app');
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    try {
      const config = parseQueueProxyConfig({ ...ENV, USER_PORT: String((app.address() as AddressInfo).port) });
      const w = await warmUpServingPath(config, { requests: 50, concurrency: 4, maxMs: 5_000 });
      expect(w.requests).toBe(50);
      expect(appRequests).toBe(0);
    } finally {
      await new Promise<void>((r) => app.close(() => r()));
    }
  });

  it('stops starting requests after maxMs', async () => {
    const config = parseQueueProxyConfig({ ...ENV, USER_PORT: '1' });
    const w = await warmUpServingPath(config, { requests: 1_000_000, concurrency: 2, maxMs: 30 });
    expect(w.requests).toBeGreaterThan(0);
    expect(w.requests).toBeLessThan(1_000_000);
  });

  it('is on for 60 ms by default and off with TIDE_WARM_UP_MS=0', () => {
    expect(parseQueueProxyConfig({ ...ENV, USER_PORT: '8080' }).warmUpMs).toBe(60);
    expect(parseQueueProxyConfig({ ...ENV, USER_PORT: '8080', TIDE_WARM_UP_MS: '0' }).warmUpMs).toBe(0);
  });
});
