/** What the decider needs to know about one revision (docs/knative-parity.md §c4, §c5). Built from annotations + config. */

/** The decider's inputs for one revision. Values are per pod unless said otherwise. */
export interface DeciderSpec {
  /** Which metric the windows average: in-flight requests or requests per second. */
  readonly metric: 'concurrency' | 'rps';
  /** Per-pod target after utilisation: max(0.01, total × tu). */
  readonly targetValue: number;
  /** Per-pod total capacity before utilisation (CC, or the configured default). */
  readonly totalValue: number;
  /** TBC: -1 = activator always in path, 0 = only at zero. */
  readonly targetBurstCapacity: number;
  /** Ratio, e.g. 2.0 for 200%. */
  readonly panicThreshold: number;
  readonly maxScaleUpRate: number;
  readonly maxScaleDownRate: number;
  readonly stableWindowMs: number;
  readonly scaleDownDelayMs: number;
  /** Minimum non-zero scale when leaving zero; 1 = off. */
  readonly activationScale: number;
  /** False while the revision is not routable (e.g. not the latest); then scale-down is unlimited. */
  readonly reachable: boolean;
}
