import type { ScenarioDef } from './types.ts';

/** Load held at the service's target concurrency: replicas settle and latency is the app's plus the data plane's. */
export const steady: ScenarioDef = {
  name: 'steady',
  description: 'constant 50 requests/s of 100 ms requests for 60 s: the replica count settles, p95 ≈ app time + data plane',
  executor: 'constant-arrival-rate',
  rate: 50,
  duration: '60s',
  preAllocatedVUs: 20,
  maxVUs: 200,
  thresholds: { http_req_failed: ['rate<0.01'], http_req_duration: ['p(95)<500'], dropped_iterations: ['count<10'] },
  request: { type: 'http', method: 'GET', paths: [{ path: '/?delay=100', weight: 1, kind: 'steady' }] },
};
