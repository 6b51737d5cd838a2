/**
 * upstreamProtocol 'h2c': the activator sends bodiless HTTP/1.1 requests to the pod's queue-proxy as h2 streams over
 * a few cleartext connections; requests with a body keep HTTP/1.1. Checked against the real queue-proxy
 * (startQueueProxy). The queue-proxy relays the protocol it receives, so the app behind it must speak h2c too: here it
 * is the shared listener (HTTP/1.1 + h2c on one port), as a gRPC or h2c app would be.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import { resolveActivatorConfig } from '../../activator/config.js';
import { createListener } from '../../common/http/server.js';
import { call, startQp } from '../proxy/fixtures.js';
import { revision, startActivatorHarness } from './harness.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

interface SeenByApp {
  url: string;
  version: number;
  host: string | undefined;
  body: string;
}

/** An app on the shared listener (h1 + h2c) that records what it got and answers `ok:<body length>`. */
async function startH2cApp(): Promise<{ port: number; seen: SeenByApp[] }> {
  const seen: SeenByApp[] = [];
  const listener = createListener({
    handler: (req, res) =>
      new Promise<void>((resolve) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          const host = req.httpVersionMajor === 2 ? req.headers[':authority'] : req.headers.host;
          seen.push({ url: req.url ?? '', version: req.httpVersionMajor, host: typeof host === 'string' ? host : undefined, body });
          res.end(`ok:${body.length}`);
          resolve();
        });
      }),
  });
  const port = await listener.listen(0, '127.0.0.1');
  closers.push(() => listener.close({ timeoutMs: 500 }));
  return { port, seen };
}

async function setup(): Promise<{ agent: Agent; port: number; app: { seen: SeenByApp[] }; stat: () => { requestCount: number; proxiedRequestCount: number } }> {
  const app = await startH2cApp();
  const qp = await startQp(app.port);
  closers.push(() => qp.close());
  const h = await startActivatorHarness({ revisions: [revision('hello', { containerConcurrency: 0 })], config: { upstreamProtocol: 'h2c' } });
  closers.push(() => h.close());
  const agent = new Agent({ connections: 10 });
  closers.push(() => agent.close());
  h.endpoints.set('default', 'hello', [{ name: 'pod-1', address: `127.0.0.1:${qp.ports.serving}`, ready: true }]);
  return {
    agent,
    port: h.port,
    app,
    stat: () => {
      qp.qp.reportTick();
      return qp.qp.latestStat();
    },
  };
}

describe('activator upstreamProtocol h2c (to the real queue-proxy)', () => {
  it('bodiless requests arrive over h2 with the original Host, are answered, and the queue-proxy counts them as proxied (K-Proxy-Request)', async () => {
    const { agent, port, app, stat } = await setup();
    const replies = await Promise.all([1, 2, 3].map((i) => call(agent, port, { path: `/x${i}`, headers: { host: 'hello.localhost' } })));
    expect(replies.map((r) => [r.status, r.body])).toEqual([
      [200, 'ok:0'],
      [200, 'ok:0'],
      [200, 'ok:0'],
    ]);
    expect(app.seen.map((s) => s.url).sort()).toEqual(['/x1', '/x2', '/x3']);
    expect(app.seen.map((s) => [s.version, s.host])).toEqual([
      [2, 'hello.localhost'],
      [2, 'hello.localhost'],
      [2, 'hello.localhost'],
    ]);
    expect(stat()).toMatchObject({ requestCount: 3, proxiedRequestCount: 3 });
  });

  it('a request with a body keeps HTTP/1.1 and its body arrives whole', async () => {
    const { agent, port, app, stat } = await setup();
    const body = 'x'.repeat(100_000);
    const r = await call(agent, port, { method: 'POST', path: '/post', headers: { host: 'hello.localhost' }, body });
    expect([r.status, r.body]).toEqual([200, `ok:${body.length}`]);
    expect(app.seen).toEqual([{ url: '/post', version: 1, host: 'hello.localhost', body }]);
    expect(stat()).toMatchObject({ requestCount: 1, proxiedRequestCount: 1 });
  });

  it.each([['http1'], ['h2c']])('config accepts upstreamProtocol %s', (v) => {
    expect(resolveActivatorConfig({ upstreamProtocol: v as 'http1' }).upstreamProtocol).toBe(v);
  });

  it('config rejects an unknown upstreamProtocol, naming the key; the default is http1', () => {
    expect(() => resolveActivatorConfig({ upstreamProtocol: 'h3' as 'http1' }, 'activator.')).toThrow(/activator\.upstreamProtocol: expected one of http1, h2c/);
    expect(resolveActivatorConfig({}).upstreamProtocol).toBe('http1');
  });
});
