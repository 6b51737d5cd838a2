import { describe, expect, it } from 'vitest';
import { QueueProxyMetrics } from '../../../proxy/http/metrics.js';

const LABELS = {
  namespace_name: 'default',
  service_name: 'hello',
  configuration_name: 'hello',
  revision_name: 'hello-00001',
  pod_name: 'hello-00001-abc',
  container_name: 'queue-proxy',
};
const LABEL_TEXT = 'namespace_name="default",service_name="hello",configuration_name="hello",revision_name="hello-00001",pod_name="hello-00001-abc",container_name="queue-proxy"';

function build(depth = 0, retries = 0): QueueProxyMetrics {
  return new QueueProxyMetrics(LABELS, { queueDepth: () => depth, retries: () => retries, retryBudgetExhausted: () => 0 });
}

describe('queue-proxy metrics (docs/knative-parity.md §a5)', () => {
  it("exposes Knative's user-facing names with their labels, counters at 0 before any request", async () => {
    const text = await build(3).text();
    for (const name of ['revision_request_count', 'revision_app_request_count']) {
      expect(text).toContain(`# TYPE ${name} counter`);
      expect(text).toContain(`${name}{${LABEL_TEXT},response_code="200",response_code_class="2xx"} 0`);
      expect(text).toContain(`${name}{${LABEL_TEXT},response_code="503",response_code_class="5xx"} 0`);
    }
    for (const name of ['revision_request_latencies', 'revision_app_request_latencies']) {
      expect(text).toContain(`# TYPE ${name} histogram`);
      expect(text).toContain(`${name}_count{${LABEL_TEXT},response_code="200",response_code_class="2xx"} 0`);
    }
    expect(text).toContain(`revision_queue_depth{${LABEL_TEXT}} 3`);
    expect(text).toContain('tide_queue_proxy_breaker_overflow_total 0');
    expect(text).toContain('tide_queue_proxy_circuit_rejections_total 0');
    expect(text).toContain('tide_queue_proxy_circuit_state 0');
    expect(text).toContain('tide_queue_proxy_retries_total 0');
  });

  it('records requests by status with latencies in milliseconds', async () => {
    const m = build();
    m.recordRequest(404, 12);
    m.recordRequest(404, 7);
    m.recordAppRequest(200, 3);
    m.breakerOverflow();
    m.circuitState('open');
    const text = await m.text();
    expect(text).toContain(`revision_request_count{${LABEL_TEXT},response_code="404",response_code_class="4xx"} 2`);
    expect(text).toContain(`revision_request_latencies_sum{${LABEL_TEXT},response_code="404",response_code_class="4xx"} 19`);
    expect(text).toContain(`revision_request_latencies_bucket{le="10",${LABEL_TEXT},response_code="404",response_code_class="4xx"} 1`);
    expect(text).toContain(`revision_app_request_count{${LABEL_TEXT},response_code="200",response_code_class="2xx"} 1`);
    expect(text).toContain('tide_queue_proxy_breaker_overflow_total 1');
    expect(text).toContain('tide_queue_proxy_circuit_state 2');
  });

  it('histogram buckets are cumulative with le inclusive, plus +Inf, sum and count', async () => {
    const m = build();
    for (const ms of [3, 5, 7, 12, 5000, 200_000]) m.recordAppRequest(201, ms);
    const text = await m.text();
    const bucket = (le: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`revision_app_request_latencies_bucket{le="${le}",`) && l.includes('response_code="201"'));
      return Number(line?.split(' ').pop());
    };
    expect([bucket('5'), bucket('10'), bucket('20'), bucket('2000'), bucket('5000'), bucket('100000'), bucket('+Inf')]).toEqual([2, 3, 4, 4, 5, 5, 6]);
    expect(text).toContain(`revision_app_request_latencies_sum{${LABEL_TEXT},response_code="201",response_code_class="2xx"} 205027`);
    expect(text).toContain(`revision_app_request_latencies_count{${LABEL_TEXT},response_code="201",response_code_class="2xx"} 6`);
  });

  it('uses a private registry: two instances do not collide', async () => {
    const a = build();
    const b = build();
    a.recordRequest(200, 1);
    expect(await b.text()).toContain(`revision_request_count{${LABEL_TEXT},response_code="200",response_code_class="2xx"} 0`);
  });
});
