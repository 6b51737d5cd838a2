/** The `config-autoscaler` ConfigMap: every key, its default and Knative's validation (docs/knative-parity.md §d). */
import type { ConfigProblem } from '../../common/errors.js';
import { goDuration, goFixed, goFloat, isWholeSeconds, parseGoBool, parseGoDurationMs, parseGoFloat, parseGoInt } from './go-values.js';

export const KPA_CLASS = 'kpa.autoscaling.knative.dev';
export const HPA_CLASS = 'hpa.autoscaling.knative.dev';
/** Smallest per-pod target (`autoscaling.TargetMin`). */
export const TARGET_MIN = 0.01;
/** Stable window bounds (`autoscaling.WindowMin`, `WindowMax`). */
export const WINDOW_MIN_MS = 6_000;
export const WINDOW_MAX_MS = 3_600_000;
/**
 * Target utilisation for the rps metric. Knative's `TargetUtilization` is 0.7 and is NOT read from the ConfigMap
 * (`container-concurrency-target-percentage` only applies to concurrency), §c4.
 */
export const RPS_TARGET_UTILIZATION = 0.7;

/**
 * Tide's autoscaler configuration. Durations are in milliseconds, utilisation is a fraction (0.7, not 70).
 * Most keys are Knative's `config-autoscaler`; a few come from other Knative ConfigMaps (said on each), because
 * Tide reads them all from its one `config-autoscaler` ConfigMap.
 */
export interface AutoscalerConfig {
  /** `container-concurrency-target-percentage` as a fraction in (0, 1]. */
  readonly containerConcurrencyTargetFraction: number;
  /** `container-concurrency-target-default`: per-pod concurrency total when containerConcurrency is 0. */
  readonly containerConcurrencyTargetDefault: number;
  /** `requests-per-second-target-default`: per-pod rps total. */
  readonly requestsPerSecondTargetDefault: number;
  /** `target-burst-capacity`: -1 = activator always in path, 0 = only at zero. */
  readonly targetBurstCapacity: number;
  /** `stable-window`. */
  readonly stableWindowMs: number;
  /** `panic-window-percentage` (percent of the stable window). */
  readonly panicWindowPercentage: number;
  /** `panic-threshold-percentage` (200 = panic at 2× the target). */
  readonly panicThresholdPercentage: number;
  /** `max-scale-up-rate`: at most rate × ready pods per tick. */
  readonly maxScaleUpRate: number;
  /** `max-scale-down-rate`: at least ready / rate pods per tick. */
  readonly maxScaleDownRate: number;
  /** `enable-scale-to-zero`. */
  readonly enableScaleToZero: boolean;
  /** `scale-to-zero-grace-period`. */
  readonly scaleToZeroGracePeriodMs: number;
  /** `scale-to-zero-pod-retention-period`. */
  readonly scaleToZeroPodRetentionPeriodMs: number;
  /** `scale-down-delay`. */
  readonly scaleDownDelayMs: number;
  /** `pod-autoscaler-class`. */
  readonly podAutoscalerClass: string;
  /** `activator-capacity`: requests one activator is assumed to handle, for the number of activators (§b5). */
  readonly activatorCapacity: number;
  /** `initial-scale`. */
  readonly initialScale: number;
  /** `allow-zero-initial-scale`. */
  readonly allowZeroInitialScale: boolean;
  /** `min-scale`. */
  readonly minScale: number;
  /** `max-scale` (0 = unlimited). */
  readonly maxScale: number;
  /** `max-scale-limit` (0 = none). */
  readonly maxScaleLimit: number;

  // From Knative's `config-defaults` ConfigMap (pkg/apis/config/defaults.go).
  /** `container-concurrency`: a workload's containerConcurrency when it sets none (0 = unlimited). */
  readonly containerConcurrency: number;
  /** `container-concurrency-max-limit`: the largest containerConcurrency a workload may set. */
  readonly containerConcurrencyMaxLimit: number;
  /** `revision-timeout-seconds`: a workload's request timeout when it sets none. */
  readonly revisionTimeoutSeconds: number;
  /** `max-revision-timeout-seconds`: the largest request timeout a workload may set. */
  readonly maxRevisionTimeoutSeconds: number;
  /** `revision-response-start-timeout-seconds`: applied only when non-zero and below the workload's timeout; unset = revision-timeout-seconds. */
  readonly revisionResponseStartTimeoutSeconds: number;
  /** `revision-idle-timeout-seconds`: applied only when non-zero and below the workload's timeout. */
  readonly revisionIdleTimeoutSeconds: number;

  // From Knative's `config-deployment` ConfigMap (pkg/deployment/config.go).
  /** `progress-deadline`: activation gives up after this + 30 s (§c7). */
  readonly progressDeadlineMs: number;
}

/** Knative's defaults, frozen. `manifests/config-autoscaler.yaml` lists the same values (checked by test/manifests). */
export const AUTOSCALER_DEFAULTS: Readonly<AutoscalerConfig> = Object.freeze({
  containerConcurrencyTargetFraction: 0.7,
  containerConcurrencyTargetDefault: 100,
  requestsPerSecondTargetDefault: 200,
  targetBurstCapacity: 211,
  stableWindowMs: 60_000,
  panicWindowPercentage: 10,
  panicThresholdPercentage: 200,
  maxScaleUpRate: 1000,
  maxScaleDownRate: 2,
  enableScaleToZero: true,
  scaleToZeroGracePeriodMs: 30_000,
  scaleToZeroPodRetentionPeriodMs: 0,
  scaleDownDelayMs: 0,
  podAutoscalerClass: KPA_CLASS,
  activatorCapacity: 100,
  initialScale: 1,
  allowZeroInitialScale: false,
  minScale: 0,
  maxScale: 0,
  maxScaleLimit: 0,
  containerConcurrency: 0,
  containerConcurrencyMaxLimit: 1000,
  revisionTimeoutSeconds: 300,
  maxRevisionTimeoutSeconds: 600,
  revisionResponseStartTimeoutSeconds: 300,
  revisionIdleTimeoutSeconds: 0,
  progressDeadlineMs: 600_000,
});

type Kind = 'float' | 'int32' | 'int64' | 'bool' | 'duration' | 'string';
type Field = keyof AutoscalerConfig;

/** Every key Tide reads from `config-autoscaler`, with its field and how it is parsed (Knative's cm.AsX). */
export const AUTOSCALER_CONFIG_KEYS: Readonly<Record<string, { readonly field: Field; readonly kind: Kind }>> = Object.freeze({
  'container-concurrency-target-percentage': { field: 'containerConcurrencyTargetFraction', kind: 'float' },
  'container-concurrency-target-default': { field: 'containerConcurrencyTargetDefault', kind: 'float' },
  'requests-per-second-target-default': { field: 'requestsPerSecondTargetDefault', kind: 'float' },
  'target-burst-capacity': { field: 'targetBurstCapacity', kind: 'float' },
  'stable-window': { field: 'stableWindowMs', kind: 'duration' },
  'panic-window-percentage': { field: 'panicWindowPercentage', kind: 'float' },
  'panic-threshold-percentage': { field: 'panicThresholdPercentage', kind: 'float' },
  'max-scale-up-rate': { field: 'maxScaleUpRate', kind: 'float' },
  'max-scale-down-rate': { field: 'maxScaleDownRate', kind: 'float' },
  'enable-scale-to-zero': { field: 'enableScaleToZero', kind: 'bool' },
  'scale-to-zero-grace-period': { field: 'scaleToZeroGracePeriodMs', kind: 'duration' },
  'scale-to-zero-pod-retention-period': { field: 'scaleToZeroPodRetentionPeriodMs', kind: 'duration' },
  'scale-down-delay': { field: 'scaleDownDelayMs', kind: 'duration' },
  'pod-autoscaler-class': { field: 'podAutoscalerClass', kind: 'string' },
  'activator-capacity': { field: 'activatorCapacity', kind: 'float' },
  'initial-scale': { field: 'initialScale', kind: 'int32' },
  'allow-zero-initial-scale': { field: 'allowZeroInitialScale', kind: 'bool' },
  'min-scale': { field: 'minScale', kind: 'int32' },
  'max-scale': { field: 'maxScale', kind: 'int32' },
  'max-scale-limit': { field: 'maxScaleLimit', kind: 'int32' },
  // config-defaults
  'container-concurrency': { field: 'containerConcurrency', kind: 'int64' },
  'container-concurrency-max-limit': { field: 'containerConcurrencyMaxLimit', kind: 'int64' },
  'revision-timeout-seconds': { field: 'revisionTimeoutSeconds', kind: 'int64' },
  'max-revision-timeout-seconds': { field: 'maxRevisionTimeoutSeconds', kind: 'int64' },
  'revision-response-start-timeout-seconds': { field: 'revisionResponseStartTimeoutSeconds', kind: 'int64' },
  'revision-idle-timeout-seconds': { field: 'revisionIdleTimeoutSeconds', kind: 'int64' },
  // config-deployment
  'progress-deadline': { field: 'progressDeadlineMs', kind: 'duration' },
});

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Value = number | boolean | string;

/**
 * Parses `config-autoscaler` data. Every problem is collected (Knative stops at the first, and rejects the whole
 * ConfigMap); each bad value is replaced by its default so the result is always usable, then frozen.
 * Values are parsed as Go does (no surrounding spaces for numbers; `pod-autoscaler-class` is trimmed). Unknown keys
 * are ignored, as in Knative.
 * @example parseAutoscalerConfig({ 'container-concurrency-target-percentage': '80' }).config.containerConcurrencyTargetFraction === 0.8
 */
export function parseAutoscalerConfig(data: Readonly<Record<string, string>>): {
  config: Readonly<AutoscalerConfig>;
  problems: ConfigProblem[];
} {
  const c: Mutable<AutoscalerConfig> = { ...AUTOSCALER_DEFAULTS };
  const problems: ConfigProblem[] = [];
  const given = new Set<string>();
  const problem = (key: string, message: string): void => {
    problems.push({ key, message });
  };
  const set = (field: Field, value: Value): void => {
    (c as Record<Field, Value>)[field] = value;
  };
  const reset = (key: string): void => {
    const spec = AUTOSCALER_CONFIG_KEYS[key];
    if (spec) set(spec.field, AUTOSCALER_DEFAULTS[spec.field]);
  };

  // 1. Parse (knative/pkg configmap: `failed to parse "key": <Go error>`).
  for (const [key, spec] of Object.entries(AUTOSCALER_CONFIG_KEYS)) {
    if (!Object.hasOwn(data, key)) continue;
    const raw = data[key] ?? '';
    const parsed = parseValue(spec.kind, raw);
    if (parsed.ok) {
      set(spec.field, parsed.value);
      given.add(key);
    } else {
      problem(key, `failed to parse ${JSON.stringify(key)}: ${parsed.error}`);
    }
  }
  // 2. Percent → fraction: for legacy reasons values in (0, 1] are already fractions.
  if (c.containerConcurrencyTargetFraction > 1) c.containerConcurrencyTargetFraction /= 100;

  // 3. Validate (pkg/autoscaler/config/config.go `validate`), replacing each bad value with its default.
  const check = (ok: boolean, key: string, message: () => string): boolean => {
    if (ok) return true;
    problem(key, message());
    reset(key);
    return false;
  };
  check(c.scaleToZeroGracePeriodMs > 0, 'scale-to-zero-grace-period', () => `scale-to-zero-grace-period must be positive, was: ${goDuration(c.scaleToZeroGracePeriodMs)}`);
  if (check(c.scaleDownDelayMs >= 0, 'scale-down-delay', () => `scale-down-delay cannot be negative, was: ${goDuration(c.scaleDownDelayMs)}`)) {
    check(isWholeSeconds(c.scaleDownDelayMs), 'scale-down-delay', () => `scale-down-delay = ${goDuration(c.scaleDownDelayMs)}, must be specified with at most second precision`);
  }
  check(c.scaleToZeroPodRetentionPeriodMs >= 0, 'scale-to-zero-pod-retention-period', () => `scale-to-zero-pod-retention-period cannot be negative, was: ${goDuration(c.scaleToZeroPodRetentionPeriodMs)}`);
  check(c.targetBurstCapacity >= 0 || c.targetBurstCapacity === -1, 'target-burst-capacity', () => `target-burst-capacity must be either non-negative or -1 (for unlimited), was: ${goFixed(c.targetBurstCapacity)}`);
  const fractionOk = check(
    c.containerConcurrencyTargetFraction > 0 && c.containerConcurrencyTargetFraction <= 1,
    'container-concurrency-target-percentage',
    () => `container-concurrency-target-percentage = ${goFixed(c.containerConcurrencyTargetFraction)} is outside of valid range of (0, 100]`,
  );
  if (fractionOk) {
    const x = c.containerConcurrencyTargetFraction * c.containerConcurrencyTargetDefault;
    if (x < TARGET_MIN) {
      problem('container-concurrency-target-percentage', `container-concurrency-target-percentage and container-concurrency-target-default yield target concurrency of ${goFloat(x)}, can't be less than ${goFloat(TARGET_MIN)}`);
      // The default is the one that is out of line unless the percentage alone was given.
      reset(given.has('container-concurrency-target-default') ? 'container-concurrency-target-default' : 'container-concurrency-target-percentage');
      if (c.containerConcurrencyTargetFraction * c.containerConcurrencyTargetDefault < TARGET_MIN) {
        reset('container-concurrency-target-percentage');
        reset('container-concurrency-target-default');
      }
    }
  }
  check(c.requestsPerSecondTargetDefault >= TARGET_MIN, 'requests-per-second-target-default', () => `requests-per-second-target-default must be at least ${goFloat(TARGET_MIN)}, was: ${goFloat(c.requestsPerSecondTargetDefault)}`);
  check(c.activatorCapacity >= 1, 'activator-capacity', () => `activator-capacity = ${goFloat(c.activatorCapacity)}, must be at least 1`);
  check(c.maxScaleUpRate > 1, 'max-scale-up-rate', () => `max-scale-up-rate = ${goFloat(c.maxScaleUpRate)}, must be greater than 1.0`);
  check(c.maxScaleDownRate > 1, 'max-scale-down-rate', () => `max-scale-down-rate = ${goFloat(c.maxScaleDownRate)}, must be greater than 1.0`);
  if (check(c.stableWindowMs >= WINDOW_MIN_MS && c.stableWindowMs <= WINDOW_MAX_MS, 'stable-window', () => `stable-window = ${goDuration(c.stableWindowMs)}, must be in [${goDuration(WINDOW_MIN_MS)}; ${goDuration(WINDOW_MAX_MS)}] range`)) {
    check(isWholeSeconds(c.stableWindowMs), 'stable-window', () => `stable-window = ${goDuration(c.stableWindowMs)}, must be specified with at most second precision`);
  }
  // Knative: PanicWindowPercentageMin/Max.
  check(c.panicWindowPercentage >= 1 && c.panicWindowPercentage <= 100, 'panic-window-percentage', () => `panic-window-percentage = ${goFloat(c.panicWindowPercentage)}, must be in [1, 100] interval`);
  // panic-threshold-percentage is deliberately not validated (Knative does not either).
  if (c.initialScale < 0 || (c.initialScale === 0 && !c.allowZeroInitialScale)) {
    problem('initial-scale', `initial-scale = ${c.initialScale}, must be at least 0 (or at least 1 when allow-zero-initial-scale is false)`);
    reset('initial-scale');
  }
  check(c.minScale >= 0, 'min-scale', () => `min-scale = ${c.minScale}, must be at least 0`);
  // Knative checks max-scale before max-scale-limit; we check the limit first so that max-scale is compared with a sane one.
  const rawLimit = c.maxScaleLimit;
  check(c.maxScaleLimit >= 0, 'max-scale-limit', () => `max-scale-limit = ${rawLimit}, must be at least 0`);
  const minMaxScale = c.maxScaleLimit > 0 ? 1 : 0; // a default max-scale must be set when max-scale-limit is.
  if (c.maxScale < minMaxScale || (c.maxScaleLimit > 0 && c.maxScale > c.maxScaleLimit)) {
    problem('max-scale', `max-scale = ${c.maxScale}, must be in [${minMaxScale}, max-scale-limit(${rawLimit})] range`);
    // Replaced by the most permissive valid value: unlimited, or the limit itself.
    c.maxScale = c.maxScaleLimit > 0 ? c.maxScaleLimit : 0;
  }
  if (c.minScale > c.maxScale && c.maxScale > 0) {
    problem('min-scale', `min-scale (${c.minScale}) must be less than max-scale (${c.maxScale})`);
    reset('min-scale');
  }

  // config-defaults rules (pkg/apis/config/defaults.go).
  check(c.revisionTimeoutSeconds > 0, 'revision-timeout-seconds', () => `revision-timeout-seconds = ${c.revisionTimeoutSeconds}, must be at least 1`); // Tide: 0 would be no timeout at all.
  if (c.revisionTimeoutSeconds > c.maxRevisionTimeoutSeconds) {
    problem('revision-timeout-seconds', `revision-timeout-seconds (${c.revisionTimeoutSeconds}) cannot be greater than max-revision-timeout-seconds (${c.maxRevisionTimeoutSeconds})`);
    reset('revision-timeout-seconds');
    if (c.revisionTimeoutSeconds > c.maxRevisionTimeoutSeconds) reset('max-revision-timeout-seconds');
  }
  // Unset or bad, the response-start timeout is the revision timeout (so it never fires before it).
  if (!given.has('revision-response-start-timeout-seconds')) c.revisionResponseStartTimeoutSeconds = c.revisionTimeoutSeconds;
  if (c.revisionResponseStartTimeoutSeconds < 0) {
    problem('revision-response-start-timeout-seconds', `revision-response-start-timeout-seconds = ${c.revisionResponseStartTimeoutSeconds}, must be at least 0`);
    c.revisionResponseStartTimeoutSeconds = c.revisionTimeoutSeconds;
  }
  if (c.revisionResponseStartTimeoutSeconds > c.revisionTimeoutSeconds) {
    problem('revision-response-start-timeout-seconds', `revision-response-start-timeout-seconds (${c.revisionResponseStartTimeoutSeconds}) cannot be greater than revision-timeout-seconds (${c.revisionTimeoutSeconds})`);
    c.revisionResponseStartTimeoutSeconds = c.revisionTimeoutSeconds;
  }
  if (check(c.revisionIdleTimeoutSeconds >= 0, 'revision-idle-timeout-seconds', () => `revision-idle-timeout-seconds = ${c.revisionIdleTimeoutSeconds}, must be at least 0`)) {
    check(c.revisionIdleTimeoutSeconds <= c.revisionTimeoutSeconds, 'revision-idle-timeout-seconds', () => `revision-idle-timeout-seconds (${c.revisionIdleTimeoutSeconds}) cannot be greater than revision-timeout-seconds (${c.revisionTimeoutSeconds})`);
  }
  check(c.containerConcurrencyMaxLimit >= 1 && c.containerConcurrencyMaxLimit <= 2_147_483_647, 'container-concurrency-max-limit', () => `expected 1 <= ${c.containerConcurrencyMaxLimit} <= 2147483647: container-concurrency-max-limit`);
  check(c.containerConcurrency >= 0 && c.containerConcurrency <= c.containerConcurrencyMaxLimit, 'container-concurrency', () => `expected 0 <= ${c.containerConcurrency} <= ${c.containerConcurrencyMaxLimit}: container-concurrency`);

  // config-deployment rules (pkg/deployment/config.go).
  if (check(c.progressDeadlineMs > 0, 'progress-deadline', () => `progress-deadline cannot be a non-positive duration, was ${goDuration(c.progressDeadlineMs)}`)) {
    check(isWholeSeconds(c.progressDeadlineMs), 'progress-deadline', () => `progress-deadline must be rounded to a whole second, was: ${goDuration(c.progressDeadlineMs)}`);
  }

  return { config: Object.freeze(c), problems };
}

function parseValue(kind: Kind, raw: string): { ok: true; value: Value } | { ok: false; error: string } {
  switch (kind) {
    case 'float':
      return parseGoFloat(raw);
    case 'int32':
      return parseGoInt(raw, 32);
    case 'int64':
      return parseGoInt(raw, 64);
    case 'bool':
      return parseGoBool(raw);
    case 'duration':
      return parseGoDurationMs(raw);
    case 'string':
      return { ok: true, value: raw.trim() };
  }
}
