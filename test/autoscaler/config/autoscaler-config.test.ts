import { describe, expect, it } from 'vitest';
import { AUTOSCALER_DEFAULTS, AUTOSCALER_CONFIG_KEYS, parseAutoscalerConfig, type AutoscalerConfig } from '../../../autoscaler/config/autoscaler-config.js';

describe('config-autoscaler defaults (§d)', () => {
  it('empty data gives Knative\'s defaults and no problems', () => {
    const { config, problems } = parseAutoscalerConfig({});
    expect(problems).toEqual([]);
    expect(config).toEqual({
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
      podAutoscalerClass: 'kpa.autoscaling.knative.dev',
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
    } satisfies AutoscalerConfig);
  });

  it('results and defaults are frozen', () => {
    expect(Object.isFrozen(AUTOSCALER_DEFAULTS)).toBe(true);
    expect(Object.isFrozen(parseAutoscalerConfig({ 'min-scale': '1' }).config)).toBe(true);
  });

  it('every key maps to a distinct field, and every field has a key', () => {
    const fields = Object.values(AUTOSCALER_CONFIG_KEYS).map((k) => k.field);
    expect(new Set(fields).size).toBe(fields.length);
    expect(new Set(fields)).toEqual(new Set(Object.keys(AUTOSCALER_DEFAULTS)));
  });

  it('unknown keys are ignored', () => {
    const { config, problems } = parseAutoscalerConfig({ 'no-such-key': 'x', _example: 'long text' });
    expect(problems).toEqual([]);
    expect(config).toEqual(AUTOSCALER_DEFAULTS);
  });
});

type Case = { name: string; data: Record<string, string>; want: Partial<AutoscalerConfig> };

describe('config-autoscaler valid values', () => {
  const cases: Case[] = [
    { name: 'container-concurrency-target-percentage 80 is divided by 100', data: { 'container-concurrency-target-percentage': '80' }, want: { containerConcurrencyTargetFraction: 0.8 } },
    { name: 'container-concurrency-target-percentage 0.5 (≤ 1) is already a fraction', data: { 'container-concurrency-target-percentage': '0.5' }, want: { containerConcurrencyTargetFraction: 0.5 } },
    { name: 'container-concurrency-target-percentage 1 means 100%', data: { 'container-concurrency-target-percentage': '1' }, want: { containerConcurrencyTargetFraction: 1 } },
    { name: 'container-concurrency-target-percentage 100', data: { 'container-concurrency-target-percentage': '100' }, want: { containerConcurrencyTargetFraction: 1 } },
    { name: 'container-concurrency-target-default 10', data: { 'container-concurrency-target-default': '10' }, want: { containerConcurrencyTargetDefault: 10 } },
    { name: 'requests-per-second-target-default 0.01 is the minimum', data: { 'requests-per-second-target-default': '0.01' }, want: { requestsPerSecondTargetDefault: 0.01 } },
    { name: 'target-burst-capacity -1 (unlimited)', data: { 'target-burst-capacity': '-1' }, want: { targetBurstCapacity: -1 } },
    { name: 'target-burst-capacity 0', data: { 'target-burst-capacity': '0' }, want: { targetBurstCapacity: 0 } },
    { name: 'stable-window 1m30s', data: { 'stable-window': '1m30s' }, want: { stableWindowMs: 90_000 } },
    { name: 'stable-window 6s is the minimum', data: { 'stable-window': '6s' }, want: { stableWindowMs: 6000 } },
    { name: 'stable-window 1h is the maximum', data: { 'stable-window': '1h' }, want: { stableWindowMs: 3_600_000 } },
    { name: 'panic-window-percentage 1 and 100 are the bounds', data: { 'panic-window-percentage': '100' }, want: { panicWindowPercentage: 100 } },
    { name: 'panic-threshold-percentage is not validated', data: { 'panic-threshold-percentage': '-5' }, want: { panicThresholdPercentage: -5 } },
    { name: 'max-scale-up-rate 1.5', data: { 'max-scale-up-rate': '1.5' }, want: { maxScaleUpRate: 1.5 } },
    { name: 'max-scale-down-rate 4', data: { 'max-scale-down-rate': '4' }, want: { maxScaleDownRate: 4 } },
    { name: 'enable-scale-to-zero false', data: { 'enable-scale-to-zero': 'false' }, want: { enableScaleToZero: false } },
    { name: 'enable-scale-to-zero accepts Go bools (F)', data: { 'enable-scale-to-zero': 'F' }, want: { enableScaleToZero: false } },
    { name: 'scale-to-zero-grace-period 1m', data: { 'scale-to-zero-grace-period': '1m' }, want: { scaleToZeroGracePeriodMs: 60_000 } },
    { name: 'scale-to-zero-pod-retention-period 1.5s (no second rule)', data: { 'scale-to-zero-pod-retention-period': '1.5s' }, want: { scaleToZeroPodRetentionPeriodMs: 1500 } },
    { name: 'scale-down-delay 2h (no 1h cap in the ConfigMap)', data: { 'scale-down-delay': '2h' }, want: { scaleDownDelayMs: 7_200_000 } },
    { name: 'pod-autoscaler-class is trimmed', data: { 'pod-autoscaler-class': ' hpa.autoscaling.knative.dev ' }, want: { podAutoscalerClass: 'hpa.autoscaling.knative.dev' } },
    { name: 'activator-capacity 1 is the minimum', data: { 'activator-capacity': '1' }, want: { activatorCapacity: 1 } },
    { name: 'initial-scale 0 with allow-zero-initial-scale', data: { 'initial-scale': '0', 'allow-zero-initial-scale': 'true' }, want: { initialScale: 0, allowZeroInitialScale: true } },
    { name: 'min-scale 2 with max-scale 5', data: { 'min-scale': '2', 'max-scale': '5' }, want: { minScale: 2, maxScale: 5 } },
    { name: 'min-scale above max-scale 0 (unlimited) is fine', data: { 'min-scale': '7' }, want: { minScale: 7, maxScale: 0 } },
    { name: 'max-scale within max-scale-limit', data: { 'max-scale': '10', 'max-scale-limit': '10' }, want: { maxScale: 10, maxScaleLimit: 10 } },
    { name: 'revision-response-start-timeout-seconds follows revision-timeout-seconds when unset', data: { 'revision-timeout-seconds': '100' }, want: { revisionTimeoutSeconds: 100, revisionResponseStartTimeoutSeconds: 100 } },
    { name: 'revision-idle-timeout-seconds 30', data: { 'revision-idle-timeout-seconds': '30' }, want: { revisionIdleTimeoutSeconds: 30 } },
    { name: 'container-concurrency 10', data: { 'container-concurrency': '10' }, want: { containerConcurrency: 10 } },
    { name: 'progress-deadline 5m', data: { 'progress-deadline': '5m' }, want: { progressDeadlineMs: 300_000 } },
  ];
  it.each(cases)('§d $name', ({ data, want }) => {
    const { config, problems } = parseAutoscalerConfig(data);
    expect(problems).toEqual([]);
    expect(config).toMatchObject(want);
  });
});

type BadCase = { name: string; data: Record<string, string>; key: string; message: string; fallback: Partial<AutoscalerConfig> };

describe('config-autoscaler invalid values: Knative\'s message, and the default is used instead', () => {
  const cases: BadCase[] = [
    { name: 'float key not a number', data: { 'max-scale-up-rate': 'fast' }, key: 'max-scale-up-rate', message: 'failed to parse "max-scale-up-rate": strconv.ParseFloat: parsing "fast": invalid syntax', fallback: { maxScaleUpRate: 1000 } },
    { name: 'int32 key out of range', data: { 'min-scale': '3000000000' }, key: 'min-scale', message: 'failed to parse "min-scale": strconv.ParseInt: parsing "3000000000": value out of range', fallback: { minScale: 0 } },
    { name: 'int32 key with a fraction', data: { 'initial-scale': '1.5' }, key: 'initial-scale', message: 'failed to parse "initial-scale": strconv.ParseInt: parsing "1.5": invalid syntax', fallback: { initialScale: 1 } },
    { name: 'bool key not a bool', data: { 'enable-scale-to-zero': 'yes' }, key: 'enable-scale-to-zero', message: 'failed to parse "enable-scale-to-zero": strconv.ParseBool: parsing "yes": invalid syntax', fallback: { enableScaleToZero: true } },
    { name: 'duration key without a unit', data: { 'stable-window': '60' }, key: 'stable-window', message: 'failed to parse "stable-window": time: invalid duration "60"', fallback: { stableWindowMs: 60_000 } },
    { name: 'scale-to-zero-grace-period 0 must be positive', data: { 'scale-to-zero-grace-period': '0s' }, key: 'scale-to-zero-grace-period', message: 'scale-to-zero-grace-period must be positive, was: 0s', fallback: { scaleToZeroGracePeriodMs: 30_000 } },
    { name: 'scale-down-delay negative', data: { 'scale-down-delay': '-1s' }, key: 'scale-down-delay', message: 'scale-down-delay cannot be negative, was: -1s', fallback: { scaleDownDelayMs: 0 } },
    { name: 'scale-down-delay fractional seconds', data: { 'scale-down-delay': '1.5s' }, key: 'scale-down-delay', message: 'scale-down-delay = 1.5s, must be specified with at most second precision', fallback: { scaleDownDelayMs: 0 } },
    { name: 'scale-to-zero-pod-retention-period negative', data: { 'scale-to-zero-pod-retention-period': '-1m' }, key: 'scale-to-zero-pod-retention-period', message: 'scale-to-zero-pod-retention-period cannot be negative, was: -1m0s', fallback: { scaleToZeroPodRetentionPeriodMs: 0 } },
    { name: 'target-burst-capacity -2', data: { 'target-burst-capacity': '-2' }, key: 'target-burst-capacity', message: 'target-burst-capacity must be either non-negative or -1 (for unlimited), was: -2.000000', fallback: { targetBurstCapacity: 211 } },
    { name: 'container-concurrency-target-percentage 0', data: { 'container-concurrency-target-percentage': '0' }, key: 'container-concurrency-target-percentage', message: 'container-concurrency-target-percentage = 0.000000 is outside of valid range of (0, 100]', fallback: { containerConcurrencyTargetFraction: 0.7 } },
    { name: 'container-concurrency-target-percentage 150 (1.5 after /100)', data: { 'container-concurrency-target-percentage': '150' }, key: 'container-concurrency-target-percentage', message: 'container-concurrency-target-percentage = 1.500000 is outside of valid range of (0, 100]', fallback: { containerConcurrencyTargetFraction: 0.7 } },
    { name: 'fraction × default below 0.01 (the default is replaced)', data: { 'container-concurrency-target-percentage': '50', 'container-concurrency-target-default': '0.01' }, key: 'container-concurrency-target-percentage', message: "container-concurrency-target-percentage and container-concurrency-target-default yield target concurrency of 0.005, can't be less than 0.01", fallback: { containerConcurrencyTargetDefault: 100, containerConcurrencyTargetFraction: 0.5 } },
    { name: 'fraction × default below 0.01 (the percentage is replaced)', data: { 'container-concurrency-target-percentage': '0.00005' }, key: 'container-concurrency-target-percentage', message: "container-concurrency-target-percentage and container-concurrency-target-default yield target concurrency of 0.005, can't be less than 0.01", fallback: { containerConcurrencyTargetDefault: 100, containerConcurrencyTargetFraction: 0.7 } },
    { name: 'requests-per-second-target-default below 0.01', data: { 'requests-per-second-target-default': '0.001' }, key: 'requests-per-second-target-default', message: 'requests-per-second-target-default must be at least 0.01, was: 0.001', fallback: { requestsPerSecondTargetDefault: 200 } },
    { name: 'activator-capacity below 1', data: { 'activator-capacity': '0.5' }, key: 'activator-capacity', message: 'activator-capacity = 0.5, must be at least 1', fallback: { activatorCapacity: 100 } },
    { name: 'max-scale-up-rate must be > 1', data: { 'max-scale-up-rate': '1' }, key: 'max-scale-up-rate', message: 'max-scale-up-rate = 1, must be greater than 1.0', fallback: { maxScaleUpRate: 1000 } },
    { name: 'max-scale-down-rate must be > 1', data: { 'max-scale-down-rate': '0.5' }, key: 'max-scale-down-rate', message: 'max-scale-down-rate = 0.5, must be greater than 1.0', fallback: { maxScaleDownRate: 2 } },
    { name: 'stable-window below 6s', data: { 'stable-window': '5s' }, key: 'stable-window', message: 'stable-window = 5s, must be in [6s; 1h0m0s] range', fallback: { stableWindowMs: 60_000 } },
    { name: 'stable-window above 1h', data: { 'stable-window': '61m' }, key: 'stable-window', message: 'stable-window = 1h1m0s, must be in [6s; 1h0m0s] range', fallback: { stableWindowMs: 60_000 } },
    { name: 'stable-window fractional seconds', data: { 'stable-window': '6500ms' }, key: 'stable-window', message: 'stable-window = 6.5s, must be specified with at most second precision', fallback: { stableWindowMs: 60_000 } },
    { name: 'panic-window-percentage below 1', data: { 'panic-window-percentage': '0.5' }, key: 'panic-window-percentage', message: 'panic-window-percentage = 0.5, must be in [1, 100] interval', fallback: { panicWindowPercentage: 10 } },
    { name: 'panic-window-percentage above 100', data: { 'panic-window-percentage': '101' }, key: 'panic-window-percentage', message: 'panic-window-percentage = 101, must be in [1, 100] interval', fallback: { panicWindowPercentage: 10 } },
    { name: 'initial-scale 0 without allow-zero-initial-scale', data: { 'initial-scale': '0' }, key: 'initial-scale', message: 'initial-scale = 0, must be at least 0 (or at least 1 when allow-zero-initial-scale is false)', fallback: { initialScale: 1 } },
    { name: 'initial-scale negative', data: { 'initial-scale': '-1', 'allow-zero-initial-scale': 'true' }, key: 'initial-scale', message: 'initial-scale = -1, must be at least 0 (or at least 1 when allow-zero-initial-scale is false)', fallback: { initialScale: 1 } },
    { name: 'min-scale negative', data: { 'min-scale': '-1' }, key: 'min-scale', message: 'min-scale = -1, must be at least 0', fallback: { minScale: 0 } },
    { name: 'max-scale negative', data: { 'max-scale': '-1' }, key: 'max-scale', message: 'max-scale = -1, must be in [0, max-scale-limit(0)] range', fallback: { maxScale: 0 } },
    { name: 'max-scale 0 with max-scale-limit > 0 (falls back to the limit)', data: { 'max-scale-limit': '20' }, key: 'max-scale', message: 'max-scale = 0, must be in [1, max-scale-limit(20)] range', fallback: { maxScale: 20, maxScaleLimit: 20 } },
    { name: 'max-scale above max-scale-limit', data: { 'max-scale': '30', 'max-scale-limit': '20' }, key: 'max-scale', message: 'max-scale = 30, must be in [1, max-scale-limit(20)] range', fallback: { maxScale: 20 } },
    { name: 'max-scale-limit negative', data: { 'max-scale-limit': '-1' }, key: 'max-scale-limit', message: 'max-scale-limit = -1, must be at least 0', fallback: { maxScaleLimit: 0 } },
    { name: 'min-scale above max-scale', data: { 'min-scale': '6', 'max-scale': '5' }, key: 'min-scale', message: 'min-scale (6) must be less than max-scale (5)', fallback: { minScale: 0, maxScale: 5 } },
    { name: 'revision-timeout-seconds above max-revision-timeout-seconds', data: { 'revision-timeout-seconds': '700' }, key: 'revision-timeout-seconds', message: 'revision-timeout-seconds (700) cannot be greater than max-revision-timeout-seconds (600)', fallback: { revisionTimeoutSeconds: 300 } },
    { name: 'revision-response-start-timeout-seconds above the timeout', data: { 'revision-response-start-timeout-seconds': '400' }, key: 'revision-response-start-timeout-seconds', message: 'revision-response-start-timeout-seconds (400) cannot be greater than revision-timeout-seconds (300)', fallback: { revisionResponseStartTimeoutSeconds: 300 } },
    { name: 'revision-idle-timeout-seconds above the timeout', data: { 'revision-idle-timeout-seconds': '301' }, key: 'revision-idle-timeout-seconds', message: 'revision-idle-timeout-seconds (301) cannot be greater than revision-timeout-seconds (300)', fallback: { revisionIdleTimeoutSeconds: 0 } },
    { name: 'container-concurrency-max-limit 0', data: { 'container-concurrency-max-limit': '0' }, key: 'container-concurrency-max-limit', message: 'expected 1 <= 0 <= 2147483647: container-concurrency-max-limit', fallback: { containerConcurrencyMaxLimit: 1000 } },
    { name: 'container-concurrency above container-concurrency-max-limit', data: { 'container-concurrency': '11', 'container-concurrency-max-limit': '10' }, key: 'container-concurrency', message: 'expected 0 <= 11 <= 10: container-concurrency', fallback: { containerConcurrency: 0 } },
    { name: 'progress-deadline 0', data: { 'progress-deadline': '0s' }, key: 'progress-deadline', message: 'progress-deadline cannot be a non-positive duration, was 0s', fallback: { progressDeadlineMs: 600_000 } },
    { name: 'progress-deadline fractional seconds', data: { 'progress-deadline': '1.5s' }, key: 'progress-deadline', message: 'progress-deadline must be rounded to a whole second, was: 1.5s', fallback: { progressDeadlineMs: 600_000 } },
  ];
  it.each(cases)('§d $name', ({ data, key, message, fallback }) => {
    const { config, problems } = parseAutoscalerConfig(data);
    expect(problems).toEqual([{ key, message }]);
    expect(config).toMatchObject(fallback);
  });

  it('collects every problem at once (Knative stops at the first)', () => {
    const { problems } = parseAutoscalerConfig({ 'max-scale-up-rate': '1', 'max-scale-down-rate': '1', 'stable-window': 'x', 'min-scale': '-1' });
    expect(problems.map((p) => p.key).sort()).toEqual(['max-scale-down-rate', 'max-scale-up-rate', 'min-scale', 'stable-window']);
  });

  it('numbers with spaces are refused, as Go does', () => {
    expect(parseAutoscalerConfig({ 'min-scale': ' 1' }).problems).toHaveLength(1);
  });
});
