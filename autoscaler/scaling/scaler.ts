/**
 * From the decider's recommendation to replicas: bounds, the scale-to-zero gate, the PodAutoscaler's Active condition
 * and the serve/proxy routing mode (docs/knative-parity.md §c7, §b1). Pure: the clock is an argument.
 */
import type { ScalerSpec } from '../config/revision-spec.js';
import type { DeciderSpec } from './decider-spec.js';

/** The PA's Active condition: Unknown = activating, True = active, False = inactive. */
export type PaState = 'activating' | 'active' | 'inactive';
/** Whether the revision's traffic goes straight to the pods (serve) or through the activator (proxy) (§b1). */
export type RoutingMode = 'serve' | 'proxy';

/** The scaler's spec: §c7 bounds and gate, plus the two decider values the gate reads (stable window, TBC). */
export interface RevisionScalerSpec extends ScalerSpec {
  /** Active → Inactive only after the PA has been active this long (§c7 step 3). */
  readonly stableWindowMs: number;
  /** −1: the activator is always in the path, so the scale-to-zero activator probe is skipped (§c7 step 3). */
  readonly targetBurstCapacity: number;
}

/** Builds a {@link RevisionScalerSpec} from the scaler spec and the decider spec of one revision. */
export function revisionScalerSpec(scaler: ScalerSpec, decider: Pick<DeciderSpec, 'stableWindowMs' | 'targetBurstCapacity'>): RevisionScalerSpec {
  return { ...scaler, stableWindowMs: decider.stableWindowMs, targetBurstCapacity: decider.targetBurstCapacity };
}

export interface ReconcileInput {
  /** The decider's desired pods; −1 = unknown (no valid tick yet). */
  desired: number;
  /** The decider's EBC. */
  excessBurstCapacity: number;
  /** Ready pods of the revision now. */
  readyPods: number;
  /** Replicas currently requested from the backend (Knative: unset counts as 1). */
  currentReplicas: number;
  /** False when the revision is not routable (min-scale and retention are ignored). */
  reachable: boolean;
  /** True when the activator has ready endpoints (Knative: the activator Endpoints object is not empty). */
  activatorReady: boolean;
}

export interface ReconcileResult {
  /** Replicas to apply now, or undefined to leave the backend alone (unchanged, or gated). */
  replicas: number | undefined;
  /** Knative's `want`: the scale the reconcile settled on (−1 unknown; 0 may be returned without being applied). */
  want: number;
  state: PaState;
  /** Routing mode to program, after the SKS overrides (no ready pods → proxy; no activator → serve). */
  mode: RoutingMode;
  /** Reconcile again after this many ms even if nothing changes (Knative's enqueue-after). */
  requeueAfterMs: number | undefined;
}

/** Knative re-enqueues an Active PA 3 s after deciding to deactivate it if the SKS is already in proxy mode. */
export const DEACTIVATE_REQUEUE_MS = 3000;
/** Knative's async activator probe runs every 1 s (for up to 45 s) when the synchronous probe failed. */
export const ACTIVATOR_PROBE_PERIOD_MS = 1000;

/**
 * One revision's PodAutoscaler reconciler state (Knative `kpa.Reconciler.ReconcileKind` + `scaler.scale`).
 *
 * Where Knative reads Kubernetes objects, this class keeps the equivalent state itself:
 * - the PA Active condition and its last transition time (`state`, `stateSinceMs`);
 * - `ScaleTargetInitialized` (set once ready ≥ the activation threshold);
 * - the SKS mode and the time the activator endpoints were populated (`proxySinceMs`: since the effective mode became
 *   proxy with the activator ready; Knative's `ActivatorEndpointsPopulated` condition);
 * - the synchronous activator probe (`GET /healthz` on the public Service answering `activator`) succeeds exactly when
 *   the routing programmed by the previous reconcile was proxy and the activator is ready.
 * A new PA starts Activating (Active=Unknown) in proxy mode (§b1 "the SKS is created in Proxy mode").
 * The scale target itself is created with `initialScale` replicas by its owner (Knative's revision reconciler), not
 * here: while activating with no recommendation this class applies nothing unless min-scale/initial-scale ask for more.
 */
export class RevisionScaler {
  #spec: RevisionScalerSpec;
  #state: PaState;
  #stateSinceMs: number;
  #initialized: boolean;
  #mode: RoutingMode = 'proxy';
  #proxySinceMs: number | undefined;

  constructor(spec: RevisionScalerSpec, nowMs: number, opts: { state?: PaState; scaleTargetInitialized?: boolean } = {}) {
    this.#spec = spec;
    this.#state = opts.state ?? 'activating';
    this.#stateSinceMs = nowMs;
    this.#initialized = opts.scaleTargetInitialized ?? false;
  }

  updateSpec(spec: RevisionScalerSpec): void {
    this.#spec = spec;
  }

  get state(): PaState {
    return this.#state;
  }

  get mode(): RoutingMode {
    return this.#mode;
  }

  get scaleTargetInitialized(): boolean {
    return this.#initialized;
  }

  /** One reconcile (§c7 steps 1–4, then §b1 mode and the Active condition). */
  reconcile(nowMs: number, input: ReconcileInput): ReconcileResult {
    const { want, apply, requeueAfterMs } = this.#scale(nowMs, input);
    let replicas: number | undefined;
    // Step 4: patch only if different from the current value.
    if (apply && want !== input.currentReplicas) replicas = want;

    // §b1: serve iff want > 0 and EBC ≥ 0; unknown want while inactive stays proxy (covered by the default).
    let mode: RoutingMode = want > 0 && input.excessBurstCapacity >= 0 ? 'serve' : 'proxy';
    // SKS overrides: no ready private endpoints forces proxy; no activator endpoints forces serve.
    if (input.readyPods <= 0) mode = 'proxy';
    if (!input.activatorReady) mode = 'serve';
    this.#mode = mode;
    if (mode === 'proxy') this.#proxySinceMs ??= nowMs;
    else this.#proxySinceMs = undefined;

    this.#computeActiveCondition(nowMs, want, input.readyPods, input.reachable);
    return { replicas, want, state: this.#state, mode, requeueAfterMs };
  }

  /** min-scale, ignored when unreachable (Knative `ScaleBounds`). */
  #minScale(reachable: boolean): number {
    return reachable ? this.#spec.minScale : 0;
  }

  /** Steps 1–3: returns the scale and whether to apply it. */
  #scale(nowMs: number, input: ReconcileInput): { want: number; apply: boolean; requeueAfterMs: number | undefined } {
    const spec = this.#spec;
    let desired = input.desired;
    // Step 1: no recommendation yet and not activating: nothing to do.
    if (desired < 0 && this.#state !== 'activating') return { want: desired, apply: false, requeueAfterMs: undefined };

    // Step 2: bounds. An unknown desire while activating becomes min (applyBounds(min, max, −1) = min).
    let min = this.#minScale(input.reachable);
    if (spec.initialScale > 1 && !this.#initialized && input.reachable) min = Math.max(min, spec.initialScale);
    if (desired < min) desired = min;
    if (spec.maxScale !== 0 && desired > spec.maxScale) desired = spec.maxScale;

    // Step 3: the scale-to-zero gate.
    if (desired !== 0) return { want: desired, apply: true, requeueAfterMs: undefined };
    if (!spec.enableScaleToZero) return { want: 1, apply: true, requeueAfterMs: undefined };
    const inStateFor = nowMs - this.#stateSinceMs;
    switch (this.#state) {
      case 'activating':
        // Stuck activating past progress deadline + 30 s: give up and scale to 0 (strictly longer, `CanFailActivation`).
        if (inStateFor > spec.activationTimeoutMs) return { want: 0, apply: true, requeueAfterMs: undefined };
        // Knative re-enqueues after the whole timeout, not the remainder.
        return { want: -1, apply: false, requeueAfterMs: spec.activationTimeoutMs };
      case 'active': {
        if (inStateFor >= spec.stableWindowMs) {
          // Return 0 without applying: the PA turns Inactive and the activator goes into the path first.
          return { want: 0, apply: false, requeueAfterMs: this.#mode === 'proxy' ? DEACTIVATE_REQUEUE_MS : undefined };
        }
        // Keep one pod for the rest of the stable window.
        return { want: 1, apply: true, requeueAfterMs: spec.stableWindowMs - inStateFor };
      }
      case 'inactive': {
        const activatorInPath = spec.targetBurstCapacity === -1 || (this.#mode === 'proxy' && input.activatorReady);
        if (!activatorInPath) {
          // The probe failed: Knative starts an async probe (every 1 s) that re-enqueues the PA.
          return { want: 0, apply: false, requeueAfterMs: ACTIVATOR_PROBE_PERIOD_MS };
        }
        const retention = input.reachable ? spec.scaleToZeroPodRetentionPeriodMs : 0;
        const grace = spec.scaleToZeroGracePeriodMs;
        if (inStateFor >= Math.max(grace, retention)) return { want: 0, apply: true, requeueAfterMs: undefined };
        if (retention > 0 && inStateFor < retention) return { want: 0, apply: false, requeueAfterMs: retention - inStateFor };
        const proxyFor = this.#proxySinceMs === undefined ? 0 : nowMs - this.#proxySinceMs;
        const remaining = grace - proxyFor;
        if (remaining <= 0) return { want: 0, apply: true, requeueAfterMs: undefined };
        return { want: 0, apply: false, requeueAfterMs: remaining };
      }
    }
  }

  /** Knative `computeActiveCondition` and `activeThreshold` (§c7 last lines). */
  #computeActiveCondition(nowMs: number, want: number, ready: number, reachable: boolean): void {
    const min = this.#minScale(reachable);
    const minReady = this.#initialized ? Math.max(min, 1) : Math.max(min, this.#spec.initialScale);
    if (ready >= minReady) this.#initialized = true;
    let next = this.#state;
    if (want === 0 || minReady === 0) {
      // Activating → Inactive is Knative's `TimedOut`; otherwise `NoTraffic`.
      next = 'inactive';
    } else if (ready < minReady) {
      next = want > 0 || this.#state !== 'inactive' ? 'activating' : 'inactive';
    } else if (want > 0 || this.#state !== 'inactive') {
      next = 'active';
    }
    // The transition time only moves when the condition's status changes.
    if (next !== this.#state) {
      this.#state = next;
      this.#stateSinceMs = nowMs;
    }
  }
}
