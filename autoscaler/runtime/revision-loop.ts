/**
 * One revision's autoscaling loop (Knative's collector ticker + decider ticker + PA reconciler, docs/knative-parity.md §c1):
 * scrape every 1 s, decide every 2 s or at once on a poke, reconcile, write replicas and routing mode.
 */
import type { PodInfo, ScaleTarget } from '../backend.js';
import type { RevisionScalingSpec } from '../config/revision-spec.js';
import { MetricCollector, type CollectorOptions } from '../metrics/collector.js';
import { Decider, initialDeciderStatus, TICK_INTERVAL_MS, type ScaleResult } from '../scaling/decider.js';
import { RevisionScaler, revisionScalerSpec, type PaState, type RoutingMode } from '../scaling/scaler.js';
import { samplePods } from './pod-sampler.js';
import type { RevisionSample } from './sample-history.js';
import type { Cancel, Clock } from '../../common/clock.js';
import { ScrapeFailedError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { Stat } from '../../common/stats.js';

/** Scrape period (§c1: the collector scrapes every 1 s). */
export const SCRAPE_INTERVAL_MS = 1000;
/** Decider ticks and dashboard samples run this long after the scrape ticks (see `start`). */
export const TICK_OFFSET_MS = 500;
/** Knative's scrape HTTP timeout (§c2). */
export const DEFAULT_SCRAPE_TIMEOUT_MS = 3000;
/** A source's last report counts towards the live rps/concurrency numbers for this long (two report periods + slack). */
const LIVE_VALUE_TTL_MS = 2500;
/** At most this many activators are tracked per revision; a flood of made-up activator names cannot grow memory. */
const MAX_ACTIVATORS_PER_REVISION = 64;

/** Where the autoscaler sends a revision's traffic (§b1); the activator and the local router implement it. */
export interface Routing {
  /** Called on the first reconcile and then whenever the mode changes. */
  setMode(namespace: string, revision: string, mode: RoutingMode): void;
  /** True when the activator has ready endpoints (Knative: its Endpoints object is not empty). */
  activatorReady(): boolean;
}

/** Reads one pod's stats endpoint (`host:port`). */
export type Scraper = (statsAddress: string) => Promise<Stat>;

/** What a revision loop needs from the autoscaler around it. */
export interface RevisionLoopDeps {
  readonly namespace: string;
  readonly revision: string;
  readonly scaleTarget: ScaleTarget;
  readonly routing: Routing;
  readonly scraper: Scraper;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Deadline for one pod scrape (§c2: 3 s). */
  readonly scrapeTimeoutMs: number;
  readonly random: (() => number) | undefined;
  /** Receives one sample a second. */
  readonly onSample: (sample: Omit<RevisionSample, 'seq'>) => void;
  /** Receives each scrape's duration and outcome (for `kn_autoscaler_scrape_duration`). */
  readonly onScrape: (durationMs: number, ok: boolean) => void;
}

/** The last scrape of a revision, for the dashboard and logs. */
export interface ScrapeStatus {
  readonly atMs: number;
  readonly ok: boolean;
  readonly durationMs: number;
  /** Pods that answered (n of §c2); 0 when no pod was ready. */
  readonly sampled: number;
  readonly error?: string;
}

/** A read-only view of one revision for `/api/revisions`. */
export interface RevisionSnapshot {
  readonly namespace: string;
  readonly revision: string;
  readonly spec: {
    readonly metric: 'concurrency' | 'rps';
    readonly targetValue: number;
    readonly totalValue: number;
    readonly targetBurstCapacity: number;
    readonly panicThreshold: number;
    readonly stableWindowMs: number;
    readonly panicWindowMs: number;
    readonly minScale: number;
    readonly maxScale: number;
    readonly containerConcurrency: number;
  };
  /** The latest numbers (the same shape as a sample, taken now). */
  readonly live: Omit<RevisionSample, 'seq'>;
  readonly pods: readonly { readonly name: string; readonly ready: boolean }[];
  readonly lastScrape: ScrapeStatus | undefined;
  /** Scrape ticks skipped because the previous scrape had not finished (a slow pod). */
  readonly skippedScrapes: number;
}

interface LiveValue {
  concurrency: number;
  rps: number;
  atMs: number;
}
interface ActivatorValue extends LiveValue {
  queued: number;
  maxWaitSeconds: number;
}

function collectorOptions(spec: RevisionScalingSpec): CollectorOptions {
  return {
    metric: spec.decider.metric,
    stableWindowMs: spec.decider.stableWindowMs,
    panicWindowMs: spec.panicWindowMs,
    algorithm: spec.algorithm,
    // §c2: no scraping when TBC = −1; only activator data exists and an empty window reads 0.
    hasScrapeTarget: spec.decider.targetBurstCapacity !== -1,
  };
}

function finiteOr0(x: number | undefined): number {
  return x !== undefined && Number.isFinite(x) && x > 0 ? x : 0;
}

/** Calls the scraper now (so a scrape reads the pods as they are at the tick), turning a synchronous throw into a rejection. */
function callScraper(scraper: Scraper, address: string): Promise<Stat> {
  try {
    return scraper(address);
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/**
 * The loop for one revision. Its state is the collector's windows, the decider, the scaler (PA state), the last
 * valid decision and the last routing mode told. All time comes from the injected clock, so a FakeClock drives it
 * exactly; scrapes are asynchronous and bounded by `scrapeTimeoutMs`, and a revision never has two scrapes in
 * flight (a tick that finds one running is skipped, as Knative's blocking scrape loop skips ticks).
 */
export class RevisionLoop {
  readonly #deps: RevisionLoopDeps;
  #spec: RevisionScalingSpec;
  readonly #collector: MetricCollector;
  readonly #decider: Decider;
  readonly #scaler: RevisionScaler;
  #decision: ScaleResult;
  #tickValid = false;
  #reportedMode: RoutingMode | undefined;
  #state: PaState;
  #writing: number | undefined;
  #scraping = false;
  #skippedScrapes = 0;
  #lastScrape: ScrapeStatus | undefined;
  #scraped: LiveValue | undefined;
  readonly #activators = new Map<string, ActivatorValue>();
  #timers: Cancel[] = [];
  /** Deadlines of pod scrapes in flight; stop() fails them at once so nothing waits on the clock after it. */
  readonly #deadlines = new Set<(reason: Error) => void>();
  #requeue: Cancel | undefined;
  #running = false;

  constructor(deps: RevisionLoopDeps, spec: RevisionScalingSpec) {
    this.#deps = deps;
    this.#spec = spec;
    const now = deps.clock.now();
    const ready = this.#readyCount(this.#pods());
    this.#collector = new MetricCollector(collectorOptions(spec), now);
    this.#decider = new Decider(spec.decider, ready, now);
    // A revision that already has ready pods when the autoscaler (re)starts is treated as an existing, active PA,
    // as Knative reads the PA's status back; a new one starts activating in proxy mode (§b1).
    this.#scaler = new RevisionScaler(
      revisionScalerSpec(spec.scaler, spec.decider),
      now,
      ready > 0 ? { state: 'active', scaleTargetInitialized: true } : {},
    );
    this.#state = this.#scaler.state;
    const initial = initialDeciderStatus(spec.decider, spec.scaler.initialScale);
    this.#decision = { valid: false, desiredPods: initial.desiredPods, excessBurstCapacity: initial.excessBurstCapacity, inPanic: this.#decider.inPanic };
  }

  get spec(): RevisionScalingSpec {
    return this.#spec;
  }

  /** Starts the 1 s scrape ticker and the 2 s decider ticker. Idempotent. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const { clock } = this.#deps;
    this.#timers.push(clock.setInterval(() => this.#scrapeTick(), SCRAPE_INTERVAL_MS));
    // The decider and the sampler run half a second after the scrapes, so they read the second just recorded.
    // (Knative's two tickers are not aligned; ticking at the very instant a scrape starts would always miss the
    // newest second, and a 1 s panic window — 6 s stable × 10 % — would always read empty.)
    this.#timers.push(
      clock.setTimeout(() => {
        this.#timers.push(clock.setInterval(() => this.tick(), TICK_INTERVAL_MS));
        this.#timers.push(clock.setInterval(() => this.#deps.onSample(this.live()), SCRAPE_INTERVAL_MS));
      }, TICK_OFFSET_MS),
    );
  }

  /** Stops every timer; a scrape in flight is abandoned (its answer is dropped). */
  stop(): void {
    this.#running = false;
    for (const cancel of this.#timers.splice(0)) cancel();
    this.#requeue?.();
    this.#requeue = undefined;
    for (const fail of [...this.#deadlines]) fail(new ScrapeFailedError('autoscaler stopped'));
  }

  /** Applies a changed spec: windows resize, the decider and scaler use it from the next tick (§c3, §c6). */
  updateSpec(spec: RevisionScalingSpec): void {
    this.#spec = spec;
    const now = this.#deps.clock.now();
    this.#collector.update(collectorOptions(spec), now);
    this.#decider.updateSpec(spec.decider);
    this.#scaler.updateSpec(revisionScalerSpec(spec.scaler, spec.decider));
  }

  /**
   * An activator's stat for this revision (§b5): recorded at the receive time into the same windows as scrapes;
   * pokes an immediate tick if the last desired scale is 0 and the stat carries concurrency.
   * Beyond Knative: also while no decision exists yet (desired −1). Knative never meets that case with demand, because
   * a new revision starts at initial scale 1; a Tide service may start at 0 (`tide up`'s example does), and its very
   * first request should not wait up to a 2 s tick.
   */
  recordActivator(stat: Stat): void {
    const now = this.#deps.clock.now();
    this.#collector.record(now, stat);
    const key = stat.podName;
    if (!this.#activators.has(key) && this.#activators.size >= MAX_ACTIVATORS_PER_REVISION) {
      // Forget the stalest activator to make room (a real activator reports every second and comes straight back).
      let oldest: string | undefined;
      let oldestAt = Infinity;
      for (const [k, v] of this.#activators) if (v.atMs < oldestAt) [oldest, oldestAt] = [k, v.atMs];
      if (oldest !== undefined) this.#activators.delete(oldest);
    }
    this.#activators.set(key, {
      concurrency: finiteOr0(stat.averageConcurrentRequests - stat.averageProxiedConcurrentRequests),
      rps: finiteOr0(stat.requestCount - stat.proxiedRequestCount),
      queued: finiteOr0(stat.queuedRequests),
      maxWaitSeconds: finiteOr0(stat.maxWaitSeconds),
      atMs: now,
    });
    if (this.#running && this.#decision.desiredPods <= 0 && stat.averageConcurrentRequests !== 0) {
      this.#deps.logger.debug({ namespace: this.#deps.namespace, revision: this.#deps.revision }, 'poke: demand at zero, ticking now');
      this.tick();
    }
  }

  /** One decider tick (§c5) followed by a reconcile (§c7). An invalid tick keeps the last decision. */
  tick(): void {
    const now = this.#deps.clock.now();
    let pods: readonly PodInfo[] | undefined;
    try {
      pods = this.#deps.scaleTarget.pods(this.#deps.namespace, this.#deps.revision);
    } catch (err) {
      // §c5: a pod-count lookup error makes the tick invalid.
      this.#deps.logger.warn({ err, namespace: this.#deps.namespace, revision: this.#deps.revision }, 'cannot read pods; tick skipped');
    }
    if (pods === undefined) {
      this.#tickValid = false;
      return;
    }
    const ready = this.#readyCount(pods);
    const windows = this.#collector.read(now);
    const result = this.#decider.scale(now, windows && { readyPods: ready, stable: windows.stable, panic: windows.panic });
    this.#tickValid = result.valid;
    if (result.valid) this.#decision = result;
    this.#reconcile(now, ready);
  }

  /** The live numbers as of now (also the body of each 1 s sample). */
  live(): Omit<RevisionSample, 'seq'> {
    const now = this.#deps.clock.now();
    const pods = this.#pods();
    const ready = this.#readyCount(pods);
    const windows = this.#collector.read(now);
    let rps = 0;
    let concurrency = 0;
    let queue = 0;
    let wait = 0;
    const fresh = (v: LiveValue): boolean => now - v.atMs <= LIVE_VALUE_TTL_MS;
    if (this.#scraped && fresh(this.#scraped)) {
      rps += this.#scraped.rps;
      concurrency += this.#scraped.concurrency;
    }
    for (const a of this.#activators.values()) {
      if (!fresh(a)) continue;
      rps += a.rps;
      concurrency += a.concurrency;
      queue += a.queued;
      wait = Math.max(wait, a.maxWaitSeconds);
    }
    const target = this.#spec.decider.targetValue;
    let requested = 0;
    try {
      requested = this.#deps.scaleTarget.replicas(this.#deps.namespace, this.#deps.revision);
    } catch {
      // The dashboard shows 0 rather than failing the sample.
    }
    return {
      timeMs: now,
      namespace: this.#deps.namespace,
      revision: this.#deps.revision,
      metric: this.#spec.decider.metric,
      rps,
      concurrency,
      stable: windows ? windows.stable : null,
      panic: windows ? windows.panic : null,
      targetPerPod: target,
      targetTotal: target * ready,
      desired: this.#decision.desiredPods,
      requested,
      ready,
      inPanic: this.#decision.inPanic,
      mode: this.#reportedMode ?? this.#scaler.mode,
      excessBurstCapacity: this.#decision.excessBurstCapacity,
      state: this.#state,
      activatorQueue: queue,
      coldStartWaitSeconds: wait,
    };
  }

  snapshot(): RevisionSnapshot {
    const spec = this.#spec;
    return {
      namespace: this.#deps.namespace,
      revision: this.#deps.revision,
      spec: {
        metric: spec.decider.metric,
        targetValue: spec.decider.targetValue,
        totalValue: spec.decider.totalValue,
        targetBurstCapacity: spec.decider.targetBurstCapacity,
        panicThreshold: spec.decider.panicThreshold,
        stableWindowMs: spec.decider.stableWindowMs,
        panicWindowMs: spec.panicWindowMs,
        minScale: spec.scaler.minScale,
        maxScale: spec.scaler.maxScale,
        containerConcurrency: spec.containerConcurrency,
      },
      live: this.live(),
      pods: this.#pods().map((p) => ({ name: p.name, ready: p.ready })),
      lastScrape: this.#lastScrape,
      skippedScrapes: this.#skippedScrapes,
    };
  }

  /** True when the last tick was valid (for tests and logs). */
  get lastTickValid(): boolean {
    return this.#tickValid;
  }

  #pods(): readonly PodInfo[] {
    try {
      return this.#deps.scaleTarget.pods(this.#deps.namespace, this.#deps.revision);
    } catch {
      return [];
    }
  }

  #readyCount(pods: readonly PodInfo[]): number {
    let n = 0;
    for (const p of pods) if (p.ready) n++;
    return n;
  }

  /** Every second: start the next scrape unless the previous one is still running. */
  #scrapeTick(): void {
    // §c2: with TBC = −1 there is no scrape target; only activator stats feed the windows.
    if (this.#spec.decider.targetBurstCapacity === -1) return;
    if (this.#scraping) {
      this.#skippedScrapes++;
      return;
    }
    this.#scraping = true;
    void this.#scrape().finally(() => {
      this.#scraping = false;
    });
  }

  async #scrape(): Promise<void> {
    const { clock, scraper, scrapeTimeoutMs, namespace, revision, logger } = this.#deps;
    const started = clock.now();
    const pods = this.#pods();
    try {
      const sampled = await samplePods(pods, {
        nowMs: started,
        stableWindowMs: this.#spec.decider.stableWindowMs,
        random: this.#deps.random,
        scrapePod: (pod) => this.#withDeadline(callScraper(scraper, pod.statsAddress), scrapeTimeoutMs, `scrape ${pod.name}`),
      });
      if (!this.#running) return;
      const now = clock.now();
      this.#lastScrape = { atMs: now, ok: true, durationMs: now - started, sampled: sampled?.sampled ?? 0 };
      this.#deps.onScrape(now - started, true);
      if (!sampled) return;
      this.#collector.record(now, sampled.stat);
      const s = sampled.stat;
      this.#scraped = {
        concurrency: finiteOr0(s.averageConcurrentRequests - s.averageProxiedConcurrentRequests),
        rps: finiteOr0(s.requestCount - s.proxiedRequestCount),
        atMs: now,
      };
    } catch (err) {
      if (!this.#running) return;
      const now = clock.now();
      const message = err instanceof Error ? err.message : String(err);
      this.#lastScrape = { atMs: now, ok: false, durationMs: now - started, sampled: 0, error: message };
      this.#deps.onScrape(now - started, false);
      // Partial failure: nothing is recorded for this second (§c2).
      logger.debug({ namespace, revision, err: message }, 'scrape failed; nothing recorded');
    }
  }

  /** Rejects with a ScrapeFailedError if `p` has not settled after `ms` on the clock (a slow or hostile pod). */
  #withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        cancel();
        this.#deadlines.delete(fail);
        return true;
      };
      const fail = (reason: Error): void => {
        if (settle()) reject(reason);
      };
      const cancel = this.#deps.clock.setTimeout(() => fail(new ScrapeFailedError(`${what}: no answer within ${ms} ms`)), ms);
      this.#deadlines.add(fail);
      p.then(
        (v) => {
          if (settle()) resolve(v);
        },
        (err: unknown) => fail(err instanceof Error ? err : new Error(String(err))),
      );
    });
  }

  /** §c7 then §b1: replicas to the backend when they differ, routing mode when it changes. */
  #reconcile(now: number, ready: number): void {
    const { scaleTarget, routing, namespace, revision, logger, clock } = this.#deps;
    let current: number;
    let activatorReady: boolean;
    try {
      current = scaleTarget.replicas(namespace, revision);
      activatorReady = routing.activatorReady();
    } catch (err) {
      logger.warn({ err, namespace, revision }, 'cannot read replicas or activator state; reconcile skipped');
      return;
    }
    const result = this.#scaler.reconcile(now, {
      desired: this.#decision.desiredPods,
      excessBurstCapacity: this.#decision.excessBurstCapacity,
      readyPods: ready,
      currentReplicas: current,
      reachable: this.#spec.decider.reachable,
      activatorReady,
    });
    if (result.state !== this.#state) {
      logger.info({ namespace, revision, from: this.#state, to: result.state }, 'revision state changed');
      this.#state = result.state;
    }
    if (result.replicas !== undefined && result.replicas !== this.#writing) this.#setReplicas(result.replicas, current);
    if (result.mode !== this.#reportedMode) {
      try {
        routing.setMode(namespace, revision, result.mode);
        logger.info({ namespace, revision, mode: result.mode }, 'routing mode');
        this.#reportedMode = result.mode;
      } catch (err) {
        logger.warn({ err, namespace, revision, mode: result.mode }, 'routing refused the mode; will retry next reconcile');
      }
    }
    if (result.requeueAfterMs !== undefined && this.#running) {
      this.#requeue?.();
      this.#requeue = clock.setTimeout(() => {
        this.#requeue = undefined;
        if (this.#running) this.#reconcile(clock.now(), this.#readyCount(this.#pods()));
      }, result.requeueAfterMs);
    }
  }

  #setReplicas(replicas: number, from: number): void {
    const { scaleTarget, namespace, revision, logger } = this.#deps;
    this.#writing = replicas;
    // The backend logs the write at info (a follower autoscaler decides too, but writes nothing).
    logger.debug({ namespace, revision, from, to: replicas }, 'replicas decided');
    let write: Promise<void>;
    try {
      write = scaleTarget.setReplicas(namespace, revision, replicas);
    } catch (err) {
      write = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    write.then(
      () => {
        if (this.#writing === replicas) this.#writing = undefined;
      },
      (err: unknown) => {
        if (this.#writing === replicas) this.#writing = undefined;
        logger.warn({ err, namespace, revision, replicas }, 'setting replicas failed; the next tick retries');
      },
    );
  }
}
