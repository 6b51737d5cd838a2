import { describe, expect, it } from 'vitest';
import { nearestKey, resolveRevisionSpec } from '../../../autoscaler/config/annotations.js';
import { parseAutoscalerConfig } from '../../../autoscaler/config/autoscaler-config.js';
import type { RevisionScalingSpec } from '../../../autoscaler/config/revision-spec.js';

const A = 'autoscaling.knative.dev/';
const cfg = (data: Record<string, string>) => {
  const { config, problems } = parseAutoscalerConfig(data);
  expect(problems).toEqual([]);
  return config;
};

describe('resolveRevisionSpec defaults', () => {
  it('no annotations: every field from Knative defaults', () => {
    const { spec, problems } = resolveRevisionSpec({});
    expect(problems).toEqual([]);
    expect(spec).toEqual({
      autoscalerClass: 'kpa.autoscaling.knative.dev',
      decider: {
        metric: 'concurrency',
        targetValue: 70, // CC 0 → container-concurrency-target-default 100 × 0.7
        totalValue: 100,
        targetBurstCapacity: 211,
        panicThreshold: 2,
        maxScaleUpRate: 1000,
        maxScaleDownRate: 2,
        stableWindowMs: 60_000,
        scaleDownDelayMs: 0,
        activationScale: 1,
        reachable: true,
      },
      scaler: {
        minScale: 0,
        maxScale: 0,
        initialScale: 1,
        enableScaleToZero: true,
        scaleToZeroGracePeriodMs: 30_000,
        scaleToZeroPodRetentionPeriodMs: 0,
        activationTimeoutMs: 630_000, // progress-deadline 600 s + 30 s
      },
      algorithm: 'linear',
      panicWindowMs: 6000, // 60 s × 10 %
      containerConcurrency: 0,
      timeoutSeconds: 300,
      responseStartTimeoutSeconds: 0, // default equals the timeout, so it is off
      idleTimeoutSeconds: 0,
    } satisfies RevisionScalingSpec);
  });
});

type Valid = { name: string; anns: Record<string, string>; config?: Record<string, string>; check: (s: RevisionScalingSpec) => unknown; want: unknown };

describe('§d every annotation: valid values', () => {
  const cases: Valid[] = [
    { name: 'class kpa', anns: { [A + 'class']: 'kpa.autoscaling.knative.dev' }, check: (s) => s.autoscalerClass, want: 'kpa.autoscaling.knative.dev' },
    { name: 'class hpa', anns: { [A + 'class']: 'hpa.autoscaling.knative.dev' }, check: (s) => s.autoscalerClass, want: 'hpa.autoscaling.knative.dev' },
    { name: 'class of another domain is a custom autoscaler', anns: { [A + 'class']: 'custom.example.com' }, check: (s) => s.autoscalerClass, want: 'custom.example.com' },
    { name: 'class default from config pod-autoscaler-class', anns: {}, config: { 'pod-autoscaler-class': 'hpa.autoscaling.knative.dev' }, check: (s) => s.autoscalerClass, want: 'hpa.autoscaling.knative.dev' },
    { name: 'metric rps (KPA)', anns: { [A + 'metric']: 'rps' }, check: (s) => s.decider.metric, want: 'rps' },
    { name: 'metric cpu with class hpa', anns: { [A + 'class']: 'hpa.autoscaling.knative.dev', [A + 'metric']: 'cpu' }, check: (s) => s.autoscalerClass, want: 'hpa.autoscaling.knative.dev' },
    { name: 'metric anything with a custom class', anns: { [A + 'class']: 'x.example.com', [A + 'metric']: 'queue-length' }, check: (s) => s.autoscalerClass, want: 'x.example.com' },
    { name: 'target 50', anns: { [A + 'target']: '50' }, check: (s) => s.decider.totalValue, want: 50 },
    { name: 'target 0.01 is the minimum', anns: { [A + 'target']: '0.01' }, check: (s) => s.decider.totalValue, want: 0.01 },
    { name: 'target-utilization-percentage 100', anns: { [A + 'target-utilization-percentage']: '100' }, check: (s) => s.decider.targetValue, want: 100 },
    { name: 'targetUtilizationPercentage alias', anns: { [A + 'targetUtilizationPercentage']: '50' }, check: (s) => s.decider.targetValue, want: 50 },
    { name: 'target-burst-capacity -1', anns: { [A + 'target-burst-capacity']: '-1' }, check: (s) => s.decider.targetBurstCapacity, want: -1 },
    { name: 'targetBurstCapacity alias 0', anns: { [A + 'targetBurstCapacity']: '0' }, check: (s) => s.decider.targetBurstCapacity, want: 0 },
    { name: 'target-burst-capacity 12.5', anns: { [A + 'target-burst-capacity']: '12.5' }, check: (s) => s.decider.targetBurstCapacity, want: 12.5 },
    { name: 'min-scale 3', anns: { [A + 'min-scale']: '3' }, check: (s) => s.scaler.minScale, want: 3 },
    { name: 'minScale alias', anns: { [A + 'minScale']: '2' }, check: (s) => s.scaler.minScale, want: 2 },
    { name: 'max-scale 10', anns: { [A + 'max-scale']: '10' }, check: (s) => s.scaler.maxScale, want: 10 },
    { name: 'maxScale alias', anns: { [A + 'maxScale']: '4' }, check: (s) => s.scaler.maxScale, want: 4 },
    { name: 'max-scale equal to max-scale-limit', anns: { [A + 'max-scale']: '100' }, config: { 'max-scale-limit': '100', 'max-scale': '10' }, check: (s) => s.scaler.maxScale, want: 100 },
    { name: 'min-scale equal to max-scale', anns: { [A + 'min-scale']: '3', [A + 'max-scale']: '3' }, check: (s) => [s.scaler.minScale, s.scaler.maxScale], want: [3, 3] },
    { name: 'initial-scale 5', anns: { [A + 'initial-scale']: '5' }, check: (s) => s.scaler.initialScale, want: 5 },
    { name: 'initialScale alias 0 with allow-zero-initial-scale', anns: { [A + 'initialScale']: '0' }, config: { 'allow-zero-initial-scale': 'true' }, check: (s) => s.scaler.initialScale, want: 0 },
    { name: 'initial-scale default from config', anns: {}, config: { 'initial-scale': '3' }, check: (s) => s.scaler.initialScale, want: 3 },
    { name: 'activation-scale 2', anns: { [A + 'activation-scale']: '2' }, check: (s) => s.decider.activationScale, want: 2 },
    { name: 'activation-scale between min-scale and max-scale', anns: { [A + 'min-scale']: '2', [A + 'max-scale']: '5', [A + 'activation-scale']: '5' }, check: (s) => s.decider.activationScale, want: 5 },
    { name: 'window 60s', anns: { [A + 'window']: '60s' }, check: (s) => s.decider.stableWindowMs, want: 60_000 },
    { name: 'window 1m30s', anns: { [A + 'window']: '1m30s' }, check: (s) => s.decider.stableWindowMs, want: 90_000 },
    { name: 'window 6s is the minimum', anns: { [A + 'window']: '6s' }, check: (s) => s.decider.stableWindowMs, want: 6000 },
    { name: 'window 1h is the maximum', anns: { [A + 'window']: '1h' }, check: (s) => s.decider.stableWindowMs, want: 3_600_000 },
    { name: 'panic-window-percentage 20', anns: { [A + 'panic-window-percentage']: '20' }, check: (s) => s.panicWindowMs, want: 12_000 },
    { name: 'panicWindowPercentage alias', anns: { [A + 'panicWindowPercentage']: '50' }, check: (s) => s.panicWindowMs, want: 30_000 },
    { name: 'panic-threshold-percentage 150', anns: { [A + 'panic-threshold-percentage']: '150' }, check: (s) => s.decider.panicThreshold, want: 1.5 },
    { name: 'panicThresholdPercentage alias 1000', anns: { [A + 'panicThresholdPercentage']: '1000' }, check: (s) => s.decider.panicThreshold, want: 10 },
    { name: 'scale-down-delay 5m', anns: { [A + 'scale-down-delay']: '5m' }, check: (s) => s.decider.scaleDownDelayMs, want: 300_000 },
    { name: 'scaleDownDelay alias 0s', anns: { [A + 'scaleDownDelay']: '0s' }, config: { 'scale-down-delay': '10s' }, check: (s) => s.decider.scaleDownDelayMs, want: 0 },
    { name: 'scale-to-zero-pod-retention-period 1.5s (no whole-second rule)', anns: { [A + 'scale-to-zero-pod-retention-period']: '1.5s' }, check: (s) => s.scaler.scaleToZeroPodRetentionPeriodMs, want: 1500 },
    { name: 'scaleToZeroPodRetentionPeriod alias', anns: { [A + 'scaleToZeroPodRetentionPeriod']: '1h' }, check: (s) => s.scaler.scaleToZeroPodRetentionPeriodMs, want: 3_600_000 },
    { name: 'metric-aggregation-algorithm weighted-exponential', anns: { [A + 'metric-aggregation-algorithm']: 'weighted-exponential' }, check: (s) => s.algorithm, want: 'weighted-exponential' },
    { name: 'metricAggregationAlgorithm alias weightedExponential', anns: { [A + 'metricAggregationAlgorithm']: 'weightedExponential' }, check: (s) => s.algorithm, want: 'weighted-exponential' },
    { name: 'metric-aggregation-algorithm anything for class hpa', anns: { [A + 'class']: 'hpa.autoscaling.knative.dev', [A + 'metric-aggregation-algorithm']: 'avg' }, check: (s) => s.algorithm, want: 'linear' },
    { name: 'serving.knative.dev/progress-deadline 10m', anns: { 'serving.knative.dev/progress-deadline': '10m' }, check: (s) => s.scaler.activationTimeoutMs, want: 630_000 },
    { name: 'serving.knative.dev/progress-deadline 2m', anns: { 'serving.knative.dev/progress-deadline': '2m' }, check: (s) => s.scaler.activationTimeoutMs, want: 150_000 },
    { name: 'serving.knative.dev/progress-deadline empty is ignored', anns: { 'serving.knative.dev/progress-deadline': '' }, check: (s) => s.scaler.activationTimeoutMs, want: 630_000 },
    { name: 'config progress-deadline 100s', anns: {}, config: { 'progress-deadline': '100s' }, check: (s) => s.scaler.activationTimeoutMs, want: 130_000 },
    { name: 'tide.dev/container-concurrency 1000 is the maximum', anns: { 'tide.dev/container-concurrency': '1000' }, check: (s) => s.containerConcurrency, want: 1000 },
    { name: 'tide.dev/container-concurrency default from config container-concurrency', anns: {}, config: { 'container-concurrency': '8' }, check: (s) => s.containerConcurrency, want: 8 },
    { name: 'tide.dev/timeout-seconds 600', anns: { 'tide.dev/timeout-seconds': '600' }, check: (s) => s.timeoutSeconds, want: 600 },
    { name: 'tide.dev/timeout-seconds 0 means the default', anns: { 'tide.dev/timeout-seconds': '0' }, check: (s) => s.timeoutSeconds, want: 300 },
    { name: 'tide.dev/response-start-timeout-seconds 30', anns: { 'tide.dev/response-start-timeout-seconds': '30' }, check: (s) => s.responseStartTimeoutSeconds, want: 30 },
    { name: 'response-start default applies when below the timeout', anns: { 'tide.dev/timeout-seconds': '600' }, check: (s) => s.responseStartTimeoutSeconds, want: 300 },
    { name: 'tide.dev/idle-timeout-seconds equal to the timeout', anns: { 'tide.dev/idle-timeout-seconds': '300' }, check: (s) => s.idleTimeoutSeconds, want: 300 },
    { name: 'idle default from config when below the timeout', anns: {}, config: { 'revision-idle-timeout-seconds': '30' }, check: (s) => s.idleTimeoutSeconds, want: 30 },
    { name: 'unrelated annotations are ignored', anns: { 'example.com/x': 'y', 'serving.knative.dev/creator': 'me', 'tide.dev/injected': 'true' }, check: (s) => s.decider.targetValue, want: 70 },
  ];
  it.each(cases)('$name', ({ anns, config, check, want }) => {
    const { spec, problems } = resolveRevisionSpec(anns, config ? cfg(config) : undefined);
    expect(problems).toEqual([]);
    expect(check(spec)).toEqual(want);
  });
});

type Invalid = { name: string; anns: Record<string, string>; config?: Record<string, string>; key: string; message: string; check?: (s: RevisionScalingSpec) => unknown; want?: unknown };

describe('§d every annotation: invalid values give Knative\'s message and fall back to the default', () => {
  const cases: Invalid[] = [
    { name: 'class foo.knative.dev', anns: { [A + 'class']: 'foo.knative.dev' }, key: A + 'class', message: 'invalid value: foo.knative.dev', check: (s) => s.autoscalerClass, want: 'kpa.autoscaling.knative.dev' },
    { name: 'metric cpu with KPA', anns: { [A + 'metric']: 'cpu' }, key: A + 'metric', message: 'invalid value: cpu', check: (s) => s.decider.metric, want: 'concurrency' },
    { name: 'metric empty with HPA', anns: { [A + 'class']: 'hpa.autoscaling.knative.dev', [A + 'metric']: '' }, key: A + 'metric', message: 'invalid value: ' },
    { name: 'target below 0.01', anns: { [A + 'target']: '0.001' }, key: A + 'target', message: 'target 0.001 should be at least 0.01', check: (s) => s.decider.totalValue, want: 100 },
    { name: 'target not a number', anns: { [A + 'target']: 'lots' }, key: A + 'target', message: 'invalid value: lots' },
    { name: 'target-utilization-percentage 0', anns: { [A + 'target-utilization-percentage']: '0' }, key: A + 'target-utilization-percentage', message: 'expected 1 <= 0 <= 100', check: (s) => s.decider.targetValue, want: 70 },
    { name: 'targetUtilizationPercentage alias 101', anns: { [A + 'targetUtilizationPercentage']: '101' }, key: A + 'targetUtilizationPercentage', message: 'expected 1 <= 101 <= 100' },
    { name: 'target-burst-capacity -2', anns: { [A + 'target-burst-capacity']: '-2' }, key: A + 'target-burst-capacity', message: 'invalid value: -2', check: (s) => s.decider.targetBurstCapacity, want: 211 },
    { name: 'target-burst-capacity not a number', anns: { [A + 'target-burst-capacity']: 'inf' }, key: A + 'target-burst-capacity', message: 'invalid value: inf' },
    { name: 'min-scale -1', anns: { [A + 'min-scale']: '-1' }, key: A + 'min-scale', message: 'expected 0 <= -1 <= 2147483647', check: (s) => s.scaler.minScale, want: 0 },
    { name: 'minScale alias not a number', anns: { [A + 'minScale']: 'foo' }, key: A + 'minScale', message: 'invalid value: foo' },
    { name: 'min-scale beyond int32', anns: { [A + 'min-scale']: '2147483648' }, key: A + 'min-scale', message: 'expected 0 <= 2147483648 <= 2147483647' },
    { name: 'min-scale with a fraction', anns: { [A + 'min-scale']: '1.5' }, key: A + 'min-scale', message: 'invalid value: 1.5' },
    { name: 'max-scale -3', anns: { [A + 'max-scale']: '-3' }, key: A + 'max-scale', message: 'expected 0 <= -3 <= 2147483647' },
    { name: 'max-scale above max-scale-limit', anns: { [A + 'max-scale']: '202' }, config: { 'max-scale-limit': '100', 'max-scale': '10' }, key: A + 'max-scale', message: 'expected 1 <= 202 <= 100', check: (s) => s.scaler.maxScale, want: 10 },
    { name: 'max-scale 0 with max-scale-limit', anns: { [A + 'maxScale']: '0' }, config: { 'max-scale-limit': '100', 'max-scale': '10' }, key: A + 'maxScale', message: 'max-scale=0 (unlimited), must be less than 100', check: (s) => s.scaler.maxScale, want: 10 },
    { name: 'max-scale below min-scale', anns: { [A + 'min-scale']: '5', [A + 'max-scale']: '3' }, key: A + 'max-scale', message: 'max-scale=3 is less than min-scale=5', check: (s) => [s.scaler.minScale, s.scaler.maxScale], want: [5, 0] },
    { name: 'min-scale above the configured max-scale (beyond Knative)', anns: { [A + 'min-scale']: '10' }, config: { 'max-scale': '5' }, key: A + 'min-scale', message: 'min-scale=10 is greater than max-scale=5 from config-autoscaler', check: (s) => [s.scaler.minScale, s.scaler.maxScale], want: [0, 5] },
    { name: 'max-scale below the configured min-scale (beyond Knative)', anns: { [A + 'max-scale']: '2' }, config: { 'min-scale': '3' }, key: A + 'max-scale', message: 'max-scale=2 is less than min-scale=3 from config-autoscaler', check: (s) => [s.scaler.minScale, s.scaler.maxScale], want: [3, 0] },
    { name: 'initial-scale 0 without allow-zero-initial-scale', anns: { [A + 'initial-scale']: '0' }, key: A + 'initial-scale', message: 'invalid value: 0, initial-scale=0 not allowed by cluster (allow-zero-initial-scale is false)', check: (s) => s.scaler.initialScale, want: 1 },
    { name: 'initial-scale -1', anns: { [A + 'initialScale']: '-1' }, key: A + 'initialScale', message: 'invalid value: -1, must be greater than 0' },
    { name: 'initial-scale not a number', anns: { [A + 'initial-scale']: 'one' }, key: A + 'initial-scale', message: 'invalid value: one' },
    { name: 'activation-scale 1', anns: { [A + 'activation-scale']: '1' }, key: A + 'activation-scale', message: 'activation-scale=1 must be greater than 1', check: (s) => s.decider.activationScale, want: 1 },
    { name: 'activation-scale below min-scale', anns: { [A + 'min-scale']: '3', [A + 'activation-scale']: '2' }, key: A + 'activation-scale', message: 'min-scale=3 is greater than activation-scale=2' },
    { name: 'activation-scale above max-scale', anns: { [A + 'max-scale']: '2', [A + 'activation-scale']: '3' }, key: A + 'activation-scale', message: 'max-scale=2 is less than activation-scale=3' },
    { name: 'activation-scale -1 (compared with min-scale 0 first)', anns: { [A + 'activation-scale']: '-1' }, key: A + 'activation-scale', message: 'min-scale=0 is greater than activation-scale=-1' },
    { name: 'activation-scale not a number', anns: { [A + 'activation-scale']: 'two' }, key: A + 'activation-scale', message: 'invalid value: two' },
    { name: 'window below 6s', anns: { [A + 'window']: '5s' }, key: A + 'window', message: 'expected 6s <= 5s <= 1h0m0s', check: (s) => s.decider.stableWindowMs, want: 60_000 },
    { name: 'window above 1h', anns: { [A + 'window']: '61m' }, key: A + 'window', message: 'expected 6s <= 61m <= 1h0m0s' },
    { name: 'window with fractional seconds', anns: { [A + 'window']: '6.5s' }, key: A + 'window', message: 'must be specified with at most second precision' },
    { name: 'window without a unit', anns: { [A + 'window']: '60' }, key: A + 'window', message: 'invalid value: 60' },
    { name: 'panic-window-percentage 0.5', anns: { [A + 'panic-window-percentage']: '0.5' }, key: A + 'panic-window-percentage', message: 'expected 1 <= 0.5 <= 100', check: (s) => s.panicWindowMs, want: 6000 },
    { name: 'panicWindowPercentage alias 101', anns: { [A + 'panicWindowPercentage']: '101' }, key: A + 'panicWindowPercentage', message: 'expected 1 <= 101 <= 100' },
    { name: 'panic-threshold-percentage 100', anns: { [A + 'panic-threshold-percentage']: '100' }, key: A + 'panic-threshold-percentage', message: 'expected 110 <= 100 <= 1000', check: (s) => s.decider.panicThreshold, want: 2 },
    { name: 'panic-threshold-percentage 1001', anns: { [A + 'panicThresholdPercentage']: '1001' }, key: A + 'panicThresholdPercentage', message: 'expected 110 <= 1001 <= 1000' },
    { name: 'scale-down-delay negative', anns: { [A + 'scale-down-delay']: '-1s' }, key: A + 'scale-down-delay', message: 'expected 0s <= -1s <= 1h0m0s' },
    { name: 'scale-down-delay above 1h', anns: { [A + 'scaleDownDelay']: '2h' }, key: A + 'scaleDownDelay', message: 'expected 0s <= 2h <= 1h0m0s' },
    { name: 'scale-down-delay with fractional seconds', anns: { [A + 'scale-down-delay']: '1.5s' }, key: A + 'scale-down-delay', message: 'must be specified with at most second precision', check: (s) => s.decider.scaleDownDelayMs, want: 0 },
    { name: 'scale-to-zero-pod-retention-period negative', anns: { [A + 'scale-to-zero-pod-retention-period']: '-1s' }, key: A + 'scale-to-zero-pod-retention-period', message: 'expected 0s <= -1s <= 1h0m0s' },
    { name: 'scale-to-zero-pod-retention-period not a duration', anns: { [A + 'scaleToZeroPodRetentionPeriod']: 'soon' }, key: A + 'scaleToZeroPodRetentionPeriod', message: 'invalid value: soon' },
    { name: 'metric-aggregation-algorithm unknown (class KPA)', anns: { [A + 'metric-aggregation-algorithm']: 'average' }, key: A + 'metric-aggregation-algorithm', message: 'invalid value: average', check: (s) => s.algorithm, want: 'linear' },
    { name: 'progress-deadline not a duration', anns: { 'serving.knative.dev/progress-deadline': 'ten' }, key: 'serving.knative.dev/progress-deadline', message: 'invalid value: ten' },
    { name: 'progress-deadline with fractional seconds', anns: { 'serving.knative.dev/progress-deadline': '1.5s' }, key: 'serving.knative.dev/progress-deadline', message: 'progress-deadline=1.5s is not at second precision' },
    { name: 'progress-deadline negative', anns: { 'serving.knative.dev/progress-deadline': '-1s' }, key: 'serving.knative.dev/progress-deadline', message: 'progress-deadline=-1s must be positive', check: (s) => s.scaler.activationTimeoutMs, want: 630_000 },
    { name: 'tide.dev/container-concurrency above container-concurrency-max-limit', anns: { 'tide.dev/container-concurrency': '1001' }, key: 'tide.dev/container-concurrency', message: 'expected 0 <= 1001 <= 1000', check: (s) => s.containerConcurrency, want: 0 },
    { name: 'tide.dev/container-concurrency negative', anns: { 'tide.dev/container-concurrency': '-1' }, key: 'tide.dev/container-concurrency', message: 'expected 0 <= -1 <= 1000' },
    { name: 'tide.dev/container-concurrency not a number', anns: { 'tide.dev/container-concurrency': 'ten' }, key: 'tide.dev/container-concurrency', message: 'invalid value: ten' },
    { name: 'tide.dev/timeout-seconds above max-revision-timeout-seconds', anns: { 'tide.dev/timeout-seconds': '601' }, key: 'tide.dev/timeout-seconds', message: 'expected 0 <= 601 <= 600', check: (s) => s.timeoutSeconds, want: 300 },
    { name: 'tide.dev/response-start-timeout-seconds above the timeout', anns: { 'tide.dev/response-start-timeout-seconds': '301' }, key: 'tide.dev/response-start-timeout-seconds', message: 'expected 0 <= 301 <= 300', check: (s) => s.responseStartTimeoutSeconds, want: 0 },
    { name: 'tide.dev/idle-timeout-seconds above its own timeout', anns: { 'tide.dev/timeout-seconds': '10', 'tide.dev/idle-timeout-seconds': '11' }, key: 'tide.dev/idle-timeout-seconds', message: 'expected 0 <= 11 <= 10' },
  ];
  it.each(cases)('$name', ({ anns, config, key, message, check, want }) => {
    const { spec, problems } = resolveRevisionSpec(anns, config ? cfg(config) : undefined);
    expect(problems).toEqual([{ key, message }]);
    if (check) expect(check(spec)).toEqual(want);
  });

  it('reports every bad annotation at once', () => {
    const { problems } = resolveRevisionSpec({ [A + 'min-scale']: 'x', [A + 'window']: '1s', [A + 'target']: '0' });
    expect(problems.map((p) => p.key).sort()).toEqual([A + 'min-scale', A + 'target', A + 'window']);
  });
});

describe('§d kebab-case wins over the camelCase alias', () => {
  it.each([
    ['min-scale', 'minScale', (s: RevisionScalingSpec) => s.scaler.minScale],
    ['max-scale', 'maxScale', (s: RevisionScalingSpec) => s.scaler.maxScale],
    ['initial-scale', 'initialScale', (s: RevisionScalingSpec) => s.scaler.initialScale],
    ['target-burst-capacity', 'targetBurstCapacity', (s: RevisionScalingSpec) => s.decider.targetBurstCapacity],
  ])('%s over %s', (kebab, camel, read) => {
    const { spec, problems } = resolveRevisionSpec({ [A + kebab]: '3', [A + camel]: '7' });
    expect(problems).toEqual([]);
    expect(read(spec)).toBe(3);
  });

  it('a bad alias is not checked when the kebab-case key is present', () => {
    expect(resolveRevisionSpec({ [A + 'scale-down-delay']: '10s', [A + 'scaleDownDelay']: 'junk' }).problems).toEqual([]);
  });
});

describe('§c4 target resolution, worked by hand', () => {
  const cases: { name: string; anns: Record<string, string>; config?: Record<string, string>; target: number; total: number }[] = [
    { name: 'CC 0 → default 100 × 0.7', anns: {}, target: 70, total: 100 },
    { name: 'CC 10 → 10 × 0.7', anns: { 'tide.dev/container-concurrency': '10' }, target: 7, total: 10 },
    { name: 'target 50 above CC 10 → min(50, 10) = 10', anns: { 'tide.dev/container-concurrency': '10', [A + 'target']: '50' }, target: 7, total: 10 },
    { name: 'target 5 below CC 10 → 5 × 0.7', anns: { 'tide.dev/container-concurrency': '10', [A + 'target']: '5' }, target: 3.5, total: 5 },
    { name: 'target 50 with CC 0 replaces the default', anns: { [A + 'target']: '50' }, target: 35, total: 50 },
    { name: 'utilisation 50% → 100 × 0.5', anns: { [A + 'target-utilization-percentage']: '50' }, target: 50, total: 100 },
    { name: 'rps: 200 × 0.7', anns: { [A + 'metric']: 'rps' }, target: 140, total: 200 },
    { name: 'rps ignores container-concurrency-target-percentage', anns: { [A + 'metric']: 'rps' }, config: { 'container-concurrency-target-percentage': '50' }, target: 140, total: 200 },
    { name: 'rps target is not capped by CC', anns: { [A + 'metric']: 'rps', [A + 'target']: '10', 'tide.dev/container-concurrency': '5' }, target: 7, total: 10 },
    { name: 'rps utilisation annotation 90%', anns: { [A + 'metric']: 'rps', [A + 'target-utilization-percentage']: '90' }, target: 180, total: 200 },
    { name: 'rps default from config 50', anns: { [A + 'metric']: 'rps' }, config: { 'requests-per-second-target-default': '50' }, target: 35, total: 50 },
    { name: 'config default 10 and 80%', anns: {}, config: { 'container-concurrency-target-default': '10', 'container-concurrency-target-percentage': '80' }, target: 8, total: 10 },
    { name: 'TargetValue is at least 0.01', anns: { [A + 'target']: '0.01', [A + 'target-utilization-percentage']: '1' }, target: 0.01, total: 0.01 },
  ];
  it.each(cases)('$name', ({ anns, config, target, total }) => {
    const { spec, problems } = resolveRevisionSpec(anns, config ? cfg(config) : undefined);
    expect(problems).toEqual([]);
    expect(spec.decider.targetValue).toBeCloseTo(target, 10);
    expect(spec.decider.totalValue).toBe(total);
  });
});

describe('§c3 panic window = round(stable × pct / 100) whole seconds, at least 1 s', () => {
  it.each([
    ['60s', '10', 6000],
    ['60s', '51', 31_000], // 30.6 s
    ['10s', '15', 2000], // 1.5 s rounds up
    ['6s', '1', 1000], // 0.06 s → at least 1 s
    ['1h', '100', 3_600_000],
  ])('window %s, %s%%', (window, pct, want) => {
    const { spec, problems } = resolveRevisionSpec({ [A + 'window']: window, [A + 'panic-window-percentage']: pct });
    expect(problems).toEqual([]);
    expect(spec.panicWindowMs).toBe(want);
  });

  it('uses the configured stable window and percentage', () => {
    expect(resolveRevisionSpec({}, cfg({ 'stable-window': '2m', 'panic-window-percentage': '25' })).spec.panicWindowMs).toBe(30_000);
  });
});

describe('config-only knobs', () => {
  it('§c4 max up/down rates come only from the ConfigMap', () => {
    const { spec } = resolveRevisionSpec({ [A + 'max-scale-up-rate']: '5' }, cfg({ 'max-scale-up-rate': '10', 'max-scale-down-rate': '4' }));
    expect([spec.decider.maxScaleUpRate, spec.decider.maxScaleDownRate]).toEqual([10, 4]);
  });

  it('enable-scale-to-zero and the grace period come from the ConfigMap', () => {
    const { spec } = resolveRevisionSpec({}, cfg({ 'enable-scale-to-zero': 'false', 'scale-to-zero-grace-period': '45s' }));
    expect([spec.scaler.enableScaleToZero, spec.scaler.scaleToZeroGracePeriodMs]).toEqual([false, 45_000]);
  });
});

describe('unknown annotation keys (beyond Knative, which ignores them)', () => {
  it.each([
    [A + 'minscale', A + 'min-scale'],
    [A + 'min_scale', A + 'min-scale'],
    [A + 'maxScales', A + 'max-scale'],
    [A + 'stable-window', A + 'window'],
    [A + 'targetUtilization', A + 'target-utilization-percentage'],
    [A + 'panic-threshold', A + 'panic-threshold-percentage'],
    ['tide.dev/timeout', 'tide.dev/timeout-seconds'],
    ['tide.dev/containerConcurrency', 'tide.dev/container-concurrency'],
  ])('%s → did you mean %s?', (key, suggestion) => {
    expect(nearestKey(key)).toBe(suggestion);
    expect(resolveRevisionSpec({ [key]: '1' }).problems).toEqual([{ key, message: `unknown annotation; did you mean ${suggestion}?` }]);
  });

  it('an unknown key with no close match is still reported', () => {
    expect(resolveRevisionSpec({ [A + 'frobnicate']: '1' }).problems).toEqual([
      { key: A + 'frobnicate', message: 'unknown annotation (Knative ignores it; Tide reports it because it has no effect)' },
    ]);
  });

  it('other tide.dev keys are left alone unless they are near-misses', () => {
    expect(resolveRevisionSpec({ 'tide.dev/inject': 'true', 'tide.dev/native-sidecar': 'true' }).problems).toEqual([]);
  });
});
