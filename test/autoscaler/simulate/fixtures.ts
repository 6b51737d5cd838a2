/** Hand-written scaling specs for simulator tests: Knative's defaults (docs/knative-parity.md §c4, §d), overridable. */
import type { RevisionScalingSpec } from '../../../autoscaler/config/revision-spec.js';
import type { DeciderSpec } from '../../../autoscaler/scaling/decider-spec.js';
import type { ScalerSpec } from '../../../autoscaler/config/revision-spec.js';

/**
 * Defaults: CC 0 → total 100, tu 0.7 → target 70; TBC 211; panic 200%; rates 1000/2; stable 60 s, panic 6 s;
 * grace 30 s; initial scale 1; activation timeout 600 + 30 s.
 */
export function specWith(
  over: { decider?: Partial<DeciderSpec>; scaler?: Partial<ScalerSpec> } & Partial<Omit<RevisionScalingSpec, 'decider' | 'scaler'>> = {},
): RevisionScalingSpec {
  const { decider, scaler, ...rest } = over;
  return {
    autoscalerClass: 'kpa.autoscaling.knative.dev',
    algorithm: 'linear',
    panicWindowMs: 6000,
    containerConcurrency: 0,
    timeoutSeconds: 300,
    responseStartTimeoutSeconds: 0,
    idleTimeoutSeconds: 0,
    ...rest,
    decider: {
      metric: 'concurrency',
      targetValue: 70,
      totalValue: 100,
      targetBurstCapacity: 211,
      panicThreshold: 2,
      maxScaleUpRate: 1000,
      maxScaleDownRate: 2,
      stableWindowMs: 60_000,
      scaleDownDelayMs: 0,
      activationScale: 1,
      reachable: true,
      ...decider,
    },
    scaler: {
      minScale: 0,
      maxScale: 0,
      initialScale: 1,
      enableScaleToZero: true,
      scaleToZeroGracePeriodMs: 30_000,
      scaleToZeroPodRetentionPeriodMs: 0,
      activationTimeoutMs: 630_000,
      ...scaler,
    },
  };
}
