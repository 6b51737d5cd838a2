import { describe, expect, it } from 'vitest';
import { SCENARIOS } from '../../loadtest/scenarios/index.ts';
import { Registry } from '../../load/metrics.js';
import { defineMetrics, GRPC_METRICS, HTTP_METRICS, WS_METRICS } from '../../load/engine.js';
import { prepareThresholds } from '../../load/summary.js';
import { checkAggregation, holds, parseMetricKey, parseThreshold, ThresholdError } from '../../load/thresholds.js';

describe('k6 threshold syntax', () => {
  it.each([
    ['p(95)<500', 'p(95)', 95, '<', 500],
    ['p(99.9) <= 1500', 'p(99.9)', 99.9, '<=', 1500],
    [' avg < 200 ', 'avg', undefined, '<', 200],
    ['med<100', 'med', undefined, '<', 100],
    ['min>=1', 'min', undefined, '>=', 1],
    ['max<1000', 'max', undefined, '<', 1000],
    ['rate<0.01', 'rate', undefined, '<', 0.01],
    ['rate>0.99', 'rate', undefined, '>', 0.99],
    ['count<10', 'count', undefined, '<', 10],
    ['count==0', 'count', undefined, '==', 0],
    ['count===0', 'count', undefined, '===', 0],
    ['value!=3', 'value', undefined, '!=', 3],
    ['p(0)>-1', 'p(0)', 0, '>', -1],
  ])('%s', (src, aggregation, percentile, operator, value) => {
    const t = parseThreshold(src);
    expect({ aggregation: t.aggregation, percentile: t.percentile, operator: t.operator, value: t.value }).toEqual({ aggregation, percentile, operator, value });
  });

  it.each(['p95<500', 'p(95)', 'p(101)<1', 'avg<', 'mean<3', 'rate<<1', 'count<ten', '', 'p(95)<500ms'])('refuses %j naming it', (src) => {
    expect(() => parseThreshold(src)).toThrow(ThresholdError);
    expect(() => parseThreshold(src)).toThrow(JSON.stringify(src));
  });

  it.each([
    ['<', 1, 2, true],
    ['<', 2, 2, false],
    ['<=', 2, 2, true],
    ['>', 3, 2, true],
    ['>=', 1, 2, false],
    ['==', 2, 2, true],
    ['!=', 2, 2, false],
  ] as const)('%s: %d vs %d → %s', (op, actual, limit, ok) => {
    expect(holds(parseThreshold(`avg${op}${limit}`), actual)).toBe(ok);
  });

  it('metric keys with tags', () => {
    expect(parseMetricKey('http_req_duration{kind:short,status:200}')).toEqual({ source: 'http_req_duration{kind:short,status:200}', name: 'http_req_duration', tags: { kind: 'short', status: '200' } });
    expect(parseMetricKey('checks').tags).toEqual({});
    expect(() => parseMetricKey('x{kind}')).toThrow(/tag "kind" is not tag:value/);
    expect(() => parseMetricKey('bad name')).toThrow(ThresholdError);
  });

  it('an aggregation the metric type lacks is refused, as k6 does before a test', () => {
    expect(() => checkAggregation('http_req_failed', 'rate', parseThreshold('p(95)<1'))).toThrow(/not an aggregation of a rate metric/);
    expect(() => checkAggregation('http_req_duration', 'trend', parseThreshold('rate<1'))).toThrow(/not an aggregation of a trend metric/);
    expect(() => checkAggregation('http_reqs', 'counter', parseThreshold('rate>10'))).not.toThrow();
  });

  it('an unknown metric is refused before anything is sent', () => {
    const reg = new Registry();
    defineMetrics(reg, HTTP_METRICS, true);
    expect(() => prepareThresholds({ grpc_req_duration: ['p(95)<1'] }, reg)).toThrow(/no metric grpc_req_duration/);
  });

  it('every shipped scenario has valid thresholds, among them an error-rate bound under 1%', () => {
    for (const def of Object.values(SCENARIOS)) {
      const reg = new Registry();
      const names = def.request.type === 'http' ? HTTP_METRICS : def.request.type === 'websocket' ? WS_METRICS : GRPC_METRICS;
      defineMetrics(reg, names, def.executor.endsWith('arrival-rate'));
      expect(() => prepareThresholds(def.thresholds, reg), def.name).not.toThrow();
      const errorBound = def.thresholds['http_req_failed'] ?? def.thresholds['checks'];
      expect(errorBound, def.name).toEqual([def.thresholds['http_req_failed'] ? 'rate<0.01' : 'rate>0.99']);
    }
  });
});
