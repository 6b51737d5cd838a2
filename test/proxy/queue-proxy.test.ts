/** The whole queue-proxy on 127.0.0.1:0 in front of a scriptable app: breaker, probes, stats, metrics, timeouts, retries, circuit. */
import { afterEach, describe, expect, it } from 'vitest';
import { get as httpGet } from 'node:http';
import { Agent } from 'undici';
import { systemClock, type Clock } from '../../common/clock.js';
import { QueueStatsClient } from '../../common/http/stats-grpc.js';
import type { RunningQueueProxy } from '../../proxy/main.js';
import { call, KUBE_PROBE, sleep, slow, startApp, startQp, until, type TestApp } from './fixtures.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function setup(env: Record<string, string>, app: TestApp | undefined = undefined, opts: Parameters<typeof startQp>[2] = {}) {
  const a = app ?? (await startApp());
  if (!app) closers.push(() => a.close());
  const qp = await startQp(a.port, env, opts);
  closers.push(() => qp.close());
  const agent = new Agent({ connections: 100 });
  closers.push(() => agent.close());
  return { app: a, qp, agent, port: qp.ports.serving };
}

async function metricsText(qp: RunningQueueProxy, agent: Agent): Promise<string> {
  return (await call(agent, qp.ports.metrics, { path: '/metrics' })).body;
}

function metricValue(text: string, name: string, labelPart = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(name) && l.includes(labelPart) && !l.startsWith('#'));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('breaker (§a4)', () => {
  it('§a4 CC=1, queue 10, 12 concurrent: exactly 1 immediate 503 `pending request queue full`, 11× 200', async () => {
    const { app, qp, agent, port } = await setup({ CONTAINER_CONCURRENCY: '1' });
    app.behave(slow(50));
    const replies = await Promise.all(Array.from({ length: 12 }, async () => ({ ...(await call(agent, port)), endAt: Date.now() })));
    const refused = replies.filter((r) => r.status === 503);
    const served = replies.filter((r) => r.status === 200);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.body).toBe('pending request queue full');
    expect(served).toHaveLength(11);
    // Immediate: the refusal did not wait for any slot to free.
    expect(refused[0]!.endAt).toBeLessThanOrEqual(Math.min(...served.map((r) => r.endAt)));
    expect(app.seen).toHaveLength(11);
    expect(metricValue(await metricsText(qp, agent), 'tide_queue_proxy_breaker_overflow_total')).toBe(1);
  });

  it('§a4 CC=0 means no breaker: 15 concurrent all reach the app', async () => {
    const { app, qp, agent, port } = await setup({ CONTAINER_CONCURRENCY: '0' });
    app.behave(slow(30));
    const replies = await Promise.all(Array.from({ length: 15 }, () => call(agent, port)));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(qp.qp.breaker).toBeUndefined();
  });

  it('§a6 probes never wait in the queue: a health check answers while every slot is taken', async () => {
    const { app, qp, agent, port } = await setup({ CONTAINER_CONCURRENCY: '1' });
    app.behave(slow(150));
    let completed = 0;
    const load = Promise.all(Array.from({ length: 11 }, () => call(agent, port).then(() => completed++)));
    await until(() => qp.qp.breaker!.inFlight === 11);
    const probe = await call(agent, port, { headers: KUBE_PROBE });
    expect(probe).toMatchObject({ status: 200, body: 'queue' });
    // Queued, it would have waited for ten 150 ms requests; it came back before even the second finished.
    expect(completed).toBeLessThanOrEqual(1);
    // Spoofed probe markers are answered as probes, never sent to the app around the breaker (§e2).
    for (const headers of [
      { 'user-agent': 'kube-probe/1.0' },
      { 'k-kubelet-probe': 'x' },
      { 'user-agent': 'Knative-Activator-Probe' },
      { 'user-agent': 'Knative-Autoscaling-Probe', 'k-network-probe': 'queue' },
      { 'k-network-probe': 'probe', 'k-network-hash': 'h' },
    ]) {
      const spoof = await call(agent, port, { path: '/admin', headers });
      expect([200, 400]).toContain(spoof.status);
    }
    expect(qp.qp.breaker!.inFlight).toBe(11);
    expect(qp.qp.stats.concurrency).toBe(11);
    await load;
    expect(app.seen.map((s) => s.url)).not.toContain('/admin');
  });
});

describe('probes (§a6)', () => {
  it('§a3 hash probe echoes K-Network-Hash for any path, 400 without it', async () => {
    const { app, agent, port } = await setup({});
    const ok = await call(agent, port, { path: '/x', headers: { 'k-network-probe': 'probe', 'k-network-hash': 'abc' } });
    expect(ok.status).toBe(200);
    expect(ok.headers['k-network-hash']).toBe('abc');
    expect((await call(agent, port, { headers: { 'k-network-probe': 'probe' } })).status).toBe(400);
    expect(app.seen).toHaveLength(0);
  });

  it('§a6 not ready → 503 empty; ready → 200 queue; other probe value → 400', async () => {
    const app = await startApp();
    const appPort = app.port;
    await app.close();
    // periodSeconds > 0: one attempt per health check, so "not ready" answers quickly.
    const probe = JSON.stringify({ tcpSocket: { port: appPort }, periodSeconds: 1, timeoutSeconds: 1 });
    const qp = await startQp(appPort, { SERVING_READINESS_PROBE: probe });
    closers.push(() => qp.close());
    const agent = new Agent();
    closers.push(() => agent.close());
    const port = qp.ports.serving;
    expect(await call(agent, port, { headers: KUBE_PROBE })).toMatchObject({ status: 503, body: '' });
    const again = await startApp(slow(0), appPort);
    closers.push(() => again.close());
    expect(await call(agent, port, { headers: KUBE_PROBE })).toMatchObject({ status: 200, body: 'queue' });
    expect(await call(agent, port, { headers: { 'user-agent': 'Knative-Activator-Probe', 'k-network-probe': 'other' } })).toMatchObject({
      status: 400,
      body: 'unexpected probe header value: other',
    });
  });

  it('§a6 the pod turns ready as soon as the app listens (start-up probe joined by the health check)', async () => {
    const placeholder = await startApp();
    const appPort = placeholder.port;
    await placeholder.close();
    const qp = await startQp(appPort);
    closers.push(() => qp.close());
    const agent = new Agent();
    closers.push(() => agent.close());
    await sleep(150);
    const health = call(agent, qp.ports.serving, { headers: KUBE_PROBE });
    await sleep(100);
    const listenAt = Date.now();
    const app = await startApp(slow(0), appPort);
    closers.push(() => app.close());
    const r = await health;
    expect(r).toMatchObject({ status: 200, body: 'queue' });
    expect(Date.now() - listenAt).toBeLessThan(300);
  });
});

describe('stats (§a5)', () => {
  it('§a5 the gRPC scrape serves only the pod name before the first report, then counts (proxied apart)', async () => {
    // A clock whose interval never fires: the test takes the report itself.
    const manual: Clock = { now: () => Date.now(), setTimeout: systemClock.setTimeout, setInterval: () => () => undefined };
    const { qp, agent, port } = await setup({}, undefined, { clock: manual });
    const client = new QueueStatsClient(`127.0.0.1:${qp.ports.stats}`);
    closers.push(() => client.close());
    expect(await client.scrape()).toMatchObject({ podName: 'hello-00001-pod', requestCount: 0, averageConcurrentRequests: 0, processUptimeSeconds: 0 });
    await call(agent, port);
    await call(agent, port);
    await call(agent, port, { headers: { 'k-proxy-request': 'activator' } });
    await call(agent, port, { headers: KUBE_PROBE }); // probes are not counted
    qp.qp.reportTick();
    const s = await client.scrape();
    expect(s).toMatchObject({ podName: 'hello-00001-pod', requestCount: 3, proxiedRequestCount: 1 });
    expect(s.averageConcurrentRequests).toBeGreaterThan(0);
    expect(s.processUptimeSeconds).toBeGreaterThan(0);
  });

  it('§a3 queued requests count as concurrency (counted before the breaker)', async () => {
    const { app, qp, agent, port } = await setup({ CONTAINER_CONCURRENCY: '1' });
    app.behave(slow(150));
    const load = Promise.all(Array.from({ length: 3 }, () => call(agent, port)));
    await until(() => qp.qp.breaker!.inFlight === 3);
    expect(qp.qp.stats.concurrency).toBe(3);
    expect(qp.qp.breaker!.active).toBe(1);
    await load;
    expect(qp.qp.stats.concurrency).toBe(0);
  });
});

describe('metrics (§a5)', () => {
  it('Knative names and labels; request vs app counts; probes excluded', async () => {
    const { app, qp, agent, port } = await setup({ CONTAINER_CONCURRENCY: '1' });
    const before = await metricsText(qp, agent);
    expect(metricValue(before, 'revision_request_count', 'response_code="200"')).toBe(0);
    app.behave(slow(0, 404));
    await call(agent, port);
    await call(agent, port, { headers: KUBE_PROBE });
    const text = await metricsText(qp, agent);
    const labels = 'namespace_name="default",service_name="hello",configuration_name="hello",revision_name="hello-00001",pod_name="hello-00001-pod",container_name="queue-proxy"';
    expect(text).toContain(`revision_request_count{${labels},response_code="404",response_code_class="4xx"} 1`);
    expect(text).toContain(`revision_app_request_count{${labels},response_code="404",response_code_class="4xx"} 1`);
    expect(metricValue(text, 'revision_request_count', 'response_code="200"')).toBe(0);
    expect(text).toContain(`revision_queue_depth{${labels}} 0`);
    expect((await call(agent, qp.ports.metrics, { path: '/other' })).status).toBe(404);
  });
});

describe('timeouts through the queue-proxy (§a8)', () => {
  it('§a8 total timeout before the first byte → 504 request timeout', async () => {
    const { app, agent, port } = await setup({ REVISION_TIMEOUT_SECONDS: '0.2' });
    app.behave(slow(1000));
    expect(await call(agent, port)).toMatchObject({ status: 504, body: 'request timeout' });
  });

  it('§a8 response-start timeout → 504; a response started in time is not cut by it', async () => {
    const { app, agent, port } = await setup({ REVISION_RESPONSE_START_TIMEOUT_SECONDS: '0.2' });
    app.behave(slow(600));
    expect(await call(agent, port)).toMatchObject({ status: 504, body: 'request timeout' });
    app.behave(async (_req, res) => {
      res.writeHead(200);
      res.write('a');
      await sleep(400);
      res.end('b');
    });
    expect(await call(agent, port)).toMatchObject({ status: 200, body: 'ab' });
  });

  it('§a8 idle timeout after the first byte cuts the stream with the text appended', async () => {
    const { app, port } = await setup({ REVISION_IDLE_TIMEOUT_SECONDS: '0.2' });
    app.behave(async (_req, res) => {
      res.writeHead(200);
      res.write('partial;');
      await sleep(1000);
      res.end('never');
    });
    // Raw client: keep whatever bytes arrive before the cut.
    const t0 = Date.now();
    const got = await new Promise<{ status: number; body: string; cut: boolean }>((resolve) => {
      const req = httpGet({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cut: false }));
        res.on('error', () => resolve({ status: res.statusCode ?? 0, body, cut: true }));
      });
      req.on('error', () => resolve({ status: 0, body: '', cut: true }));
    });
    expect(got.status).toBe(200);
    expect(got.body).toBe('partial;request timeout');
    expect(got.cut).toBe(true);
    expect(Date.now() - t0).toBeLessThan(900);
  });

  it('§a8 the timers run while queued in the breaker: a request waiting past its response-start timeout gets 504', async () => {
    const { app, agent, port } = await setup({ CONTAINER_CONCURRENCY: '1', REVISION_RESPONSE_START_TIMEOUT_SECONDS: '0.15' });
    // The first request starts its response at once (so its own response-start timer is satisfied) and holds the slot 400 ms.
    app.behave(async (_req, res) => {
      res.writeHead(200);
      for (let i = 0; i < 8; i++) {
        res.write('.');
        await sleep(50);
      }
      res.end();
    });
    const first = call(agent, port);
    await sleep(20);
    const second = await call(agent, port);
    expect(second).toMatchObject({ status: 504, body: 'request timeout' });
    expect(second.ms).toBeLessThan(350);
    expect((await first).status).toBe(200);
    expect(app.seen).toHaveLength(1);
  });
});

describe('retries (Tide, beyond Knative)', () => {
  it('a POST the app received is never sent twice, even when the app drops the connection', async () => {
    const { app, agent, port } = await setup({ TIDE_RETRY_MAX: '2' });
    app.behave((_req, res) => {
      res.socket?.destroy();
    });
    const r = await call(agent, port, { method: 'POST', body: 'pay once', headers: { 'content-type': 'text/plain' } });
    expect(r.status).toBe(502);
    expect(app.seen.filter((s) => s.method === 'POST')).toHaveLength(1);
  });

  it('a GET the app never received is retried (up to TIDE_RETRY_MAX) and counted', async () => {
    const placeholder = await startApp();
    const appPort = placeholder.port;
    await placeholder.close();
    const qp = await startQp(appPort, { TIDE_RETRY_MAX: '2', TIDE_RETRY_BACKOFF_BASE_MS: '1', TIDE_RETRY_BACKOFF_MAX_MS: '2' });
    closers.push(() => qp.close());
    const agent = new Agent();
    closers.push(() => agent.close());
    const r = await call(agent, qp.ports.serving);
    expect(r.status).toBe(502);
    expect(metricValue(await metricsText(qp, agent), 'tide_queue_proxy_retries_total')).toBe(2);
  });

  it('TIDE_RETRY_MAX=0 turns retries off', async () => {
    const placeholder = await startApp();
    const appPort = placeholder.port;
    await placeholder.close();
    const qp = await startQp(appPort, { TIDE_RETRY_MAX: '0' });
    closers.push(() => qp.close());
    const agent = new Agent();
    closers.push(() => agent.close());
    expect((await call(agent, qp.ports.serving)).status).toBe(502);
    expect(metricValue(await metricsText(qp, agent), 'tide_queue_proxy_retries_total')).toBe(0);
  });
});

describe('app circuit (Tide, beyond Knative)', () => {
  const CIRCUIT = { TIDE_CIRCUIT_ENABLED: 'true', TIDE_CIRCUIT_MIN_REQUESTS: '4', TIDE_CIRCUIT_ERROR_PERCENT: '50', TIDE_CIRCUIT_RESET_SECONDS: '0.3' };

  it('opens after the threshold, fails fast with 503 + Retry-After, one half-open trial, closes on success', async () => {
    const { app, qp, agent, port } = await setup(CIRCUIT);
    app.behave(slow(0, 500));
    for (let i = 0; i < 3; i++) expect((await call(agent, port)).status).toBe(500);
    expect(qp.qp.circuit!.state()).toBe('closed');
    expect((await call(agent, port)).status).toBe(500);
    expect(qp.qp.circuit!.state()).toBe('open');
    const refused = await call(agent, port);
    expect(refused).toMatchObject({ status: 503, body: 'circuit open' });
    expect(refused.headers['retry-after']).toBe('1');
    expect(app.seen).toHaveLength(4);
    expect(metricValue(await metricsText(qp, agent), 'tide_queue_proxy_circuit_state')).toBe(2);
    await sleep(350);
    expect(qp.qp.circuit!.state()).toBe('half-open');
    // Half-open: of three concurrent requests exactly one reaches the (now healthy, slow) app.
    app.behave(slow(100));
    const replies = await Promise.all([call(agent, port), call(agent, port), call(agent, port)]);
    expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
    expect(replies.filter((r) => r.status === 503 && r.body === 'circuit open')).toHaveLength(2);
    expect(app.seen).toHaveLength(5);
    expect(qp.qp.circuit!.state()).toBe('closed');
    expect((await call(agent, port)).status).toBe(200);
  });

  it("our own 503s (queue full) never count as app failures", async () => {
    const { app, qp, agent, port } = await setup({ ...CIRCUIT, CONTAINER_CONCURRENCY: '1' });
    app.behave(slow(60));
    // 30 concurrent with 11 slots: 19 refused. Counted as failures they would be 63 % > 50 % and open the circuit.
    const replies = await Promise.all(Array.from({ length: 30 }, () => call(agent, port)));
    expect(replies.filter((r) => r.status === 503 && r.body === 'pending request queue full')).toHaveLength(19);
    expect(qp.qp.circuit!.state()).toBe('closed');
  });

  it('is off by default', async () => {
    const { qp } = await setup({});
    expect(qp.qp.circuit).toBeUndefined();
  });
});

describe('header hygiene (§e2)', () => {
  it('internal headers never reach the app; Host is restored from K-Original-Host', async () => {
    const { app, agent, port } = await setup({});
    await call(agent, port, {
      path: '/p',
      headers: {
        host: 'public.example',
        'k-original-host': 'hello.default.example.com',
        'k-proxy-request': 'activator',
        'knative-serving-revision': 'other',
        'knative-serving-namespace': 'other-ns',
        'k-network-hash': 'x',
        'k-passthrough-lb': 'true',
        'k-network-probe': 'activator',
      },
    });
    expect(app.seen).toHaveLength(1);
    const h = app.seen[0]!.headers;
    expect(h.host).toBe('hello.default.example.com');
    for (const name of ['k-original-host', 'k-proxy-request', 'knative-serving-revision', 'knative-serving-namespace', 'k-network-hash', 'k-passthrough-lb', 'k-network-probe']) {
      expect(h[name]).toBeUndefined();
    }
  });

  it('a K-Network-Probe: queue on the public port is answered by the proxy, never forwarded', async () => {
    const { app, agent, port } = await setup({});
    expect(await call(agent, port, { path: '/secret', headers: { 'k-network-probe': 'queue' } })).toMatchObject({ status: 200, body: 'queue' });
    expect(app.seen).toHaveLength(0);
  });
});
