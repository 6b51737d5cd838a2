/** Thresholds checked against a run's metrics, and k6's handleSummary-shaped data built from them. */
import { SUMMARY_TREND_STATS } from '../loadtest/scenarios/types.ts';
import type { SummaryData, SummaryMetric } from '../loadtest/scenarios/summary.ts';
import type { Registry } from './metrics.js';
import { checkAggregation, parseMetricKey, parseThreshold, ThresholdError, valueKey, holds, type MetricKey, type Threshold } from './thresholds.js';

export interface ThresholdSet {
  readonly key: MetricKey;
  readonly thresholds: readonly Threshold[];
}

/**
 * Parses a scenario's thresholds and checks each against the metrics the run will have (k6 refuses an unknown
 * metric or an aggregation the metric type lacks before the test starts). Adds sub-metrics for tagged keys.
 */
export function prepareThresholds(spec: Readonly<Record<string, readonly string[]>>, registry: Registry): ThresholdSet[] {
  const sets: ThresholdSet[] = [];
  for (const [metric, exprs] of Object.entries(spec)) {
    const key = parseMetricKey(metric);
    const type = registry.typeOf(key.name);
    if (type === undefined) throw new ThresholdError(`threshold on ${JSON.stringify(metric)}: this scenario has no metric ${key.name}`);
    if (Object.keys(key.tags).length > 0) registry.defineSub(metric, key.name, key.tags);
    const thresholds = exprs.map((e) => parseThreshold(e));
    for (const t of thresholds) checkAggregation(metric, type, t);
    sets.push({ key, thresholds });
  }
  return sets;
}

/** Summary data in handleSummary's shape; trend values in ms, thresholds evaluated. */
export function summaryData(registry: Registry, sets: readonly ThresholdSet[], durationMs: number, tty: { stdout: boolean; stderr: boolean }): SummaryData {
  const metrics: Record<string, SummaryMetric> = {};
  for (const [key, m, contains] of registry.entries()) {
    let values: Record<string, number>;
    if (m.type === 'trend') {
      const stats = [...SUMMARY_TREND_STATS];
      for (const s of sets) if (s.key.source === key) for (const t of s.thresholds) if (!stats.includes(valueKey(t))) stats.push(valueKey(t));
      values = m.values(stats);
    } else if (m.type === 'counter') values = m.values(durationMs);
    else values = m.values();
    metrics[key] = { type: m.type, contains, values };
  }
  for (const s of sets) {
    const entry = metrics[s.key.source];
    if (!entry) continue;
    entry.thresholds = {};
    for (const t of s.thresholds) entry.thresholds[t.source] = { ok: holds(t, entry.values[valueKey(t)] ?? 0) };
  }
  return {
    options: { summaryTrendStats: [...SUMMARY_TREND_STATS], summaryTimeUnit: '', noColor: false },
    state: { isStdOutTTY: tty.stdout, isStdErrTTY: tty.stderr, testRunDurationMs: durationMs },
    metrics,
    root_group: { name: '', path: '', id: 'd41d8cd98f00b204e9800998ecf8427e', groups: [], checks: [] },
  };
}
