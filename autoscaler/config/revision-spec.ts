/** Everything the autoscaler derives from one workload's annotations plus config-autoscaler (docs/knative-parity.md §c4, §c7, §d). */
import type { DeciderSpec } from '../scaling/decider-spec.js';

export type AggregationAlgorithm = 'linear' | 'weighted-exponential';

/** The scaler's bounds and scale-to-zero gate inputs (§c7). Durations in milliseconds. */
export interface ScalerSpec {
  /** Lower bound; ignored while the revision is unreachable. */
  readonly minScale: number;
  /** Upper bound; 0 = unlimited. */
  readonly maxScale: number;
  /** Replicas at creation (may be 0 only with allow-zero-initial-scale). */
  readonly initialScale: number;
  readonly enableScaleToZero: boolean;
  readonly scaleToZeroGracePeriodMs: number;
  /** Minimum life of the last pod; 0 = off. */
  readonly scaleToZeroPodRetentionPeriodMs: number;
  /** How long activation may take before the scaler gives up and scales to 0: progress deadline + 30 s. */
  readonly activationTimeoutMs: number;
}

/** A revision's complete, validated scaling spec. */
export interface RevisionScalingSpec {
  /** `kpa.autoscaling.knative.dev` (Tide only runs KPA; HPA-class workloads are reported and left alone). */
  readonly autoscalerClass: string;
  readonly decider: DeciderSpec;
  readonly scaler: ScalerSpec;
  readonly algorithm: AggregationAlgorithm;
  /** round(stable × panicPct/100) in whole seconds, at least 1 s (§c3). */
  readonly panicWindowMs: number;
  /** The pod's hard concurrency limit; 0 = unlimited. */
  readonly containerConcurrency: number;
  /** Request timeouts the queue-proxy and activator apply (§a8). 0 = off for the optional two. */
  readonly timeoutSeconds: number;
  readonly responseStartTimeoutSeconds: number;
  readonly idleTimeoutSeconds: number;
}
