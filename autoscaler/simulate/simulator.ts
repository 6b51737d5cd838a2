/**
 * `tide simulate`'s engine: the real collector windows, decider and scaler driven on a virtual clock by a simulated
 * revision (pods with a start-up delay, requests that wait for capacity). Pure and deterministic.
 */
import type { Stat } from '../../common/stats.js';
import type { RevisionScalingSpec } from '../config/revision-spec.js';
import { MetricCollector } from '../metrics/collector.js';
import { Decider, TICK_INTERVAL_MS, initialDeciderStatus } from '../scaling/decider.js';
import { RevisionScaler, revisionScalerSpec, type PaState, type RoutingMode } from '../scaling/scaler.js';
import { RevisionModel } from './revision-model.js';
import type { Workload } from './trace.js';

export interface SimulationOptions {
  /** The revision's validated scaling spec (annotations + config-autoscaler). */
  readonly spec: RevisionScalingSpec;
  /** Seconds from a replica being requested to its pod being ready. */
  readonly podStartSeconds: number;
  /**
   * Pods ready at time 0 (the revision is already running with them). 0 = the revision starts scaled to zero
   * (PA inactive, activator in the path). Default: max(min-scale, initial-scale).
   */
  readonly initialPods?: number;
  /** Seconds to simulate; default (and minimum sensible) is the workload's length. */
  readonly seconds?: number;
  /** The load column of the timeline, per second (the trace's own values); default: arrivals per second. */
  readonly load?: Float64Array;
  /** Virtual epoch of second 0, ms. Default 1.7e12 (a multiple of the 2 s tick so tick buckets line up). */
  readonly startMs?: number;
}

/** One second [t, t+1) of the simulation. Loads are revision totals; pod counts are at the end of the second. */
export interface TimelineRow {
  t: number;
  /** The trace's value for this second (concurrency or rps), or arrivals for an arrivals trace. */
  load: number;
  /** Requests that arrived. */
  arrivals: number;
  /** Average requests in the revision (waiting + running): what the queue-proxies and activator report (§a5). */
  concurrency: number;
  /** Average requests waiting for capacity. */
  waiting: number;
  /** Requests given up this second after waiting the whole request timeout. */
  timedOut: number;
  /** Stable- and panic-window averages of the scaling metric at the last valid tick (revision totals). */
  stable: number;
  panic: number;
  /** Per-pod target value (after utilisation). */
  target: number;
  /** The decider's desired pods after the last valid tick (−1: none yet). */
  desired: number;
  /** Replicas requested from the backend (after bounds and the scale-to-zero gate). */
  replicas: number;
  /** Ready pods, and ready + starting pods. */
  ready: number;
  pods: number;
  inPanic: boolean;
  /** Excess burst capacity at the last valid tick. */
  ebc: number;
  state: PaState;
  mode: RoutingMode;
}

export interface SimulationSummary {
  seconds: number;
  /** Requests that arrived / were admitted to a pod / were still waiting when the simulation ended. */
  requests: number;
  served: number;
  unservedAtEnd: number;
  /** Requests given up (504) after waiting the revision's whole request timeout for capacity. */
  timedOut: number;
  /** ∫ pods dt (ready + starting): what the pods cost. */
  podSeconds: number;
  readyPodSeconds: number;
  /** Transitions from 0 to ≥ 1 ready pods while requests were waiting. */
  coldStarts: number;
  /** Time an admitted request waited for capacity, seconds. */
  waitMaxSeconds: number;
  waitP99Seconds: number;
  waitP50Seconds: number;
  waitMeanSeconds: number;
  /** Request-seconds spent waiting (admitted and not). */
  waitingRequestSeconds: number;
  /** Seconds that ended with the decider in panic mode. */
  panicSeconds: number;
  maxReplicas: number;
  finalReplicas: number;
  finalReady: number;
  /** Decider ticks run (valid ones), including pokes. */
  ticks: number;
  pokes: number;
}

export interface SimulationResult {
  summary: SimulationSummary;
  timeline: TimelineRow[];
}

const DEFAULT_START_MS = 1_700_000_000_000;
const TICK_SECONDS = TICK_INTERVAL_MS / 1000;

/**
 * Runs the simulation. Each second t:
 * 1. at the boundary t, the stat of [t−1, t) is recorded as the revision total (concurrency counted from arrival,
 *    waiting included; request count), when a pod can be scraped or the activator has demand to report (§c2, §b5);
 * 2. a recorded stat with demand while the last desired scale was 0 pokes the decider (§b5); every 2 s the decider
 *    ticks (§c1); each tick's result goes through the scaler (§c7), whose replicas become pods;
 * 3. within [t, t+1) the revision serves what fits (§b3: at zero everything waits in the activator); the first
 *    request reaching an idle revision whose last desired scale was 0 sends the activator's immediate stat and pokes
 *    the decider at its arrival instant; scaler requeues run at their due instant.
 */
export function simulate(workload: Workload, opts: SimulationOptions): SimulationResult {
  const spec = opts.spec;
  const d = spec.decider;
  const start = opts.startMs ?? DEFAULT_START_MS;
  const ms = (s: number): number => start + Math.round(s * 1000);
  const seconds = Math.max(1, Math.floor(opts.seconds ?? workload.seconds));
  const initialPods = Math.max(0, Math.floor(opts.initialPods ?? Math.max(spec.scaler.minScale, spec.scaler.initialScale)));

  const model = new RevisionModel(workload, {
    containerConcurrency: spec.containerConcurrency,
    podStartSeconds: opts.podStartSeconds,
    initialReadyPods: initialPods,
    timeoutSeconds: spec.timeoutSeconds,
  });
  const collector = new MetricCollector(
    {
      metric: d.metric,
      stableWindowMs: d.stableWindowMs,
      panicWindowMs: spec.panicWindowMs,
      algorithm: spec.algorithm,
      hasScrapeTarget: d.targetBurstCapacity !== -1,
    },
    ms(0),
  );
  // The decider is created with the PodAutoscaler, before any pod is ready: a fresh revision, not a restart (§c5).
  const decider = new Decider(d, 0, ms(0));
  // Already running → Active; starting at zero → Inactive (a revision that was scaled to zero).
  const scaler = new RevisionScaler(revisionScalerSpec(spec.scaler, d), ms(0), {
    state: initialPods > 0 ? 'active' : 'inactive',
    scaleTargetInitialized: true,
  });

  let replicas = initialPods;
  const init = initialDeciderStatus(d, spec.scaler.initialScale);
  // A revision that starts at zero was scaled there by a desired scale of 0, which arms the poke (§b5).
  let lastDesired = initialPods > 0 ? init.desiredPods : 0;
  let lastEbc = init.excessBurstCapacity;
  let lastStable = 0;
  let lastPanic = 0;
  let inPanic = false;
  let requeueAt: number | undefined;
  let maxReplicas = replicas;
  let ticks = 0;
  let pokes = 0;
  // The activator's first-request stat is taken back from its next 1 s report (§b5 "first adjustment").
  let pokeAdjust = 0;
  // The activator keeps a stats entry while its average concurrency is non-zero (§b5).
  let activatorHasEntry = false;

  const reconcile = (t: number): void => {
    const r = scaler.reconcile(ms(t), {
      desired: lastDesired,
      excessBurstCapacity: lastEbc,
      readyPods: model.readyPods,
      currentReplicas: replicas,
      reachable: d.reachable,
      activatorReady: true,
    });
    if (r.replicas !== undefined) {
      replicas = r.replicas;
      if (replicas > maxReplicas) maxReplicas = replicas;
      model.setPods(replicas);
    }
    // At least 1 ms later, so a zero requeue can never spin at one instant.
    requeueAt = r.requeueAfterMs !== undefined ? t + Math.max(r.requeueAfterMs, 1) / 1000 : undefined;
  };

  const tick = (t: number): void => {
    const obs = collector.read(ms(t));
    const res = decider.scale(ms(t), obs === undefined ? undefined : { readyPods: model.readyPods, stable: obs.stable, panic: obs.panic });
    if (res.valid && obs !== undefined) {
      ticks++;
      lastDesired = res.desiredPods;
      lastEbc = res.excessBurstCapacity;
      inPanic = res.inPanic;
      lastStable = obs.stable;
      lastPanic = obs.panic;
    }
    reconcile(t);
  };

  const stat = (concurrency: number, count: number): Stat => ({
    podName: 'simulated-revision',
    averageConcurrentRequests: concurrency,
    averageProxiedConcurrentRequests: 0,
    requestCount: count,
    proxiedRequestCount: 0,
    processUptimeSeconds: 0,
    timestampMs: 0,
  });

  const timeline: TimelineRow[] = new Array<TimelineRow>(seconds);
  let podSeconds = 0;
  let readyPodSeconds = 0;
  let waitingRequestSeconds = 0;
  let panicSeconds = 0;

  for (let t = 0; t < seconds; t++) {
    // Within [t, t+1): poke on the first request at an idle revision, and scaler requeues, at their instants.
    for (;;) {
      const next = model.nextArrival;
      const pokeAt =
        lastDesired === 0 && !activatorHasEntry && model.inSystem === 0 && next >= model.now && next < t + 1 ? next : Infinity;
      const requeue = requeueAt !== undefined && requeueAt < t + 1 ? Math.max(requeueAt, model.now) : Infinity;
      const at = Math.min(pokeAt, requeue);
      if (at === Infinity) break;
      model.advanceTo(at);
      if (at === pokeAt) {
        // §b5: the activator sends concurrency 1, count 1 at once, stamped with the whole second it was received.
        collector.record(ms(Math.floor(at)), stat(1, 1));
        activatorHasEntry = true;
        pokeAdjust = 1;
        pokes++;
        tick(at);
      } else {
        requeueAt = undefined;
        reconcile(at);
      }
    }
    model.advanceTo(t + 1);

    // Boundary t+1: the stat of [t, t+1).
    const tot = model.takeTotals();
    model.settle();
    const boundary = t + 1;
    const concurrency = tot.inSystemArea;
    const repConcurrency = Math.max(0, concurrency - pokeAdjust);
    const repCount = Math.max(0, tot.arrivals - pokeAdjust);
    pokeAdjust = 0;
    activatorHasEntry = concurrency > 0;
    const scrapeable = model.readyPods > 0;
    let recorded = false;
    if (scrapeable || repConcurrency > 0) {
      collector.record(ms(boundary), stat(repConcurrency, repCount));
      recorded = true;
    }
    const isTick = boundary % TICK_SECONDS === 0;
    if (recorded && repConcurrency > 0 && lastDesired === 0 && !isTick) {
      // §b5: a stat with demand while the last desired scale is 0 pokes the decider.
      pokes++;
      tick(boundary);
    }
    if (isTick) tick(boundary);
    if (requeueAt !== undefined && requeueAt <= boundary) {
      requeueAt = undefined;
      reconcile(boundary);
    }

    podSeconds += tot.podArea;
    readyPodSeconds += tot.readyArea;
    waitingRequestSeconds += tot.waitingArea;
    if (inPanic) panicSeconds++;
    timeline[t] = {
      t,
      load: opts.load !== undefined ? (opts.load[t] ?? 0) : tot.arrivals,
      arrivals: tot.arrivals,
      concurrency,
      waiting: tot.waitingArea,
      timedOut: tot.timedOut,
      stable: lastStable,
      panic: lastPanic,
      target: d.targetValue,
      desired: lastDesired,
      replicas,
      ready: model.readyPods,
      pods: model.pods,
      inPanic,
      ebc: lastEbc,
      state: scaler.state,
      mode: scaler.mode,
    };
  }

  const served = model.admitted;
  const requests = served + model.waiting + model.timedOut;
  return {
    timeline,
    summary: {
      seconds,
      requests,
      served,
      unservedAtEnd: model.waiting,
      timedOut: model.timedOut,
      podSeconds,
      readyPodSeconds,
      coldStarts: model.coldStarts,
      waitMaxSeconds: model.maxWaitSeconds,
      waitP99Seconds: model.waitQuantile(0.99),
      waitP50Seconds: model.waitQuantile(0.5),
      waitMeanSeconds: model.waitMeanSeconds(),
      waitingRequestSeconds,
      panicSeconds,
      maxReplicas,
      finalReplicas: replicas,
      finalReady: model.readyPods,
      ticks,
      pokes,
    },
  };
}
