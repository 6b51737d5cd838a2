import { afterEach, describe, expect, it } from 'vitest';
import { buildAutoscaler, type Autoscaler, type RevisionSample } from '../../../autoscaler/app.js';
import { AUTOSCALER_DEFAULTS } from '../../../autoscaler/config/autoscaler-config.js';
import { MAX_EVENT_STREAMS, startDashboardServer } from '../../../autoscaler/http/dashboard-server.js';
import { METRIC_NAMES } from '../../../autoscaler/http/metrics.js';
import { createGrpcScraper } from '../../../autoscaler/http/scraper.js';
import { startAutoscalerServers } from '../../../autoscaler/http/servers.js';
import { serveQueueStats } from '../../../common/http/queue-stats-server.js';
import { AutoscalerStatsClient } from '../../../common/http/stats-grpc.js';
import { silentLogger } from '../../../common/logger.js';
import { emptyStat, type Stat } from '../../../common/stats.js';
import { FakeClock } from '../../support/fake-clock.js';
import { activatorStat, FakeRouting, FakeScaleTarget, flush, podStat, specWith } from '../runtime/fakes.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

interface Rig {
  clock: FakeClock;
  target: FakeScaleTarget;
  autoscaler: Autoscaler;
  base: string;
  /** Runs the fake clock one second at a time. */
  runFor(ms: number): Promise<void>;
}

/** An autoscaler on a fake clock with one revision ('hello', 1 ready pod, load 700) and its dashboard server. */
async function rig(): Promise<Rig> {
  const clock = new FakeClock();
  const target = new FakeScaleTarget(clock);
  const scraper = (address: string): Promise<Stat> => {
    const ready = target.pods('default', 'hello').filter((p) => p.ready).length;
    return Promise.resolve(podStat(address, 700 / Math.max(1, ready)));
  };
  const autoscaler = buildAutoscaler({ scaleTarget: target, routing: new FakeRouting(), scraper, clock, logger: silentLogger(), config: AUTOSCALER_DEFAULTS });
  target.setPods('default', 'hello', [target.pod('hello', clock.now() - 600_000)]);
  autoscaler.upsertRevision('default', 'hello', specWith());
  autoscaler.start();
  closers.push(() => autoscaler.stop());
  const server = await startDashboardServer(autoscaler, { host: '127.0.0.1', port: 0, logger: silentLogger() });
  closers.push(() => server.close());
  return {
    clock,
    target,
    autoscaler,
    base: server.url,
    async runFor(ms) {
      for (let left = ms; left > 0; left -= 1000) {
        clock.advance(1000);
        await flush();
      }
    },
  };
}

/** Opens `/api/events` and collects parsed samples until `count` arrived. */
function openEvents(url: string, headers: Record<string, string> = {}): { samples: RevisionSample[]; ids: string[]; waitFor(count: number): Promise<void> } {
  const controller = new AbortController();
  closers.push(() => controller.abort());
  const samples: RevisionSample[] = [];
  const ids: string[] = [];
  let buffer = '';
  let wake: (() => void) | undefined;
  const reading = (async () => {
    const res = await fetch(url, { headers, signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) ids.push(line.slice(4));
          if (line.startsWith('data: ')) samples.push(JSON.parse(line.slice(6)) as RevisionSample);
        }
      }
      wake?.();
    }
  })().catch(() => {});
  void reading;
  return {
    samples,
    ids,
    async waitFor(count) {
      const deadline = Date.now() + 5000;
      while (samples.length < count) {
        if (Date.now() > deadline) throw new Error(`only ${samples.length} of ${count} events arrived`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 50);
        });
      }
    },
  };
}

describe('dashboard server', () => {
  it('serves the page, its uPlot assets from node_modules and /healthz', async () => {
    const r = await rig();
    const page = await fetch(r.base);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain('<script src="assets/uPlot.iife.min.js">');
    const js = await fetch(new URL('assets/uPlot.iife.min.js', r.base));
    expect(js.status).toBe(200);
    expect(await js.text()).toContain('uPlot');
    expect((await fetch(new URL('assets/uPlot.min.css', r.base))).status).toBe(200);
    const health = await fetch(new URL('healthz', r.base));
    expect([health.status, await health.text()]).toEqual([200, 'ok\n']);
    const missing = await fetch(new URL('nope', r.base));
    expect(missing.status).toBe(404);
    await missing.text();
    const post = await fetch(new URL('api/revisions', r.base), { method: 'POST' });
    expect(post.status).toBe(405);
    await post.text();
  });

  it('GET /api/revisions returns the live snapshot', async () => {
    const r = await rig();
    await r.runFor(5000);
    const body = (await (await fetch(new URL('api/revisions', r.base))).json()) as ReturnType<Autoscaler['snapshot']>;
    expect(body.revisions).toHaveLength(1);
    expect(body.revisions[0]).toMatchObject({
      namespace: 'default',
      revision: 'hello',
      spec: { metric: 'concurrency', targetValue: 70, targetBurstCapacity: 211 },
      live: { desired: 10, ready: 10, requested: 10, mode: 'serve' },
    });
  });

  it('GET /api/events replays history, then streams one sample per revision per second', async () => {
    const r = await rig();
    await r.runFor(3000);
    const events = openEvents(new URL('api/events', r.base).href);
    await events.waitFor(2); // history: samples at 1.5 s and 2.5 s
    await r.runFor(2000);
    await events.waitFor(4);
    expect(events.samples.map((s) => s.timeMs - r.clock.now())).toEqual([-3500, -2500, -1500, -500]);
    expect(events.ids).toEqual(['1', '2', '3', '4']);
    const last = events.samples[3]!;
    expect(last).toMatchObject({ namespace: 'default', revision: 'hello', desired: 10, ready: 10, targetPerPod: 70, targetTotal: 700, inPanic: true });
    expect(Object.keys(last).sort()).toEqual(
      [
        'activatorQueue', 'coldStartWaitSeconds', 'concurrency', 'desired', 'excessBurstCapacity', 'inPanic', 'metric', 'mode', 'namespace',
        'panic', 'ready', 'requested', 'revision', 'rps', 'seq', 'stable', 'state', 'targetPerPod', 'targetTotal', 'timeMs',
      ].sort(),
    );
  });

  it('GET /api/events resumes after Last-Event-ID without repeating samples', async () => {
    const r = await rig();
    await r.runFor(5000);
    const events = openEvents(new URL('api/events', r.base).href, { 'last-event-id': '2' });
    await events.waitFor(2);
    expect(events.ids).toEqual(['3', '4']);
  });

  it(`refuses event streams beyond ${MAX_EVENT_STREAMS} with 503`, async () => {
    const r = await rig();
    const streams = Array.from({ length: MAX_EVENT_STREAMS }, () => openEvents(new URL('api/events', r.base).href));
    await r.runFor(2000);
    await Promise.all(streams.map((s) => s.waitFor(1)));
    const extra = await fetch(new URL('api/events', r.base));
    expect(extra.status).toBe(503);
    await extra.text();
  });

  it('§c8 /metrics exposes kn.revision.* under Prometheus names with the live values', async () => {
    const r = await rig();
    await r.runFor(5000);
    const res = await fetch(new URL('metrics', r.base));
    expect(res.status).toBe(200);
    const text = await res.text();
    const labels = '{k8s_namespace_name="default",kn_revision_name="hello"}';
    expect(text).toContain(`${METRIC_NAMES.podsDesired}${labels} 10`);
    expect(text).toContain(`${METRIC_NAMES.podsRequested}${labels} 10`);
    expect(text).toContain(`${METRIC_NAMES.podsCount}${labels} 10`);
    expect(text).toContain(`${METRIC_NAMES.panicMode}${labels} 1`);
    expect(text).toContain(`${METRIC_NAMES.concurrencyTarget}${labels} 70`);
    // EBC = floor(10·100 − 211 − 700) = 89.
    expect(text).toContain(`${METRIC_NAMES.capacityExcess}${labels} 89`);
    expect(text).toContain(`${METRIC_NAMES.concurrencyStable}${labels} 700`);
    // Only the chosen metric's series are reported (the rps gauges exist but have no samples).
    expect(text).not.toContain(`${METRIC_NAMES.rpsStable}{`);
    expect(text).toMatch(new RegExp(`${METRIC_NAMES.scrapeDuration}_count\\{outcome="ok"\\} 5`));
    for (const name of Object.values(METRIC_NAMES)) expect(name).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
  });
});

describe('autoscaler servers: gRPC stats receiver and scraper', () => {
  it('§b5 activator reports over gRPC reach the autoscaler (queue depth and wait show in the snapshot)', async () => {
    const clock = new FakeClock();
    const target = new FakeScaleTarget(clock);
    const autoscaler = buildAutoscaler({ scaleTarget: target, routing: new FakeRouting(), scraper: () => Promise.reject(new Error('unused')), clock, logger: silentLogger(), config: AUTOSCALER_DEFAULTS });
    autoscaler.upsertRevision('default', 'hello', specWith());
    const servers = await startAutoscalerServers(autoscaler, { host: '127.0.0.1', statsPort: 0, httpPort: 0, logger: silentLogger() });
    closers.push(() => servers.close());
    const client = new AutoscalerStatsClient(servers.statsAddress);
    closers.push(() => client.close());
    await client.report([{ namespace: 'default', revision: 'hello', stat: activatorStat(4, { queuedRequests: 4, maxWaitSeconds: 2.5 }) }]);
    expect(autoscaler.snapshot().revisions[0]?.live).toMatchObject({ activatorQueue: 4, coldStartWaitSeconds: 2.5, concurrency: 4 });
    expect((await fetch(new URL('healthz', servers.dashboardUrl))).status).toBe(200);
  });

  it('the gRPC scraper reads a queue-proxy and refuses an oversized (hostile) answer', async () => {
    const good = await serveQueueStats(() => podStat('pod-a', 3), { host: '127.0.0.1', port: 0 });
    closers.push(() => good.close(100));
    const hostile = await serveQueueStats(() => ({ ...emptyStat('x'.repeat(4096)) }), { host: '127.0.0.1', port: 0 });
    closers.push(() => hostile.close(100));
    const scraper = createGrpcScraper({ timeoutMs: 2000 });
    closers.push(() => scraper.close());
    expect(await scraper.scrape(`127.0.0.1:${good.port}`)).toMatchObject({ podName: 'pod-a', averageConcurrentRequests: 3 });
    await expect(scraper.scrape(`127.0.0.1:${hostile.port}`)).rejects.toThrow();
  });
});
