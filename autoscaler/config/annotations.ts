/** Per-workload scaling knobs: Knative's `autoscaling.knative.dev/*` annotations plus Tide's own, checked and resolved (docs/knative-parity.md §c3, §c4, §c7, §d). */
import type { ConfigProblem } from '../../common/errors.js';
import type { DeciderSpec } from '../scaling/decider-spec.js';
import {
  AUTOSCALER_DEFAULTS,
  HPA_CLASS,
  KPA_CLASS,
  RPS_TARGET_UTILIZATION,
  TARGET_MIN,
  WINDOW_MAX_MS,
  WINDOW_MIN_MS,
  type AutoscalerConfig,
} from './autoscaler-config.js';
import { goDuration, goFloat, isWholeSeconds, parseGoDurationMs, parseGoFloat, parseGoInt } from './go-values.js';
import type { AggregationAlgorithm, RevisionScalingSpec } from './revision-spec.js';

const GROUP = 'autoscaling.knative.dev/';
const g = (name: string): string => GROUP + name;

/**
 * Every annotation Tide reads, as Knative's `kmap.KeyPriority` lists: the first key is canonical (kebab-case),
 * later ones are legacy camelCase aliases. When several are present the first in the list wins.
 */
export const ANNOTATIONS = Object.freeze({
  class: [g('class')],
  metric: [g('metric')],
  target: [g('target')],
  targetUtilizationPercentage: [g('target-utilization-percentage'), g('targetUtilizationPercentage')],
  targetBurstCapacity: [g('target-burst-capacity'), g('targetBurstCapacity')],
  minScale: [g('min-scale'), g('minScale')],
  maxScale: [g('max-scale'), g('maxScale')],
  initialScale: [g('initial-scale'), g('initialScale')],
  activationScale: [g('activation-scale')],
  window: [g('window')],
  panicWindowPercentage: [g('panic-window-percentage'), g('panicWindowPercentage')],
  panicThresholdPercentage: [g('panic-threshold-percentage'), g('panicThresholdPercentage')],
  scaleDownDelay: [g('scale-down-delay'), g('scaleDownDelay')],
  scaleToZeroPodRetentionPeriod: [g('scale-to-zero-pod-retention-period'), g('scaleToZeroPodRetentionPeriod')],
  metricAggregationAlgorithm: [g('metric-aggregation-algorithm'), g('metricAggregationAlgorithm')],
  /** Knative's `serving.knative.dev/progress-deadline` (activation gives up after this + 30 s, §c7). */
  progressDeadline: ['serving.knative.dev/progress-deadline'],
  // Tide's own: a plain Deployment has no Knative spec fields, so these stand in for
  // spec.containerConcurrency, timeoutSeconds, responseStartTimeoutSeconds and idleTimeoutSeconds.
  containerConcurrency: ['tide.dev/container-concurrency'],
  timeoutSeconds: ['tide.dev/timeout-seconds'],
  responseStartTimeoutSeconds: ['tide.dev/response-start-timeout-seconds'],
  idleTimeoutSeconds: ['tide.dev/idle-timeout-seconds'],
} satisfies Record<string, readonly string[]>);

/**
 * `tide.dev/*` keys other Tide tools write or read (injection, the webhook, the Kubernetes backend). They are no
 * scaling knobs, but listing them keeps the near-miss check below from flagging them. kubernetes/inject/constants.ts
 * names them; a test checks this list holds every key there.
 */
export const OTHER_TIDE_KEYS: readonly string[] = [
  'tide.dev/managed',
  'tide.dev/injected',
  'tide.dev/original-pod',
  'tide.dev/native-sidecar',
  'tide.dev/inject',
  'tide.dev/original-selector',
  'tide.dev/original-target-ports',
  'tide.dev/deployment',
];

const KNOWN_KEYS: ReadonlySet<string> = new Set([...Object.values(ANNOTATIONS).flat(), ...OTHER_TIDE_KEYS]);
const CANONICAL_KEYS: readonly string[] = Object.values(ANNOTATIONS).map((keys) => keys[0]!);

const INT32_MAX = 2_147_483_647;
const ACTIVATION_TIMEOUT_EXTRA_MS = 30_000;

type Annotations = Readonly<Record<string, string>>;
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The key (as written) and value of the first present key of `keys`. */
function lookup(annotations: Annotations, keys: readonly string[]): { key: string; value: string } | undefined {
  for (const key of keys) if (Object.hasOwn(annotations, key)) return { key, value: annotations[key] ?? '' };
  return undefined;
}

/**
 * Validates and resolves one workload's annotations against a config. Invalid values are reported and replaced by
 * the default, so a component keeps running (docs/architecture.md, "Scaling knobs").
 *
 * Each problem's `key` is the annotation as the user wrote it (an alias stays an alias) and its `message` is
 * Knative's webhook message without the trailing field path (Knative prints `<message>: <key>`).
 * `spec.decider.reachable` is always true here: reachability is decided later by the live system.
 */
export function resolveRevisionSpec(
  annotations: Readonly<Record<string, string>>,
  config: Readonly<AutoscalerConfig> = AUTOSCALER_DEFAULTS,
): { spec: RevisionScalingSpec; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const bad = (key: string, message: string): void => {
    problems.push({ key, message });
  };
  const get = (keys: readonly string[]): { key: string; value: string } | undefined => lookup(annotations, keys);

  reportUnknownKeys(annotations, bad);

  // Class (validateClass): any *.knative.dev class other than KPA/HPA is refused; other domains are custom autoscalers.
  let autoscalerClass = config.podAutoscalerClass;
  const cls = get(ANNOTATIONS.class);
  if (cls) {
    if (cls.value.endsWith('.knative.dev') && cls.value !== KPA_CLASS && cls.value !== HPA_CLASS) bad(cls.key, `invalid value: ${cls.value}`);
    else autoscalerClass = cls.value;
  }

  // Metric (validateMetric): KPA takes concurrency or rps; HPA any non-empty metric; other classes anything.
  let metric = autoscalerClass === HPA_CLASS ? 'cpu' : 'concurrency';
  const m = get(ANNOTATIONS.metric);
  if (m) {
    const ok = autoscalerClass === KPA_CLASS ? m.value === 'concurrency' || m.value === 'rps' : autoscalerClass === HPA_CLASS ? m.value !== '' : true;
    if (ok) metric = m.value;
    else bad(m.key, `invalid value: ${m.value}`);
  }

  // Floats (validateFloats).
  const float = (keys: readonly string[], valid: (x: number) => boolean, outOfRange: (raw: string) => string): { key: string; value: number } | undefined => {
    const a = get(keys);
    if (!a) return undefined;
    const p = parseGoFloat(a.value);
    if (!p.ok) {
      bad(a.key, `invalid value: ${a.value}`);
      return undefined;
    }
    if (!valid(p.value)) {
      bad(a.key, outOfRange(a.value));
      return undefined;
    }
    return { key: a.key, value: p.value };
  };
  const panicWindowPct = float(ANNOTATIONS.panicWindowPercentage, (x) => x >= 1 && x <= 100, (v) => `expected 1 <= ${v} <= 100`);
  const panicThresholdPct = float(ANNOTATIONS.panicThresholdPercentage, (x) => x >= 110 && x <= 1000, (v) => `expected 110 <= ${v} <= 1000`);
  const target = float(ANNOTATIONS.target, (x) => x >= TARGET_MIN, (v) => `target ${v} should be at least ${goFloat(TARGET_MIN)}`);
  const tuPct = float(ANNOTATIONS.targetUtilizationPercentage, (x) => x >= 1 && x <= 100, (v) => `expected 1 <= ${v} <= 100`);
  const tbc = float(ANNOTATIONS.targetBurstCapacity, (x) => x >= 0 || x === -1, (v) => `invalid value: ${v}`);

  // Durations (validateWindow, validateScaleDownDelay, validateLastPodRetention).
  const duration = (keys: readonly string[], min: number, max: number, wholeSeconds: boolean): number | undefined => {
    const a = get(keys);
    if (!a) return undefined;
    const p = parseGoDurationMs(a.value);
    if (!p.ok) bad(a.key, `invalid value: ${a.value}`);
    else if (p.value < min || p.value > max) bad(a.key, `expected ${goDuration(min)} <= ${a.value} <= ${goDuration(max)}`);
    else if (wholeSeconds && !isWholeSeconds(p.value)) bad(a.key, 'must be specified with at most second precision');
    else return p.value;
    return undefined;
  };
  const windowMs = duration(ANNOTATIONS.window, WINDOW_MIN_MS, WINDOW_MAX_MS, true);
  const scaleDownDelayMs = duration(ANNOTATIONS.scaleDownDelay, 0, WINDOW_MAX_MS, true);
  const retentionMs = duration(ANNOTATIONS.scaleToZeroPodRetentionPeriod, 0, WINDOW_MAX_MS, false);

  // min/max/activation scale (validateMinMaxScale, getIntGE0). Cross-checks use 0 for a missing or bad value, as Knative.
  const intGE0 = (keys: readonly string[]): { key: string; value: number } | undefined => {
    const a = get(keys);
    if (!a) return undefined;
    const p = parseGoInt(a.value, 32);
    if (!p.ok) bad(a.key, p.outOfRange ? `expected 0 <= ${a.value} <= ${INT32_MAX}` : `invalid value: ${a.value}`);
    else if (p.value < 0) bad(a.key, `expected 0 <= ${a.value} <= ${INT32_MAX}`);
    else return { key: a.key, value: p.value };
    return undefined;
  };
  const minA = intGE0(ANNOTATIONS.minScale);
  let maxA = intGE0(ANNOTATIONS.maxScale);
  const annMin = minA?.value ?? 0;
  const annMax = maxA?.value ?? 0;
  if (maxA && annMax !== 0 && annMax < annMin) {
    bad(maxA.key, `max-scale=${annMax} is less than min-scale=${annMin}`);
    maxA = undefined; // fall back to the configured max-scale (checked below against min-scale again)
  }
  if (maxA && config.maxScaleLimit > 0) {
    if (annMax > config.maxScaleLimit) bad(maxA.key, `expected 1 <= ${annMax} <= ${config.maxScaleLimit}`);
    if (annMax === 0) bad(maxA.key, `max-scale=0 (unlimited), must be less than ${config.maxScaleLimit}`);
    if (annMax > config.maxScaleLimit || annMax === 0) maxA = undefined;
  }
  let activationScale = 1;
  const act = get(ANNOTATIONS.activationScale);
  if (act) {
    const p = parseGoInt(act.value, 32);
    if (!p.ok) bad(act.key, `invalid value: ${act.value}`);
    else if (annMin > p.value) bad(act.key, `min-scale=${annMin} is greater than activation-scale=${p.value}`);
    else if (annMax < p.value && annMax !== 0) bad(act.key, `max-scale=${annMax} is less than activation-scale=${p.value}`);
    else if (p.value < 2) bad(act.key, `activation-scale=${p.value} must be greater than 1`);
    else activationScale = p.value;
  }
  // Beyond Knative (which checks annotations against annotations only): a min-scale annotation above the configured
  // max-scale, or a max-scale annotation below the configured min-scale, gives bounds no replica count can meet.
  let minScale = minA?.value ?? config.minScale;
  let maxScale = maxA?.value ?? config.maxScale;
  if (maxScale > 0 && minScale > maxScale) {
    // Only one of the two is an annotation here (two annotations were compared above), and config parsing keeps the
    // configured pair consistent, so falling back to the configured value of that one resolves it.
    if (minA && !maxA) {
      bad(minA.key, `min-scale=${minScale} is greater than max-scale=${maxScale} from config-autoscaler`);
      minScale = config.minScale;
    } else if (maxA) {
      bad(maxA.key, `max-scale=${maxScale} is less than min-scale=${minScale} from config-autoscaler`);
      maxScale = config.maxScale;
    }
  }

  // Initial scale (validateInitialScale; GetInitialScale).
  let initialScale = config.initialScale;
  const init = get(ANNOTATIONS.initialScale);
  if (init) {
    const p = parseGoInt(init.value, 64);
    if (!p.ok) bad(init.key, `invalid value: ${init.value}`);
    else if (p.value < 0) bad(init.key, `invalid value: ${init.value}, must be greater than 0`);
    else if (p.value === 0 && !config.allowZeroInitialScale) bad(init.key, `invalid value: ${init.value}, initial-scale=0 not allowed by cluster (allow-zero-initial-scale is false)`);
    else initialScale = p.value;
  }

  // Aggregation algorithm (validateAlgorithm). Knative checks it only when the class annotation explicitly says KPA;
  // Tide checks it whenever the effective class is KPA, since Tide would otherwise silently average linearly.
  let algorithm: AggregationAlgorithm = 'linear';
  const alg = get(ANNOTATIONS.metricAggregationAlgorithm);
  if (alg && alg.value !== '') {
    if (alg.value === 'linear') algorithm = 'linear';
    else if (alg.value === 'weighted-exponential' || alg.value === 'weightedExponential') algorithm = 'weighted-exponential';
    else if (autoscalerClass === KPA_CLASS) bad(alg.key, `invalid value: ${alg.value}`);
  }

  // Progress deadline (validateProgressDeadlineAnnotation): an empty value is ignored.
  let progressDeadlineMs = config.progressDeadlineMs;
  const pd = get(ANNOTATIONS.progressDeadline);
  if (pd && pd.value !== '') {
    const p = parseGoDurationMs(pd.value);
    if (!p.ok) bad(pd.key, `invalid value: ${pd.value}`);
    else if (!isWholeSeconds(p.value)) bad(pd.key, `progress-deadline=${pd.value} is not at second precision`);
    else if (p.value < 0) bad(pd.key, `progress-deadline=${pd.value} must be positive`);
    else progressDeadlineMs = p.value;
  }

  // Tide's stand-ins for spec fields (ValidateContainerConcurrency, validateTimeoutSeconds, revision defaults).
  const int64 = (keys: readonly string[], min: number, max: number): number | undefined => {
    const a = get(keys);
    if (!a) return undefined;
    const p = parseGoInt(a.value, 64);
    if (!p.ok) bad(a.key, `invalid value: ${a.value}`);
    else if (p.value < min || p.value > max) bad(a.key, `expected ${min} <= ${p.value} <= ${max}`);
    else return p.value;
    return undefined;
  };
  const containerConcurrency = int64(ANNOTATIONS.containerConcurrency, 0, config.containerConcurrencyMaxLimit) ?? config.containerConcurrency;
  // timeoutSeconds: 0 means "use the default", as an unset or zero spec field does in Knative.
  const timeoutSeconds = int64(ANNOTATIONS.timeoutSeconds, 0, config.maxRevisionTimeoutSeconds) || config.revisionTimeoutSeconds;
  // The optional two: 0 = off; unset → the config default only when it is non-zero and below the timeout (§a8).
  const optionalTimeout = (keys: readonly string[], configured: number): number =>
    int64(keys, 0, timeoutSeconds) ?? (configured !== 0 && configured < timeoutSeconds ? configured : 0);
  const responseStartTimeoutSeconds = optionalTimeout(ANNOTATIONS.responseStartTimeoutSeconds, config.revisionResponseStartTimeoutSeconds);
  const idleTimeoutSeconds = optionalTimeout(ANNOTATIONS.idleTimeoutSeconds, config.revisionIdleTimeoutSeconds);

  // Target resolution (§c4, ResolveMetricTarget).
  const isRps = metric === 'rps';
  let total = isRps ? config.requestsPerSecondTargetDefault : containerConcurrency === 0 ? config.containerConcurrencyTargetDefault : containerConcurrency;
  let tu = isRps ? RPS_TARGET_UTILIZATION : config.containerConcurrencyTargetFraction;
  if (target) total = metric === 'concurrency' && containerConcurrency !== 0 ? Math.min(target.value, containerConcurrency) : target.value;
  if (tuPct) tu = tuPct.value / 100;

  // Windows (§c3, MakeMetric): panic = round(stable × pct / 100) to whole seconds, at least 1 s.
  const stableWindowMs = windowMs ?? config.stableWindowMs;
  const pwp = panicWindowPct?.value ?? config.panicWindowPercentage;
  const panicWindowMs = Math.max(1000, Math.round((stableWindowMs * pwp) / 100 / 1000) * 1000);

  const decider: Mutable<DeciderSpec> = {
    metric: isRps ? 'rps' : 'concurrency',
    targetValue: Math.max(TARGET_MIN, total * tu),
    totalValue: total,
    targetBurstCapacity: tbc?.value ?? config.targetBurstCapacity,
    panicThreshold: (panicThresholdPct?.value ?? config.panicThresholdPercentage) / 100,
    // Rates come only from the ConfigMap (§c4).
    maxScaleUpRate: config.maxScaleUpRate,
    maxScaleDownRate: config.maxScaleDownRate,
    stableWindowMs,
    scaleDownDelayMs: scaleDownDelayMs ?? config.scaleDownDelayMs,
    activationScale,
    reachable: true,
  };

  const spec: RevisionScalingSpec = {
    autoscalerClass,
    decider,
    scaler: {
      minScale,
      maxScale,
      initialScale,
      enableScaleToZero: config.enableScaleToZero,
      scaleToZeroGracePeriodMs: config.scaleToZeroGracePeriodMs,
      scaleToZeroPodRetentionPeriodMs: retentionMs ?? config.scaleToZeroPodRetentionPeriodMs,
      activationTimeoutMs: progressDeadlineMs + ACTIVATION_TIMEOUT_EXTRA_MS,
    },
    algorithm,
    panicWindowMs,
    containerConcurrency,
    timeoutSeconds,
    responseStartTimeoutSeconds,
    idleTimeoutSeconds,
  };
  return { spec, problems };
}

/**
 * Reports keys under `autoscaling.knative.dev/` that Tide does not know, suggesting the nearest known key.
 * This goes beyond Knative, which ignores unknown annotations: a misspelt knob otherwise silently does nothing.
 * Under `tide.dev/` only near-misses of Tide's keys are reported, since other Tide tools may add their own keys.
 */
function reportUnknownKeys(annotations: Annotations, bad: (key: string, message: string) => void): void {
  for (const key of Object.keys(annotations)) {
    if (KNOWN_KEYS.has(key)) continue;
    const inGroup = key.startsWith(GROUP);
    if (!inGroup && !key.startsWith('tide.dev/')) continue;
    const suggestion = nearestKey(key);
    if (suggestion !== undefined) bad(key, `unknown annotation; did you mean ${suggestion}?`);
    else if (inGroup) bad(key, 'unknown annotation (Knative ignores it; Tide reports it because it has no effect)');
  }
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()).replace(/_/g, '-').toLowerCase();
}

/** The canonical known key closest to `key` (same prefix, small edit distance, or one name ending the other). */
export function nearestKey(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = key.slice(0, slash + 1);
  const name = kebab(key.slice(slash + 1));
  let best: { key: string; distance: number } | undefined;
  for (const known of CANONICAL_KEYS) {
    if (!known.startsWith(prefix)) continue;
    const knownName = known.slice(prefix.length);
    let d = editDistance(name, knownName);
    if (d > Math.max(2, Math.floor(knownName.length / 4))) {
      // One name contains the other at an end: rank above any plain miss, the longer overlap first.
      const overlaps = name.length >= 5 && (name.endsWith(knownName) || knownName.startsWith(name) || name.startsWith(knownName));
      d = overlaps ? 3 + 1 / Math.min(name.length, knownName.length) : Infinity;
    }
    if (d !== Infinity && (best === undefined || d < best.distance)) best = { key: known, distance: d };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
