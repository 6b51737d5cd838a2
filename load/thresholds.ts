/**
 * k6's threshold syntax (https://grafana.com/docs/k6/latest/using-k6/thresholds/): `AGGREGATION OPERATOR VALUE`, e.g.
 * `p(95)<500`, `rate<0.01`, `count<10`, `avg<=200`, `med<100`, `max<1000`, on a metric or a tagged sub-metric
 * (`http_req_duration{kind:short}`). Parsing and evaluation only; no I/O.
 */

export type MetricType = 'trend' | 'rate' | 'counter' | 'gauge';

export type Operator = '<' | '<=' | '>' | '>=' | '==' | '===' | '!=';

export interface Threshold {
  /** The expression as written (the key k6 uses in its summary). */
  readonly source: string;
  /** `avg`, `min`, `med`, `max`, `p(95)`, `rate`, `count`, `value`. */
  readonly aggregation: string;
  /** For `p(N)`: N. */
  readonly percentile?: number;
  readonly operator: Operator;
  readonly value: number;
}

/** A metric name with optional tags, as thresholds name them. */
export interface MetricKey {
  readonly source: string;
  readonly name: string;
  readonly tags: Readonly<Record<string, string>>;
}

export class ThresholdError extends Error {
  override readonly name = 'ThresholdError';
}

/** Which aggregations each metric type has (k6's `metrics.Type.SupportedThresholdAggregationMethods`). */
export const AGGREGATIONS: Readonly<Record<MetricType, readonly string[]>> = {
  trend: ['avg', 'min', 'med', 'max', 'p(N)'],
  rate: ['rate'],
  counter: ['count', 'rate'],
  gauge: ['value'],
};

const EXPR = /^\s*(avg|min|max|med|count|rate|value|p\(\s*(\d+(?:\.\d+)?)\s*\))\s*(===|==|!=|<=|>=|<|>)\s*(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*$/i;

/** Parses one expression; throws ThresholdError naming it when it is not k6 syntax. */
export function parseThreshold(source: string): Threshold {
  const m = EXPR.exec(source);
  if (!m) throw new ThresholdError(`threshold ${JSON.stringify(source)}: expected AGGREGATION OPERATOR NUMBER, e.g. 'p(95)<500' or 'rate<0.01'`);
  const agg = m[1]!.toLowerCase().replace(/\s+/g, '');
  const value = Number(m[4]);
  if (m[2] !== undefined) {
    const p = Number(m[2]);
    if (!(p >= 0 && p <= 100)) throw new ThresholdError(`threshold ${JSON.stringify(source)}: percentile must be in [0, 100]`);
    return { source, aggregation: agg, percentile: p, operator: m[3] as Operator, value };
  }
  return { source, aggregation: agg, operator: m[3] as Operator, value };
}

const KEY = /^([A-Za-z_][A-Za-z0-9_.]*)(?:\{([^{}]*)\})?$/;

/** Parses `name` or `name{tag:value,tag2:value2}`. */
export function parseMetricKey(source: string): MetricKey {
  const m = KEY.exec(source.trim());
  if (!m) throw new ThresholdError(`threshold metric ${JSON.stringify(source)}: expected NAME or NAME{tag:value,...}`);
  const tags: Record<string, string> = {};
  if (m[2] !== undefined) {
    for (const part of m[2].split(',')) {
      const colon = part.indexOf(':');
      const k = part.slice(0, colon).trim();
      const v = part.slice(colon + 1).trim();
      if (colon <= 0 || k === '' || v === '') throw new ThresholdError(`threshold metric ${JSON.stringify(source)}: tag ${JSON.stringify(part.trim())} is not tag:value`);
      tags[k] = v;
    }
  }
  return { source, name: m[1]!, tags };
}

/** Throws unless `t`'s aggregation exists for a metric of `type` (k6 refuses such a threshold before the test). */
export function checkAggregation(metric: string, type: MetricType, t: Threshold): void {
  const kind = t.percentile !== undefined ? 'p(N)' : t.aggregation;
  if (!AGGREGATIONS[type].includes(kind)) {
    throw new ThresholdError(`threshold ${JSON.stringify(t.source)} on ${metric}: ${t.aggregation} is not an aggregation of a ${type} metric (use ${AGGREGATIONS[type].join(', ')})`);
  }
}

/** The key under which a metric's summary values hold `t`'s aggregation: `p(95)`, `avg`, `rate`, …. */
export function valueKey(t: Threshold): string {
  return t.percentile !== undefined ? `p(${t.percentile})` : t.aggregation;
}

/** True when the threshold holds for `actual`. */
export function holds(t: Threshold, actual: number): boolean {
  switch (t.operator) {
    case '<':
      return actual < t.value;
    case '<=':
      return actual <= t.value;
    case '>':
      return actual > t.value;
    case '>=':
      return actual >= t.value;
    case '==':
    case '===':
      return actual === t.value;
    case '!=':
      return actual !== t.value;
  }
}
