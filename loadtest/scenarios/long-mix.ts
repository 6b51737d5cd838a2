import type { ScenarioDef } from './types.ts';

/** Short and long requests together: long ones hold concurrency, short ones must not queue behind them for long. */
export const longMix: ScenarioDef = {
  name: 'long-mix',
  description: '30 requests/s for 60 s, 90% 20 ms and 10% 5 s requests: short-request latency stays low beside long ones',
  executor: 'constant-arrival-rate',
  rate: 30,
  duration: '60s',
  preAllocatedVUs: 30,
  maxVUs: 300,
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{kind:short}': ['p(95)<300'],
    'http_req_duration{kind:long}': ['p(95)<6000'],
  },
  request: {
    type: 'http',
    method: 'GET',
    paths: [
      { path: '/?delay=20', weight: 9, kind: 'short' },
      { path: '/?delay=5000', weight: 1, kind: 'long' },
    ],
  },
};
