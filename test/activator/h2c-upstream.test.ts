/**
 * upstreamProtocol (Tide only): with `h2c` the activator sends every request to a pod's queue-proxy as an h2c stream
 * over a few shared connections, and marks an HTTP/1.x client's request `Tide-Client-Protocol: http/1.1` so the
 * queue-proxy sends it on to the app over HTTP/1.1: the app hears what the client spoke, as in Knative, whose
 * activator keeps the client's protocol on every hop. With `http1` requests keep the client's protocol on the wire too.
 * `auto`, the default, sends requests that waited for capacity as h2c streams and the others over HTTP/1.1.
 * A client cannot set the mark itself: the activator strips it and sets it only for HTTP/1.x clients.
 * The fake pods (pods.ts) listen on the shared listener like the queue-proxy; the end-to-end cases use the real one.
 */
import * as http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { resolveActivatorConfig, type ActivatorConfig } from '../../activator/config.js';
import { createListener } from '../../common/http/server.js';
import { startApp, startQp } from '../proxy/fixtures.js';
import { revision, send, startActivatorHarness, until, type Harness } from './harness.js';
import { startPod, type FakePod, type FakePodOptions } from './pods.js';
import { h2Request } from '../common/http/helpers.js';

const H2C: Partial<ActivatorConfig> = { upstreamProtocol: 'h2c' };

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

async function harness(config: Partial<ActivatorConfig> = {}): Promise<Harness> {
  const h = await startActivatorHarness({ revisions: [revision('hello', { containerConcurrency: 0 })], config });
  closers.push(() => h.close());
  return h;
}

async function pod(name: string, opts?: FakePodOptions): Promise<FakePod> {
  const p = await startPod(name, opts);
  closers.push(() => p.close());
  return p;
}

function route(h: Harness, address: string): void {
  h.endpoints.set('default', 'hello', [{ name: 'pod-1', address, ready: true }]);
}

/** One bodiless GET from an h2 client (node:http2) for hello.localhost on its own session, closed in afterEach. */
async function h2Get(port: number, headers: http2.OutgoingHttpHeaders): Promise<{ status: number; body: string }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  closers.push(() => Promise.resolve(void session.destroy()));
  const r = await h2Request(session, { ':authority': 'hello.localhost', ':path': '/', ...headers });
  return { status: r.status, body: r.body };
}

/** A pod that is routed and has passed its §b4 probe, so requests find capacity at once (no wait). */
async function readyPod(h: Harness, name: string, opts?: FakePodOptions): Promise<FakePod> {
  const p = await pod(name, opts);
  route(h, p.address);
  await until(() => h.app.revisionState('default', 'hello')?.healthyPods === 1);
  return p;
}

describe('upstreamProtocol auto (default): held requests released as h2c streams, the rest over HTTP/1.1', () => {
  it('requests that find a ready pod go over HTTP/1.1, unmarked', async () => {
    const h = await harness();
    const p = await readyPod(h, 'a');
    const got = await Promise.all([send(h.port), send(h.port, { method: 'POST', body: 'x'.repeat(1000), headers: { 'tide-client-protocol': 'http/1.1' } })]);
    expect(got.map((r) => r.status)).toEqual([200, 200]);
    expect(p.versions).toEqual(['1.1', '1.1']);
    expect(p.seen.map((s) => [s['tide-client-protocol'], s['k-proxy-request']])).toEqual([
      [undefined, 'activator'],
      [undefined, 'activator'],
    ]);
  });

  it('30 requests held at zero are released as h2 streams on one connection, each marked http/1.1', async () => {
    const h = await harness();
    const replies = Array.from({ length: 30 }, (_, i) => send(h.port, { path: `/held${i}` }));
    await until(() => h.app.revisionState('default', 'hello')?.waiting === 30);
    const p = await pod('a');
    route(h, p.address);
    const got = await Promise.all(replies);
    expect(got.map((r) => r.status)).toEqual(Array(30).fill(200));
    expect(p.versions).toEqual(Array(30).fill('2.0'));
    expect(p.requestConnections).toBe(1);
    expect(new Set(p.seen.map((s) => s['tide-client-protocol']))).toEqual(new Set(['http/1.1']));
    // Once the pod is warm, a request that does not wait goes over HTTP/1.1 again.
    expect((await send(h.port)).status).toBe(200);
    expect(p.versions.at(-1)).toBe('1.1');
  });

  it('serve mode never waits: HTTP/1.1, unmarked', async () => {
    const h = await harness();
    const p = await readyPod(h, 'a');
    h.app.setMode('default', 'hello', 'serve');
    expect((await send(h.port)).status).toBe(200);
    expect([p.versions, p.seen[0]!['tide-client-protocol']]).toEqual([['1.1'], undefined]);
  });
});

describe('upstreamProtocol h2c: HTTP/1.1 clients multiplexed to the pod', () => {
  it('20 concurrent GETs reach the pod as h2 streams on one connection, each marked http/1.1 with the §b2 proxy headers', async () => {
    const h = await harness(H2C);
    let release!: () => void;
    const p = await pod('a', { hold: new Promise<void>((r) => (release = r)) });
    route(h, p.address);
    const replies = Array.from({ length: 20 }, (_, i) => send(h.port, { path: `/r${i}?q=${i}` }));
    // All 20 are at the pod at once before any is answered: they share the connection, not take turns on it.
    await until(() => p.inFlight === 20);
    release();
    const got = await Promise.all(replies);
    expect(got.map((r) => [r.status, r.body])).toEqual(Array.from({ length: 20 }, () => [200, 'a:0']));
    expect(p.versions).toEqual(Array.from({ length: 20 }, () => '2.0'));
    expect(p.requestConnections).toBe(1);
    expect([...p.urls].sort()).toEqual(Array.from({ length: 20 }, (_, i) => `/r${i}?q=${i}`).sort());
    for (const s of p.seen) {
      expect([s['tide-client-protocol'], s['k-proxy-request'], s['k-original-host'], s.host]).toEqual(['http/1.1', 'activator', 'hello.localhost', p.address]);
    }
  });

  it('a POST with a 100 KB body goes as an h2 stream too and arrives whole', async () => {
    const h = await harness(H2C);
    const p = await readyPod(h, 'a');
    const r = await send(h.port, { method: 'POST', path: '/post', body: 'x'.repeat(100_000) });
    expect([r.status, r.body]).toEqual([200, 'a:100000']);
    expect([p.versions, p.urls]).toEqual([['2.0'], ['/post']]);
    expect(p.seen[0]!['tide-client-protocol']).toBe('http/1.1');
  });

  it('serve mode: h2 stream marked http/1.1, Host kept, no K-Proxy-Request', async () => {
    const h = await harness(H2C);
    const p = await readyPod(h, 'a');
    h.app.setMode('default', 'hello', 'serve');
    expect((await send(h.port, { headers: { 'k-proxy-request': 'activator' } })).status).toBe(200);
    expect(p.versions).toEqual(['2.0']);
    expect([p.seen[0]!['tide-client-protocol'], p.seen[0]!['k-proxy-request'], p.seen[0]!.host]).toEqual(['http/1.1', undefined, 'hello.localhost']);
  });
});

describe('Tide-Client-Protocol cannot be forged by a client', () => {
  it('an h2 client: the pod sees h2 and no mark, also when the client sent `tide-client-protocol: http/1.1`', async () => {
    const h = await harness();
    const p = await pod('a');
    route(h, p.address);
    expect(await h2Get(h.port, {})).toEqual({ status: 200, body: 'a:0' });
    expect(await h2Get(h.port, { 'tide-client-protocol': 'http/1.1' })).toEqual({ status: 200, body: 'a:0' });
    expect(p.versions).toEqual(['2.0', '2.0']);
    expect(p.seen.map((s) => [s['tide-client-protocol'], s['k-proxy-request']])).toEqual([
      [undefined, 'activator'],
      [undefined, 'activator'],
    ]);
  });

  it('an HTTP/1.1 client sending `tide-client-protocol: bogus`: the pod sees exactly http/1.1 (h2c)', async () => {
    const h = await harness(H2C);
    const p = await pod('a');
    route(h, p.address);
    expect((await send(h.port, { headers: { 'tide-client-protocol': 'bogus' } })).status).toBe(200);
    expect(p.seen[0]!['tide-client-protocol']).toBe('http/1.1');
  });
});

describe('upstreamProtocol http1', () => {
  it('HTTP/1.1 clients reach the pod over HTTP/1.1 with no mark, also when the client sent one', async () => {
    const h = await harness({ upstreamProtocol: 'http1' });
    const p = await pod('a');
    route(h, p.address);
    expect((await send(h.port)).status).toBe(200);
    expect((await send(h.port, { headers: { 'tide-client-protocol': 'http/1.1' } })).status).toBe(200);
    expect((await send(h.port, { method: 'POST', body: 'x'.repeat(1000) })).body).toBe('a:1000');
    expect(p.versions).toEqual(['1.1', '1.1', '1.1']);
    expect(p.seen.map((s) => s['tide-client-protocol'])).toEqual([undefined, undefined, undefined]);
    expect(p.seen[0]!['k-proxy-request']).toBe('activator');
  });

  it('h2 clients (gRPC) still reach the pod over h2c, unmarked (Knative keeps the client protocol)', async () => {
    const h = await harness({ upstreamProtocol: 'http1' });
    const p = await pod('a');
    route(h, p.address);
    expect(await h2Get(h.port, { 'tide-client-protocol': 'http/1.1' })).toEqual({ status: 200, body: 'a:0' });
    expect([p.versions, p.seen[0]!['tide-client-protocol']]).toEqual([['2.0'], undefined]);
  });
});

describe('end to end: activator → real queue-proxy → app', () => {
  it('an HTTP/1-only app hears HTTP/1.1 with the restored Host, whole bodies and no data-plane headers; the queue-proxy counts every request as proxied', async () => {
    const appVersions: string[] = [];
    const app = await startApp((req, res, body) => {
      appVersions.push(req.httpVersion);
      res.writeHead(200, { 'content-type': 'text/plain', 'x-app': 'yes' }).end(`app:${req.method}:${body.length}`);
    });
    closers.push(() => app.close());
    const qp = await startQp(app.port);
    closers.push(() => qp.close());
    const h = await harness(H2C);
    route(h, `127.0.0.1:${qp.ports.serving}`);
    const body = 'y'.repeat(100_000);
    const replies = await Promise.all([
      send(h.port, { path: '/g1' }),
      send(h.port, { path: '/g2?x=1' }),
      send(h.port, { path: '/g3' }),
      send(h.port, { method: 'POST', path: '/p', body }),
    ]);
    expect(replies.map((r) => [r.status, r.body, r.headers['x-app']])).toEqual([
      [200, 'app:GET:0', 'yes'],
      [200, 'app:GET:0', 'yes'],
      [200, 'app:GET:0', 'yes'],
      [200, 'app:POST:100000', 'yes'],
    ]);
    expect(appVersions).toEqual(['1.1', '1.1', '1.1', '1.1']);
    expect(app.seen.map((s) => [s.method, s.url]).sort()).toEqual([
      ['GET', '/g1'],
      ['GET', '/g2?x=1'],
      ['GET', '/g3'],
      ['POST', '/p'],
    ]);
    expect(app.seen.find((s) => s.method === 'POST')?.body).toBe(body);
    for (const s of app.seen) {
      expect(s.headers.host).toBe('hello.localhost');
      expect([s.headers['tide-client-protocol'], s.headers['k-proxy-request'], s.headers['k-original-host']]).toEqual([undefined, undefined, undefined]);
    }
    qp.qp.reportTick();
    expect(qp.qp.latestStat()).toMatchObject({ requestCount: 4, proxiedRequestCount: 4 });
  });

  it('an h2 client reaches an h2c app as h2 even when it forges the http/1.1 mark', async () => {
    const seen: { version: string; mark: unknown }[] = [];
    const appListener = createListener({
      handler: (req, res) => {
        seen.push({ version: req.httpVersion, mark: req.headers['tide-client-protocol'] });
        res.end('h2c-app');
      },
    });
    const appPort = await appListener.listen(0, '127.0.0.1');
    closers.push(() => appListener.close({ timeoutMs: 500 }));
    const qp = await startQp(appPort);
    closers.push(() => qp.close());
    const h = await harness(H2C);
    route(h, `127.0.0.1:${qp.ports.serving}`);
    expect(await h2Get(h.port, { 'tide-client-protocol': 'http/1.1' })).toEqual({ status: 200, body: 'h2c-app' });
    expect((await send(h.port)).body).toBe('h2c-app');
    expect(seen).toEqual([
      { version: '2.0', mark: undefined },
      { version: '1.1', mark: undefined },
    ]);
  });

  it('WebSocket upgrades stay HTTP/1.1 and pass the queue-proxy (the pod gets a Host; the app the original one)', async () => {
    const app = await startApp();
    const wss = new WebSocketServer({ server: app.server });
    const upgrades: (string | undefined)[][] = [];
    wss.on('connection', (ws, req) => {
      upgrades.push([req.headers.host, req.headers['k-proxy-request'] as string | undefined]);
      ws.on('message', (m: Buffer) => ws.send(`app:${m.toString()}`));
    });
    closers.push(async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      await app.close();
    });
    const qp = await startQp(app.port);
    closers.push(() => qp.close());
    const h = await harness();
    route(h, `127.0.0.1:${qp.ports.serving}`);
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}/chat`, { headers: { host: 'hello.localhost' } });
    closers.push(() => Promise.resolve(ws.terminate()));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const echo = new Promise<string>((resolve) => ws.once('message', (m: Buffer) => resolve(m.toString())));
    ws.send('hi');
    expect(await echo).toBe('app:hi');
    expect(upgrades).toEqual([['hello.localhost', undefined]]);
    ws.close();
    await until(() => h.listener.upgradedCount === 0 && h.app.inFlight === 0);
  });
});

describe('config', () => {
  it.each([['auto'], ['http1'], ['h2c']])('accepts upstreamProtocol %s', (v) => {
    expect(resolveActivatorConfig({ upstreamProtocol: v as 'http1' }).upstreamProtocol).toBe(v);
  });

  it('rejects an unknown upstreamProtocol, naming the key; the default is auto', () => {
    expect(() => resolveActivatorConfig({ upstreamProtocol: 'h3' as 'http1' }, 'activator.')).toThrow(/activator\.upstreamProtocol: expected one of auto, http1, h2c/);
    expect(resolveActivatorConfig({}).upstreamProtocol).toBe('auto');
  });
});
