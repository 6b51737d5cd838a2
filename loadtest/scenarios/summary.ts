/**
 * The end-of-test summary, from the data k6 hands to `handleSummary` (the same shape `tide load --summary-export`
 * writes). Pure, no imports: the k6 scripts and tide load print the same text.
 */

export interface SummaryMetric {
  type: 'trend' | 'rate' | 'counter' | 'gauge';
  contains: 'time' | 'default' | 'data';
  values: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

/** The subset of k6's handleSummary `data` both tools fill. */
export interface SummaryData {
  options: { summaryTrendStats: string[]; summaryTimeUnit: string; noColor: boolean };
  state: { isStdOutTTY: boolean; isStdErrTTY: boolean; testRunDurationMs: number };
  metrics: Record<string, SummaryMetric>;
  root_group: { name: string; path: string; id: string; groups: unknown[]; checks: unknown[] };
}

/** `1.23ms`, `2.5s`, `850µs`, like k6's time values. */
export function formatMs(ms: number): string {
  if (ms >= 60_000) return `${Math.floor(ms / 60_000)}m${((ms % 60_000) / 1000).toFixed(1)}s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)}s`;
  if (ms >= 1) return `${ms.toFixed(2)}ms`;
  return `${(ms * 1000).toFixed(2)}µs`;
}

function formatValue(m: SummaryMetric, key: string): string {
  const v = m.values[key] ?? 0;
  if (m.type === 'trend' && m.contains === 'time') return formatMs(v);
  if (m.type === 'rate' && key === 'rate') return `${(v * 100).toFixed(2)}%`;
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

function metricLine(name: string, m: SummaryMetric, trendStats: readonly string[]): string {
  const label = `${name}${'.'.repeat(Math.max(3, 38 - name.length))}:`;
  if (m.type === 'trend') return `${label} ${trendStats.map((s) => `${s}=${formatValue(m, s)}`).join(' ')}`;
  if (m.type === 'rate') {
    const passes = m.values['passes'] ?? 0;
    const total = passes + (m.values['fails'] ?? 0);
    return `${label} ${formatValue(m, 'rate')} ${passes} out of ${total}`;
  }
  if (m.type === 'counter') return `${label} ${formatValue(m, 'count')} ${(m.values['rate'] ?? 0).toFixed(2)}/s`;
  return `${label} ${formatValue(m, 'value')} min=${formatValue(m, 'min')} max=${formatValue(m, 'max')}`;
}

/** The thresholds section and every metric, k6 style (✓ held, ✗ crossed). */
export function textSummary(data: SummaryData, title = ''): string {
  const stats = data.options.summaryTrendStats;
  const out: string[] = [];
  if (title) out.push(`  ${title}`, '');
  const withThresholds = Object.entries(data.metrics).filter(([, m]) => m.thresholds && Object.keys(m.thresholds).length > 0);
  if (withThresholds.length > 0) {
    out.push('  █ THRESHOLDS', '');
    for (const [name, m] of withThresholds) {
      out.push(`    ${name}`);
      for (const [expr, r] of Object.entries(m.thresholds ?? {})) {
        const agg = expr.replace(/\s*(===|==|!=|<=|>=|<|>).*$/, '').trim();
        out.push(`    ${r.ok ? '✓' : '✗'} '${expr}' ${agg}=${formatValue(m, agg)}`);
      }
      out.push('');
    }
  }
  out.push('  █ TOTAL RESULTS', '');
  for (const [name, m] of Object.entries(data.metrics).sort(([a], [b]) => a.localeCompare(b))) {
    out.push(`    ${metricLine(name, m, stats)}`);
  }
  out.push('', `  running for ${formatMs(data.state.testRunDurationMs)}`, '');
  return out.join('\n');
}

/** True when every threshold held (k6 exits 99 otherwise). */
export function thresholdsPassed(data: SummaryData): boolean {
  return Object.values(data.metrics).every((m) => Object.values(m.thresholds ?? {}).every((t) => t.ok));
}
