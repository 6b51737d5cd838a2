import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../common/clock.js';
import { createHttpProber } from '../../../activator/http/prober.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function serve(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(s.address() as AddressInfo).port}`;
}

describe('§b4 pod probe', () => {
  const probe = createHttpProber({ clock: systemClock, timeoutMs: 100 });

  it('passes on 200 "queue" and sends the Knative probe headers', async () => {
    let seen: http.IncomingHttpHeaders = {};
    let path = '';
    const addr = await serve((req, res) => {
      seen = req.headers;
      path = req.url ?? '';
      res.end('queue');
    });
    expect(await probe(addr)).toBe(true);
    expect([path, seen['k-network-probe'], seen['user-agent']]).toEqual(['/healthz', 'queue', 'Knative-Activator-Probe']);
  });

  it.each([
    { name: '200 with another body', status: 200, body: 'ok' },
    { name: '503 "queue"', status: 503, body: 'queue' },
    { name: 'a huge body', status: 200, body: 'q'.repeat(100_000) },
  ])('fails on $name', async ({ status, body }) => {
    const addr = await serve((_req, res) => res.writeHead(status).end(body));
    expect(await probe(addr)).toBe(false);
  });

  it('fails on a refused connection and on a malformed address', async () => {
    const addr = await serve((_req, res) => res.end('queue'));
    const s = servers.pop()!;
    await new Promise<void>((r) => s.close(() => r()));
    expect(await probe(addr)).toBe(false);
    expect(await probe('not-an-address')).toBe(false);
  });

  it('fails after the timeout when the pod never answers', async () => {
    const addr = await serve(() => undefined);
    const t0 = Date.now();
    expect(await probe(addr)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
