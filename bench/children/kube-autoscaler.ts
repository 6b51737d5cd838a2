/**
 * Bench child for `npm run bench kube`, the 1,000-Deployment case: the Kubernetes autoscaler (KubeAutoscalerBackend +
 * buildAutoscaler, as startKubeAutoscaler wires them) alone in its process, pinned to one core by the bench, so its
 * heap and RSS are its own. Run with --expose-gc. Argv: KUBECONFIG WARMUP_TICKS TICKS. Reports `{ progress }` lines
 * and one `{ result }` (KubeScaleResult) over IPC, then exits.
 *
 * 1. The four informers alone (kubernetes/watched.ts): memory after a forced GC before they start and once all have
 *    listed; then they stop.
 * 2. The backend and the autoscaler: memory before the informers start, once synced (with a revision loop for every
 *    Deployment), and after the ticks. This replica is the only one, so it writes without a Lease.
 * 3. Ticks. The revision loops' timers (scrape every 1 s, decide every 2 s, sample every 1 s: autoscaler/runtime/
 *    revision-loop.ts) run on a clock that fires, once a second, every timer then due, in due order; a tick is the
 *    time from its first timer to its last write answered (scrapes, then decisions, reconciles and their /scale and
 *    EndpointSlice writes). Everything else (informers, write answers, watch events of our own writes) runs on the
 *    real clock in between, on the same core. Pods are not processes: the scraper answers at once with stats from a
 *    load model (below), and each second an activator report brings demand to three more revisions at zero.
 */
import type { Cancel, Clock } from '../../common/clock.js';
import { systemClock } from '../../common/clock.js';
import { silentLogger } from '../../common/logger.js';
import type { RevisionStat, Stat } from '../../common/stats.js';
import { buildAutoscaler, type Scraper } from '../../autoscaler/app.js';
import { AUTOSCALER_DEFAULTS } from '../../autoscaler/config/autoscaler-config.js';
import { KubeAutoscalerBackend } from '../../kubernetes/autoscaler-backend.js';
import { createKubeApi, loadKubeConfig, type KubeApi } from '../../kubernetes/client.js';
import type { Informer } from '../../kubernetes/informer.js';
import { SYSTEM_NAMESPACE, type KubeObject } from '../../kubernetes/objects.js';
import { watchedObjects } from '../../kubernetes/watched.js';
import { podsOf, seededIndex, seededName } from './kube-scale-names.js';

export interface Memory {
  heapUsed: number;
  rss: number;
}

export interface Tick {
  wallMs: number;
  cpuMs: number;
  /** Timers fired: one scrape and one sample per revision, plus one decision each every other second. */
  timers: number;
  writes: number;
}

export interface KubeScaleResult {
  /** Objects the informers hold once synced, by informer. */
  objects: Record<string, number>;
  informers: { syncMs: number; before: Memory; after: Memory };
  /** `listedMs`: every informer listed; `syncMs`: and the writes that started answered. */
  autoscaler: { listedMs: number; syncMs: number; before: Memory; synced: Memory; afterTicks: Memory; startupWrites: number };
  /** Measured ticks (after the warm-up). */
  ticks: Tick[];
  /** The first tick with decisions after the start: it switches back what the start switched to the activator. */
  firstDecision: Tick | undefined;
  scrapes: number;
  writes: Record<string, number>;
}

const NAMESPACE = 'default';
const [kubeconfig = '', warmArg = '4', ticksArg = '20'] = process.argv.slice(2);
const WARMUP = Number(warmArg);
const TICKS = Number(ticksArg);
const progress = (line: string): void => void process.send?.({ progress: line });

function memory(): Memory {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss };
}

/** Fires the revision loops' timers in batches (see the header); `now` is the wall clock. */
class TickClock implements Clock {
  readonly #timers = new Map<number, { due: number; period: number | undefined; fn: () => void }>();
  #ids = 0;

  now(): number {
    return Date.now();
  }

  setTimeout(fn: () => void, ms: number): Cancel {
    return this.#add(fn, ms, undefined);
  }

  setInterval(fn: () => void, ms: number): Cancel {
    return this.#add(fn, ms, ms);
  }

  #add(fn: () => void, ms: number, period: number | undefined): Cancel {
    const id = ++this.#ids;
    this.#timers.set(id, { due: Date.now() + ms, period, fn });
    return () => void this.#timers.delete(id);
  }

  /**
   * Fires every timer due now (or within 50 ms), oldest first; before a timer due more than 100 ms after the previous
   * one (decisions half a second after scrapes), waits for `settle`. Returns how many fired.
   */
  async runDue(settle: () => Promise<void>): Promise<number> {
    const now = Date.now();
    const due = [...this.#timers].filter(([, t]) => t.due <= now + 50).sort((a, b) => a[1].due - b[1].due);
    let last: number | undefined;
    let fired = 0;
    for (const [id, t] of due) {
      if (this.#timers.get(id) !== t) continue; // cancelled by an earlier one
      if (last !== undefined && t.due - last > 100) await settle();
      last = t.due;
      if (t.period === undefined) this.#timers.delete(id);
      else t.due += t.period;
      fired++;
      t.fn();
    }
    await settle();
    return fired;
  }
}

// ---- the API, with writes counted and tracked until answered ----

const base = createKubeApi(loadKubeConfig({ kind: 'kubeconfig', file: kubeconfig }).kc);
/** Writes by verb and resource (`patch scale`, `replace endpointslices`, `create events`...). */
const writes: Record<string, number> = {};
let inFlight = 0;
const totalWrites = (): number => Object.values(writes).reduce((a, b) => a + b, 0);
async function track<T>(verb: string, path: string, p: Promise<T>): Promise<T> {
  const what = `${verb} ${path.endsWith('/scale') ? 'scale' : (path.split('/namespaces/')[1]?.split('/')[1] ?? path)}`;
  writes[what] = (writes[what] ?? 0) + 1;
  inFlight++;
  try {
    return await p;
  } finally {
    inFlight--;
  }
}
const api: KubeApi = {
  server: base.server,
  list: (p, q) => base.list(p, q),
  watch: (p, q, e, d) => base.watch(p, q, e, d),
  get: (p) => base.get(p),
  create: (p, b) => track('create', p, base.create(p, b)),
  replace: (p, b) => track('replace', p, base.replace(p, b)),
  patch: (p, b, t) => track('patch', p, base.patch(p, b, t)),
  delete: (p) => track('delete', p, base.delete(p)),
};

/** Resolves once no write is in flight across two turns of the event loop (bounded: 20 s). */
async function settle(): Promise<void> {
  const end = Date.now() + 20_000;
  let quiet = 0;
  while (quiet < 2) {
    await new Promise((r) => setImmediate(r));
    quiet = inFlight === 0 ? quiet + 1 : 0;
    if (Date.now() > end) throw new Error(`bench kube: ${inFlight} writes still unanswered after 20 s`);
  }
}

// ---- the load model ----

/**
 * A pod's stats: a quarter of the Deployments with pods (100 of 1,000) swing between half and twice their target
 * (10 in flight per pod) over a minute, each in its own phase, so they scale up and down and their switches flip;
 * the rest hold 7 in flight per pod.
 */
function podStat(address: string, nowMs: number): Stat {
  const i = seededIndex(address.slice(0, address.lastIndexOf(':')));
  const c = i % 4 === 0 ? 10 * (1.25 + 0.75 * Math.sin((2 * Math.PI * nowMs) / 60_000 + i)) : 7;
  return { podName: address, averageConcurrentRequests: c, averageProxiedConcurrentRequests: 0, requestCount: 20 * c, proxiedRequestCount: 0, processUptimeSeconds: 600, timestampMs: nowMs };
}
let scrapes = 0;
const scraper: Scraper = (address) => {
  scrapes++;
  return Promise.resolve(podStat(address, Date.now()));
};

/** The activator's report for the revisions at zero that got demand so far (one request waiting each). */
function activatorReport(woken: readonly number[], nowMs: number): RevisionStat[] {
  return woken.map((i) => ({
    namespace: NAMESPACE,
    revision: seededName(i),
    stat: { podName: 'tide-activator-0', averageConcurrentRequests: 1, averageProxiedConcurrentRequests: 1, requestCount: 1, proxiedRequestCount: 1, processUptimeSeconds: 600, timestampMs: nowMs },
  }));
}

// ---- 1. the informers alone ----

async function informersAlone(): Promise<{ syncMs: number; before: Memory; after: Memory; objects: Record<string, number> }> {
  const before = memory();
  const w = watchedObjects({ api, clock: systemClock, logger: silentLogger(), namespace: NAMESPACE, systemNamespace: SYSTEM_NAMESPACE });
  const informers: Pick<Informer<KubeObject>, 'start' | 'stop' | 'whenSynced' | 'health'>[] = [w.deployments, w.services, w.slices, w.activatorSlices];
  const t0 = performance.now();
  for (const i of informers) i.start();
  await Promise.all(informers.map((i) => i.whenSynced()));
  const syncMs = performance.now() - t0;
  const objects = Object.fromEntries(informers.map((i) => [i.health().name, i.health().objects]));
  const after = memory();
  for (const i of informers) i.stop();
  return { syncMs, before, after, objects };
}

const alone = await informersAlone();
progress(`informers alone: synced in ${alone.syncMs.toFixed(0)} ms (${Object.entries(alone.objects).map(([k, v]) => `${v} ${k}`).join(', ')})`);

// ---- 2. backend and autoscaler ----

const logger = silentLogger();
const clock = new TickClock();
const before = memory();
const backend = new KubeAutoscalerBackend({ api, clock: systemClock, logger, namespace: NAMESPACE, systemNamespace: SYSTEM_NAMESPACE, config: AUTOSCALER_DEFAULTS, isLeader: () => true });
const autoscaler = buildAutoscaler({ scaleTarget: backend, routing: backend, scraper, clock, logger, config: AUTOSCALER_DEFAULTS, random: Math.random });
backend.attach(autoscaler);
autoscaler.start();
let t0 = performance.now();
backend.start();
await backend.synced();
const listedMs = performance.now() - t0;
await settle();
const syncMs = performance.now() - t0;
const startupWrites = totalWrites();
const synced = memory();
progress(`autoscaler: ${backend.revisions().length} revisions listed in ${listedMs.toFixed(0)} ms; the ${startupWrites} writes that started answered at ${syncMs.toFixed(0)} ms`);

// ---- 3. ticks ----

const revisions = backend.revisions().length;
const atZero = Array.from({ length: revisions }, (_, i) => i).filter((i) => podsOf(i) === 0);
const woken: number[] = [];
const ticks: KubeScaleResult['ticks'] = [];
let firstDecision: KubeScaleResult['firstDecision'];
let decisions = 0;
let next = performance.now() + 1000;
// Warm-up: at least WARMUP ticks and two decider ticks (the first one after a start does the start's catching up).
for (let k = 0; ticks.length < TICKS && k < WARMUP + TICKS + 10; k++) {
  await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
  next += 1000;
  const w0 = totalWrites();
  const cpu0 = process.cpuUsage();
  t0 = performance.now();
  for (let m = 0; m < 3; m++) woken.push(atZero[(3 * k + m) % atZero.length]!);
  autoscaler.record(activatorReport(woken, Date.now()));
  const timers = await clock.runDue(settle);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const tick = { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, timers, writes: totalWrites() - w0 };
  // Each revision has one scrape and one sample timer a second; a third means its decider ticked.
  if (timers > 2 * revisions) {
    firstDecision ??= tick;
    decisions++;
  }
  if (k >= WARMUP && decisions >= 2) {
    if (ticks.length === 0) progress(`warm-up: ${k} ticks; measuring ${TICKS}`);
    ticks.push(tick);
  }
}
autoscaler.stop();
const afterTicks = memory();
backend.stop();

const result: KubeScaleResult = {
  objects: alone.objects,
  informers: { syncMs: alone.syncMs, before: alone.before, after: alone.after },
  autoscaler: { listedMs, syncMs, before, synced, afterTicks, startupWrites },
  ticks,
  firstDecision,
  scrapes,
  writes,
};
process.send?.({ result }, () => process.exit(0));
