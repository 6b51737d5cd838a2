import * as http2 from 'node:http2';
import * as net from 'node:net';
import { createListener } from '../../common/http/server.js';
import { respondText } from '../../common/http/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../support/fake-clock.js';
import { revision, send, startActivatorHarness, until, type Harness } from './harness.js';
import { startPod, type FakePod } from './pods.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

async function harness(...args: Parameters<typeof startActivatorHarness>): Promise<Harness> {
  const h = await startActivatorHarness(...args);
  open.push(h);
  return h;
}
async function pod(name: string, opts?: Parameters<typeof startPod>[1]): Promise<FakePod> {
  const p = await startPod(name, opts);
  open.push(p);
  return p;
}
const eps = (...pods: FakePod[]) => pods.map((p) => ({ name: p.name, address: p.address, ready: true }));

describe('§b3 scale from zero: hold, then throttle to containerConcurrency', () => {
  it('100 concurrent requests at zero, CC 1 pods appearing later: all succeed, no pod ever over 1 in flight', async () => {
    const h = await harness({ revisions: [revision('hello', { containerConcurrency: 1 })] });
    const pods = await Promise.all([pod('a', { delayMs: 5 }), pod('b', { delayMs: 5 }), pod('c', { delayMs: 5 })]);
    const replies = Array.from({ length: 100 }, (_, i) => send(h.port, { path: `/r${i}` }));
    await until(() => h.app.revisionState('default', 'hello')?.waiting === 100);
    h.endpoints.set('default', 'hello', eps(pods[0]));
    await new Promise((r) => setTimeout(r, 30));
    h.endpoints.set('default', 'hello', eps(...pods));
    const got = await Promise.all(replies);
    expect(got.map((r) => r.status)).toEqual(Array(100).fill(200));
    for (const p of pods) expect(p.maxInFlight).toBe(1);
    expect(pods.reduce((n, p) => n + p.served, 0)).toBe(100);
    // §b5: the first request poked the autoscaler at once with concurrency 1 and request count 1.
    expect(h.sink.reports[0]).toEqual([
      { namespace: 'default', revision: 'hello', stat: expect.objectContaining({ podName: 'activator', averageConcurrentRequests: 1, requestCount: 1 }) as unknown },
    ]);
    expect(h.app.inFlight).toBe(0);
    const m = await h.app.metrics();
    expect(m).toMatch(/tide_activator_cold_start_wait_seconds_count\{namespace="default",revision="hello"\} 100/);
    expect(m).toMatch(/kn_revision_request_queued\{namespace="default",revision="hello"\} 0/);
    expect(m).toMatch(/kn_revision_request_concurrency\{namespace="default",revision="hello"\} 0/);
  });

  it('pods appearing and vanishing mid-burst lose nothing', async () => {
    const h = await harness({ revisions: [revision('hello', { containerConcurrency: 2 })] });
    const [a, b, c, d] = await Promise.all(['a', 'b', 'c', 'd'].map((n) => pod(n, { delayMs: 10 })));
    h.endpoints.set('default', 'hello', eps(a!, b!));
    await until(() => h.app.revisionState('default', 'hello')?.healthyPods === 2);
    const replies = Array.from({ length: 60 }, () => send(h.port));
    await until(() => a!.served + b!.served >= 4);
    h.endpoints.set('default', 'hello', eps(b!, c!)); // a leaves (its in-flight requests finish), c comes
    await until(() => c!.served >= 2);
    // Requests sent to a before it left have arrived by now (≥ 10 ms later); none may arrive after.
    const aAfterRemoval = a!.served + a!.inFlight;
    h.endpoints.set('default', 'hello', eps(c!, d!)); // b leaves, d comes
    await until(() => d!.served >= 2);
    const bAfterRemoval = b!.served + b!.inFlight;
    const got = await Promise.all(replies);
    expect(got.filter((r) => r.status !== 200)).toEqual([]);
    for (const p of [a, b, c, d]) expect(p!.maxInFlight).toBeLessThanOrEqual(2);
    expect(a!.served + b!.served + c!.served + d!.served).toBe(60);
    // Nothing new went to a pod after it left.
    expect([a!.served, b!.served]).toEqual([aAfterRemoval, bAfterRemoval]);
    expect(d!.served).toBeGreaterThan(0);
  });

  it('a request whose connection to a pod fails before sending goes to another pod; the dead pod is re-probed', async () => {
    const h = await harness({ revisions: [revision('hello', { containerConcurrency: 1 })], config: { probeIntervalMs: 20 } });
    const pods = await Promise.all([pod('x'), pod('y')]);
    // First available (CC ≤ 3) tries pods in address order: kill the one that sorts first.
    const [dead, alive] = [...pods].sort((p, q) => (p.address < q.address ? -1 : 1));
    h.endpoints.set('default', 'hello', eps(dead!, alive!));
    await until(() => h.app.revisionState('default', 'hello')?.healthyPods === 2);
    await dead!.kill();
    for (let i = 0; i < 5; i++) expect((await send(h.port)).status).toBe(200);
    expect(alive!.served).toBe(5);
    expect(h.app.revisionState('default', 'hello')?.healthyPods).toBe(1);
  });
});

describe('bounds: 503 with Retry-After, 504 activator request timeout, nothing leaks', () => {
  it('queue full → 503 with Retry-After; timeout → 504; no timers, holds or sockets left; stats averages exact', async () => {
    const clock = new FakeClock();
    const h = await harness({ revisions: [revision('hello', { timeoutSeconds: 10, responseStartTimeoutSeconds: 10 })], clock, config: { maxWaitingPerRevision: 2, retryAfterSeconds: 7 } });
    const baseline = clock.pending; // the stats ticker
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const socketsBefore = sockets();
    const first = send(h.port);
    const second = send(h.port);
    await until(() => h.app.revisionState('default', 'hello')?.waiting === 2);
    const third = await send(h.port);
    expect(third.status).toBe(503);
    expect(third.headers['retry-after']).toBe('7');
    // §b5 with a FakeClock: two held for the whole first second → average 2, minus the poke's 1; count 3 − 1.
    clock.advance(1000);
    const last = h.sink.reports.at(-1)!;
    expect(last[0]!.stat).toMatchObject({ averageConcurrentRequests: 1, requestCount: 2 });
    clock.advance(1000);
    expect(h.sink.reports.at(-1)![0]!.stat).toMatchObject({ averageConcurrentRequests: 2, requestCount: 0 });
    clock.advance(8000);
    const [r1, r2] = await Promise.all([first, second]);
    expect([r1.status, r1.body, r2.status, r2.body]).toEqual([504, 'activator request timeout', 504, 'activator request timeout']);
    await until(() => h.app.inFlight === 0 && h.listener.inFlight === 0);
    expect(clock.pending).toBe(baseline);
    // Every client connection and its server side are gone again (nothing was dialled upstream).
    await until(() => sockets() <= socketsBefore);
    expect(h.app.revisionState('default', 'hello')?.waiting).toBe(0);
    const m = await h.app.metrics();
    expect(m).toMatch(/tide_activator_timeouts_total\{namespace="default",revision="hello"\} 2/);
    expect(m).toMatch(/tide_activator_rejected_total\{namespace="default",revision="hello",reason="revision-full"\} 1/);
  });

  it('total and body-byte bounds also refuse with 503', async () => {
    const h = await harness({
      revisions: [revision('hello'), revision('other')],
      config: { maxWaitingTotal: 1, maxWaitingPerRevision: 5, maxHeldBodyBytes: 10, heldBodyBytesPerRequest: 10 },
    });
    const held = send(h.port, { body: 'x' });
    await until(() => h.app.revisionState('default', 'hello')?.waiting === 1);
    const other = await send(h.port, { host: 'other.localhost' });
    expect(other.status).toBe(503);
    expect(other.body).toContain('total-full');
    const p = await pod('a');
    h.endpoints.set('default', 'hello', eps(p));
    expect((await held).status).toBe(200);
    expect((await held).body).toBe('a:1');
  });
});

describe('§b2 routing and probes', () => {
  it('unknown revision → 404 and the activator connects nowhere (no Host SSRF)', async () => {
    const h = await harness({ revisions: [revision('hello')] });
    const victim = await pod('victim');
    for (const r of [
      await send(h.port, { host: victim.address }),
      await send(h.port, { host: 'nope.localhost' }),
      await send(h.port, { headers: { 'knative-serving-namespace': 'default', 'knative-serving-revision': victim.address } }),
    ]) expect(r.status).toBe(404);
    expect(victim.connections).toBe(0);
  });

  it('by default a 404 names nothing the activator serves (in a cluster it must not list hosts)', async () => {
    const h = await harness({ revisions: [revision('hello')] });
    const r = await send(h.port, { host: 'nope.localhost' });
    expect(r.status).toBe(404);
    expect(r.body).toBe('no such revision');
  });

  it('a notFoundText option (set by tide up) writes the 404 body from the Host asked for', async () => {
    const asked: (string | undefined)[] = [];
    const h = await harness({ revisions: [revision('hello')], notFoundText: (host) => (asked.push(host), `not here: ${host ?? '-'}`) });
    const r = await send(h.port, { host: 'nope.localhost:8080' });
    expect({ status: r.status, body: r.body }).toEqual({ status: 404, body: 'not here: nope.localhost:8080' });
    expect(asked).toEqual(['nope.localhost:8080']);
    // Probes and known revisions never reach it.
    expect((await send(h.port, { headers: { 'k-network-probe': 'activator' } })).body).toBe('activator');
    expect(asked).toHaveLength(1);
  });

  it.each([
    { name: 'kubelet probe → 200', headers: { 'user-agent': 'kube-probe/1.30' }, status: 200, body: 'ok' },
    { name: 'K-Network-Probe: activator → 200 activator', headers: { 'k-network-probe': 'activator' }, status: 200, body: 'activator' },
    { name: 'K-Network-Probe: queue → 400', headers: { 'k-network-probe': 'queue' }, status: 400, body: undefined },
    { name: 'K-Network-Probe: probe without hash → 400', headers: { 'k-network-probe': 'probe' }, status: 400, body: undefined },
  ])('$name', async ({ headers, status, body }) => {
    const h = await harness({ revisions: [revision('hello')] });
    const r = await send(h.port, { headers });
    expect(r.status).toBe(status);
    if (body !== undefined) expect(r.body).toBe(body);
  });

  it('K-Network-Probe: probe echoes the hash', async () => {
    const h = await harness({ revisions: [revision('hello')] });
    const r = await send(h.port, { headers: { 'k-network-probe': 'probe', 'k-network-hash': 'abc123' } });
    expect([r.status, r.headers['k-network-hash']]).toEqual([200, 'abc123']);
  });

  it('health fails while the autoscaler is unreachable and after drain begins', async () => {
    const h = await harness({ revisions: [revision('hello')] });
    const probe = { 'user-agent': 'kube-probe/1.30' };
    h.sink.reachable = false;
    expect((await send(h.port, { headers: probe })).status).toBe(500);
    h.sink.reachable = true;
    expect((await send(h.port, { headers: probe })).status).toBe(200);
    h.app.beginDrain();
    expect((await send(h.port, { headers: probe })).status).toBe(500);
    expect(h.app.isReady()).toBe(false);
  });
});

describe('§b2 / §a9 headers, serve and proxy modes', () => {
  it('proxy mode: K-Proxy-Request: activator, Host moved to K-Original-Host, revision headers stripped', async () => {
    const h = await harness({ revisions: [revision('hello')] });
    const p = await pod('a');
    h.endpoints.set('default', 'hello', eps(p));
    const r = await send(h.port, { host: 'Hello.localhost:8012', headers: { 'knative-serving-namespace': 'default', 'knative-serving-revision': 'hello' } });
    expect(r.status).toBe(200);
    const seen = p.seen[0]!;
    expect(seen['k-proxy-request']).toBe('activator');
    expect(seen['k-original-host']).toBe('Hello.localhost:8012');
    expect(seen['knative-serving-revision']).toBeUndefined();
    expect(seen['knative-serving-namespace']).toBeUndefined();
  });

  it('serve mode: straight to a ready pod, round robin, no K-Proxy-Request, not counted in stats', async () => {
    const h = await harness({ revisions: [revision('hello')] });
    const [a, b] = await Promise.all([pod('a'), pod('b')]);
    h.endpoints.set('default', 'hello', eps(a, b));
    h.app.setMode('default', 'hello', 'serve');
    for (let i = 0; i < 4; i++) expect((await send(h.port, { headers: { 'k-proxy-request': 'activator' } })).status).toBe(200);
    expect([a.served, b.served]).toEqual([2, 2]);
    expect(a.seen[0]!['k-proxy-request']).toBeUndefined();
    expect(a.seen[0]!.host).toBe('hello.localhost');
    expect(h.sink.reports).toEqual([]);
  });

  it('§b4: a pod is used only after its probe passes, and a pod that fails probes is never used', async () => {
    let healthy = false;
    const h = await harness({ revisions: [revision('hello')], config: { probeIntervalMs: 20 } });
    const p = await pod('a', { healthy: () => healthy });
    h.endpoints.set('default', 'hello', [{ name: 'a', address: p.address, ready: false }]);
    const reply = send(h.port);
    await until(() => p.probes >= 3);
    expect(p.served).toBe(0);
    healthy = true;
    expect((await reply).status).toBe(200);
    expect(p.served).toBe(1);
    expect(p.probeUserAgent).toBe('Knative-Activator-Probe');
  });
});

describe('sources out of order', () => {
  it('endpoints that arrive before their revision is known are used once it is', async () => {
    const h = await harness({ revisions: [] });
    const p = await pod('a');
    h.endpoints.set('default', 'late', eps(p));
    expect((await send(h.port, { host: 'late.localhost' })).status).toBe(404);
    h.revisions.set(revision('late'));
    expect((await send(h.port, { host: 'late.localhost' })).body).toBe('a:0');
  });
});

describe('drain', () => {
  it('after SIGTERM a held request is still served when a pod comes; then the activator is idle', async () => {
    const h = await harness({ revisions: [revision('hello')] });
    const held = send(h.port);
    await until(() => h.app.revisionState('default', 'hello')?.waiting === 1);
    h.app.beginDrain();
    const closing = h.listener.close({ timeoutMs: 5000 });
    const p = await pod('a');
    h.endpoints.set('default', 'hello', eps(p));
    expect((await held).status).toBe(200);
    await closing;
    await h.app.idle();
    // The listener no longer accepts.
    await expect(
      new Promise((resolve, reject) => {
        const s = net.connect(h.port, '127.0.0.1', () => resolve(s.end()));
        s.on('error', reject);
      }),
    ).rejects.toThrow();
  });
});

describe('pass-through', () => {
  it('WebSockets: held until a pod is ready, then relayed with the activator headers', async () => {
    const { WebSocket } = await import('ws');
    const h = await harness({ revisions: [revision('hello')] });
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}/chat`, { headers: { host: 'hello.localhost' } });
    open.push({ close: () => Promise.resolve(ws.terminate()) });
    await until(() => h.app.revisionState('default', 'hello')?.waiting === 1);
    const p = await pod('a', { websocket: true });
    h.endpoints.set('default', 'hello', eps(p));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const echo = new Promise<string>((resolve) => ws.once('message', (m: Buffer) => resolve(m.toString())));
    ws.send('hi');
    expect(await echo).toBe('a:hi');
    expect(p.seen[0]!['k-proxy-request']).toBe('activator');
    ws.close();
    await until(() => h.app.inFlight === 0);
  });

  it('streams a request body held while waiting (paused, then forwarded whole)', async () => {
    const h = await harness({ revisions: [revision('hello')] });
    const body = 'x'.repeat(200_000);
    const reply = send(h.port, { body });
    await until(() => h.app.revisionState('default', 'hello')?.waiting === 1);
    const p = await pod('a');
    h.endpoints.set('default', 'hello', eps(p));
    expect((await reply).body).toBe('a:200000');
  });

  it('h2c (gRPC-style) requests reach an h2c pod over h2c, with the activator headers', async () => {
    const h = await harness({ revisions: [revision('hello')] });
    // A queue-proxy-like pod on the shared listener: HTTP/1.1 probes and h2c on one port.
    const podListener = createListener({
      handler: (req, res) => {
        if (req.headers['k-network-probe'] === 'queue') return void respondText(res, 200, 'queue');
        respondText(res, 200, `${req.httpVersion} ${String(req.headers['k-proxy-request'])} ${String(req.headers['k-original-host'])}`);
      },
    });
    const podPort = await podListener.listen(0, '127.0.0.1');
    open.push({ close: () => podListener.close({ timeoutMs: 1000 }) });
    h.endpoints.set('default', 'hello', [{ name: 'h2', address: `127.0.0.1:${podPort}`, ready: true }]);
    const session = http2.connect(`http://127.0.0.1:${h.port}`);
    open.push({ close: () => new Promise<void>((r) => session.close(() => r())) });
    const body = await new Promise<string>((resolve, reject) => {
      const stream = session.request({ ':path': '/', ':authority': 'hello.localhost' });
      let data = '';
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => (data += d));
      stream.on('end', () => resolve(data));
      stream.on('error', reject);
      stream.end();
    });
    expect(body).toBe('2.0 activator hello.localhost');
  });
});
