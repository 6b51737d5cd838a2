import { afterEach, describe, expect, it } from 'vitest';
import { buildAutoscaler, type Autoscaler } from '../../../autoscaler/app.js';
import { AUTOSCALER_DEFAULTS } from '../../../autoscaler/config/autoscaler-config.js';
import type { RevisionScalingSpec } from '../../../autoscaler/config/revision-spec.js';
import type { RevisionSnapshot } from '../../../autoscaler/runtime/revision-loop.js';
import { silentLogger } from '../../../common/logger.js';
import type { Stat } from '../../../common/stats.js';
import { FakeClock } from '../../support/fake-clock.js';
import { activatorStat, FakeRouting, FakeScaleTarget, flush, podStat, specWith } from './fakes.js';

const NS = 'default';
const MINUTE = 60_000;

/** What a fake pod does when scraped. */
type PodBehaviour = 'ok' | 'fail' | 'hang';

interface Harness {
  clock: FakeClock;
  target: FakeScaleTarget;
  routing: FakeRouting;
  autoscaler: Autoscaler;
  /** Addresses scraped, one entry per scrape call, with the fake time of the call. */
  scrapes: { address: string; atMs: number }[];
  /** Total in-flight requests of a revision; each ready pod reports an equal share. */
  load: Map<string, number>;
  behaviour: Map<string, PodBehaviour>;
  /** Advances the fake clock one second at a time, letting scrape promises settle in between. */
  runFor(ms: number): Promise<void>;
  snap(revision: string): RevisionSnapshot;
}

let current: Harness | undefined;
afterEach(() => {
  current?.autoscaler.stop();
  if (current) expect(current.clock.pending, 'timers left after stop()').toBe(0);
  current = undefined;
});

function harness(): Harness {
  const clock = new FakeClock();
  const target = new FakeScaleTarget(clock);
  const routing = new FakeRouting();
  const scrapes: Harness['scrapes'] = [];
  const load = new Map<string, number>();
  const behaviour = new Map<string, PodBehaviour>();
  const scraper = (address: string): Promise<Stat> => {
    scrapes.push({ address, atMs: clock.now() });
    const name = address.replace(/:9090$/, '');
    const revision = name.replace(/-pod-\d+$/, '');
    const b = behaviour.get(name) ?? 'ok';
    if (b === 'hang') return new Promise<Stat>(() => {});
    if (b === 'fail') return Promise.reject(new Error(`connect ECONNREFUSED ${address}`));
    const ready = target.pods(NS, revision).filter((p) => p.ready).length;
    return Promise.resolve(podStat(name, (load.get(revision) ?? 0) / Math.max(1, ready)));
  };
  const autoscaler = buildAutoscaler({ scaleTarget: target, routing, scraper, clock, logger: silentLogger(), config: AUTOSCALER_DEFAULTS });
  const h: Harness = {
    clock,
    target,
    routing,
    autoscaler,
    scrapes,
    load,
    behaviour,
    async runFor(ms) {
      for (let left = ms; left > 0; left -= 1000) {
        clock.advance(Math.min(1000, left));
        await flush();
      }
    },
    snap(revision) {
      const s = autoscaler.snapshot().revisions.find((r) => r.revision === revision);
      if (!s) throw new Error(`no revision ${revision}`);
      return s;
    },
  };
  current = h;
  return h;
}

/** A revision with `pods` ready pods that have been ready for ten minutes (old, §c2). */
function addRevision(h: Harness, revision: string, pods: number, spec: RevisionScalingSpec = specWith()): void {
  h.target.setPods(NS, revision, Array.from({ length: pods }, () => h.target.pod(revision, h.clock.now() - 10 * MINUTE)));
  h.autoscaler.upsertRevision(NS, revision, spec);
}

describe('autoscaler runtime: timing (§c1)', () => {
  it('§c1 scrapes every second and records into the collector (linear average of 10 per second = 10)', async () => {
    const h = harness();
    addRevision(h, 'hello', 1);
    h.load.set('hello', 10);
    h.autoscaler.start();
    await h.runFor(5000);
    expect(h.scrapes.map((s) => s.atMs - h.clock.now())).toEqual([-4000, -3000, -2000, -1000, 0]);
    const live = h.snap('hello').live;
    expect(live.stable).toBe(10);
    expect(live.panic).toBe(10);
    expect(live.concurrency).toBe(10);
    expect(h.snap('hello').lastScrape).toMatchObject({ ok: true, sampled: 1 });
  });

  it('§c1 decides every 2 s (half a second after a scrape), not on each scrape', async () => {
    const h = harness();
    addRevision(h, 'hello', 1);
    h.load.set('hello', 350);
    h.autoscaler.start();
    await h.runFor(2000);
    // Two scrapes recorded, no tick yet: the decision is still the initial one (desired −1).
    expect(h.snap('hello').live.desired).toBe(-1);
    await h.runFor(499);
    expect(h.snap('hello').live.desired).toBe(-1);
    expect(h.target.calls).toEqual([]);
    await h.runFor(1);
    // t = 2.5 s: ceil(350 / 70) = 5.
    expect(h.snap('hello').live.desired).toBe(5);
    expect(h.target.calls).toEqual([{ key: 'default/hello', replicas: 5 }]);
    // Next ticks at 4.5 s and 6.5 s; nothing in between.
    await h.runFor(1999);
    expect(h.target.calls).toHaveLength(1);
  });

  it('publishes one sample per revision per second and keeps a bounded history', async () => {
    const clock = new FakeClock();
    const target = new FakeScaleTarget(clock);
    const autoscaler = buildAutoscaler({
      scaleTarget: target,
      routing: new FakeRouting(),
      scraper: (a) => Promise.resolve(podStat(a, 1)),
      clock,
      logger: silentLogger(),
      config: AUTOSCALER_DEFAULTS,
      historySamples: 5,
    });
    current = { clock, autoscaler } as Harness;
    const seen: string[] = [];
    const start = clock.now();
    const unsubscribe = autoscaler.subscribe((s) => seen.push(`${s.revision}@${s.timeMs - start}`));
    autoscaler.upsertRevision(NS, 'a', specWith());
    autoscaler.upsertRevision(NS, 'b', specWith());
    autoscaler.start();
    for (let i = 0; i < 8; i++) {
      clock.advance(1000);
      await flush();
    }
    unsubscribe();
    // Samples at 1.5 s … 7.5 s: 7 per revision.
    expect(seen.length).toBe(14);
    expect(seen.slice(0, 2)).toEqual(['a@1500', 'b@1500']);
    expect(seen.slice(-2)).toEqual(['a@7500', 'b@7500']);
    const history = autoscaler.history();
    expect(history.length).toBe(10); // 5 per revision
    expect(history.map((s) => s.seq)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(autoscaler.history(12).map((s) => s.seq)).toEqual([13, 14]);
  });
});

describe('autoscaler runtime: scaling (§c5, §c7, §b1)', () => {
  it('§c5 scales 1 → 10 under a load of 700 (target 70), writes replicas once and switches proxy → serve', async () => {
    const h = harness();
    addRevision(h, 'hello', 1);
    h.load.set('hello', 700);
    h.autoscaler.start();
    // t=1 s, 2 s: one pod scraped, 700 recorded. t=2.5 s: S = P = 700, R = 1 → dS = dP = ceil(700/70) = 10;
    // maxUp = ceil(1000·1) = 1000, maxDown = floor(1/2) = 0; dP/R = 10 ≥ 2 → panic, desired = 10.
    // EBC = floor(1·100 − 211 − 700) = −811 < 0 → proxy.
    await h.runFor(2500);
    expect(h.snap('hello').live).toMatchObject({ desired: 10, inPanic: true, excessBurstCapacity: -811, mode: 'proxy' });
    // t=4.5 s: 10 ready pods each report 70; R = 10, dS = dP = 10, dP/R = 1 < 2 but panic holds (60 s) at 10.
    // EBC = floor(10·100 − 211 − 700) = 89 ≥ 0 → serve.
    await h.runFor(2000);
    expect(h.snap('hello').live).toMatchObject({ desired: 10, ready: 10, requested: 10, excessBurstCapacity: 89, mode: 'serve', targetTotal: 700 });
    // Steady load: replicas are written only when they change.
    await h.runFor(20_000);
    expect(h.target.calls).toEqual([{ key: 'default/hello', replicas: 10 }]);
    expect(h.routing.modes).toEqual([
      { key: 'default/hello', mode: 'proxy' },
      { key: 'default/hello', mode: 'serve' },
    ]);
    expect(h.snap('hello').live.stable).toBe(700);
  });

  it('§c7 scale to zero through the requeue timers: inactive after the stable window, 0 once the activator has been in the path for the grace period', async () => {
    const h = harness();
    addRevision(h, 'hello', 1, specWith({ 'autoscaling.knative.dev/window': '6s' }));
    h.autoscaler.start();
    // t=2.5 s: desired 0 (no load); the PA is active for 2.5 s < 6 s, so 1 pod is kept, requeue at 6 s.
    // Mode: want 1, EBC = floor(1·100 − 211 − 0) = −111 < 0 → proxy from 2.5 s.
    await h.runFor(3000);
    expect(h.snap('hello').live).toMatchObject({ desired: 0, state: 'active', mode: 'proxy' });
    // t=6 s (requeue): active for 6 s ≥ the stable window → 0 unapplied, PA inactive.
    await h.runFor(3000);
    expect(h.snap('hello').live.state).toBe('inactive');
    // Grace 30 s counts from when the activator went into the path (2.5 s): 0 is applied at 32.5 s, not before.
    await h.runFor(26_400);
    expect(h.target.calls).toEqual([]);
    h.clock.advance(100);
    await flush();
    expect(h.target.calls).toEqual([{ key: 'default/hello', replicas: 0 }]);
    await h.runFor(10_000);
    expect(h.target.calls).toHaveLength(1);
    expect(h.routing.modes.map((m) => m.mode)).toEqual(['proxy']);
  });

  it('§c2 samples 7 of 10 pods per scrape, old pods first, and scales the sum by 10/7', async () => {
    const h = harness();
    // Nine young pods (ready 1 s ago) listed before one old pod (ready 10 minutes ago).
    const young = Array.from({ length: 9 }, () => h.target.pod('hello', h.clock.now() - 1000));
    const old = h.target.pod('hello', h.clock.now() - 10 * MINUTE);
    h.target.setPods(NS, 'hello', [...young, old]);
    h.autoscaler.upsertRevision(NS, 'hello', specWith());
    h.load.set('hello', 140); // 14 per pod
    h.autoscaler.start();
    await h.runFor(3000);
    for (const second of [1000, 2000, 3000]) {
      const batch = h.scrapes.filter((s) => s.atMs === h.clock.now() - 3000 + second).map((s) => s.address);
      expect(new Set(batch).size).toBe(7);
      expect(batch[0]).toBe(old.statsAddress);
    }
    // 7 answers of 14 → 98 / 7 × 10 = 140.
    expect(h.snap('hello').live.stable).toBe(140);
  });

  it('§c2 a failed pod is replaced by a spare one (5 ready → 4 sampled)', async () => {
    const h = harness();
    addRevision(h, 'hello', 5);
    h.behaviour.set('hello-pod-2', 'fail');
    h.load.set('hello', 50); // 10 per pod
    h.autoscaler.start();
    await h.runFor(1000);
    expect(h.snap('hello').lastScrape).toMatchObject({ ok: true, sampled: 4 });
    // 4 answers of 10 → 40 / 4 × 5 = 50.
    expect(h.snap('hello').live.stable).toBe(50);
  });

  it('§c2 partial failure records nothing, so the tick is invalid and ignored', async () => {
    const h = harness();
    addRevision(h, 'hello', 2);
    h.behaviour.set('hello-pod-2', 'fail');
    h.load.set('hello', 500);
    h.autoscaler.start();
    await h.runFor(6000);
    const snap = h.snap('hello');
    expect(snap.lastScrape).toMatchObject({ ok: false, sampled: 0 });
    expect(snap.lastScrape?.error).toContain('scraped 1 of 2');
    expect(snap.live.stable).toBeNull();
    expect(snap.live.desired).toBe(-1);
    expect(h.target.calls).toEqual([]);
  });

  it('§c2 TBC = −1: no scraping at all; empty windows read 0 and ticks stay valid', async () => {
    const h = harness();
    addRevision(h, 'hello', 1, specWith({ 'autoscaling.knative.dev/target-burst-capacity': '-1' }));
    h.load.set('hello', 500);
    h.autoscaler.start();
    await h.runFor(10_000);
    expect(h.scrapes).toEqual([]);
    expect(h.snap('hello').live).toMatchObject({ stable: 0, panic: 0, desired: 0, mode: 'proxy' });
  });

  it.each([
    { name: '§b5 a stat with concurrency while desired is 0 pokes an immediate tick', concurrency: 1, afterFirstTick: true, wantCalls: [1] },
    { name: '§b5 a stat without concurrency does not poke', concurrency: 0, afterFirstTick: true, wantCalls: [] },
    { name: 'beyond §b5: demand before the first decision (desired −1) pokes too, so a service starting at zero wakes at once', concurrency: 1, afterFirstTick: false, wantCalls: [1] },
    { name: 'beyond §b5: no poke before the first decision without concurrency', concurrency: 0, afterFirstTick: false, wantCalls: [] },
  ])('$name', async ({ concurrency, afterFirstTick, wantCalls }) => {
    const h = harness();
    // TBC −1: no scrape target, so the empty windows give a valid tick with desired 0 at t = 2.5 s.
    h.target.setPods(NS, 'hello', []);
    h.autoscaler.upsertRevision(NS, 'hello', specWith({ 'autoscaling.knative.dev/target-burst-capacity': '-1' }));
    h.autoscaler.start();
    await h.runFor(afterFirstTick ? 3000 : 2000);
    expect(h.snap('hello').live.desired).toBe(afterFirstTick ? 0 : -1);
    h.clock.advance(200); // between ticks
    h.autoscaler.record([{ namespace: NS, revision: 'hello', stat: activatorStat(concurrency) }]);
    await flush();
    expect(h.target.calls.map((c) => c.replicas)).toEqual(wantCalls);
  });

  it('activator stats feed the live queue depth and cold-start wait, which expire when reports stop', async () => {
    const h = harness();
    h.target.setPods(NS, 'hello', []);
    h.autoscaler.upsertRevision(NS, 'hello', specWith());
    h.autoscaler.start();
    h.autoscaler.record([
      { namespace: NS, revision: 'hello', stat: activatorStat(3, { podName: 'act-a', queuedRequests: 3, maxWaitSeconds: 1.5 }) },
      { namespace: NS, revision: 'hello', stat: activatorStat(2, { podName: 'act-b', queuedRequests: 2, maxWaitSeconds: 0.5 }) },
      { namespace: 'other', revision: 'hello', stat: activatorStat(9) }, // unknown revision: dropped
    ]);
    expect(h.snap('hello').live).toMatchObject({ activatorQueue: 5, coldStartWaitSeconds: 1.5, concurrency: 5 });
    await h.runFor(3000);
    expect(h.snap('hello').live).toMatchObject({ activatorQueue: 0, coldStartWaitSeconds: 0, concurrency: 0 });
  });
});

describe('autoscaler runtime: isolation and lifecycle', () => {
  it('a pod that never answers does not stall its revision for more than the deadline, nor other revisions at all', async () => {
    const h = harness();
    addRevision(h, 'slow', 1);
    addRevision(h, 'fast', 1);
    h.behaviour.set('slow-pod-1', 'hang');
    h.load.set('fast', 350);
    h.autoscaler.start();
    await h.runFor(6000);
    const fastRounds = new Set(h.scrapes.filter((s) => s.address.startsWith('fast')).map((s) => s.atMs));
    expect(fastRounds.size).toBe(6);
    expect(h.snap('fast').live.desired).toBe(5);
    const slow = h.snap('slow');
    // Scrape started at 1 s, failed at its 3 s deadline (4 s); the ticks at 2, 3 and 4 s found it still running,
    // the next one started at 5 s and hangs too, so the tick at 6 s is skipped as well.
    expect(slow.lastScrape).toMatchObject({ ok: false, durationMs: 3000 });
    expect(slow.lastScrape?.error).toContain('no answer within 3000 ms');
    expect(slow.skippedScrapes).toBe(4);
    expect(h.scrapes.filter((s) => s.address.startsWith('slow')).map((s) => s.atMs - h.clock.now())).toEqual([-5000, -1000]);
  });

  it('upserting a changed spec applies it at the next tick', async () => {
    const h = harness();
    addRevision(h, 'hello', 1);
    h.load.set('hello', 700);
    h.autoscaler.start();
    await h.runFor(4000);
    expect(h.snap('hello').live.desired).toBe(10);
    h.autoscaler.upsertRevision(NS, 'hello', specWith({ 'autoscaling.knative.dev/target': '35', 'autoscaling.knative.dev/target-utilization-percentage': '100' }));
    expect(h.snap('hello').spec.targetValue).toBe(35);
    await h.runFor(2000);
    // ceil(700 / 35) = 20.
    expect(h.snap('hello').live.desired).toBe(20);
    expect(h.target.calls.map((c) => c.replicas)).toEqual([10, 20]);
  });

  it('removing a revision stops its timers and forgets its history; HPA-class revisions are left alone', async () => {
    const h = harness();
    addRevision(h, 'hello', 1);
    h.autoscaler.start();
    await h.runFor(3000);
    expect(h.autoscaler.history().length).toBe(2);
    h.autoscaler.removeRevision(NS, 'hello');
    expect(h.clock.pending).toBe(0);
    expect(h.autoscaler.history()).toEqual([]);
    h.autoscaler.upsertRevision(NS, 'cpu', specWith({ 'autoscaling.knative.dev/class': 'hpa.autoscaling.knative.dev' }));
    expect(h.autoscaler.snapshot().revisions).toEqual([]);
    h.autoscaler.removeRevision(NS, 'never-added');
  });

  it('a backend that fails to set replicas is retried at the next tick', async () => {
    const h = harness();
    addRevision(h, 'hello', 1);
    h.load.set('hello', 350);
    let failures = 1;
    const real = h.target.setReplicas.bind(h.target);
    h.target.setReplicas = (ns, rev, n) => (failures-- > 0 ? Promise.reject(new Error('apiserver down')) : real(ns, rev, n));
    h.autoscaler.start();
    await h.runFor(3000); // the tick at 2.5 s asks for 5 and fails
    expect(failures).toBe(0);
    expect(h.target.replicas(NS, 'hello')).toBe(1);
    await h.runFor(2000); // the tick at 4.5 s asks again
    expect(h.target.replicas(NS, 'hello')).toBe(5);
  });
});
