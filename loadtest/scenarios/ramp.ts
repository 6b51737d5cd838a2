import type { ScenarioDef } from './types.ts';

/** A slow rise and fall: the stable window follows the load up and back down without panicking. */
export const ramp: ScenarioDef = {
  name: 'ramp',
  description: 'arrivals ramp 5 → 100 requests/s over 60 s, hold 30 s, back to 5 over 30 s: replicas follow the stable window',
  executor: 'ramping-arrival-rate',
  startRate: 5,
  stages: [
    { target: 100, duration: '60s' },
    { target: 100, duration: '30s' },
    { target: 5, duration: '30s' },
  ],
  preAllocatedVUs: 20,
  maxVUs: 300,
  thresholds: { http_req_failed: ['rate<0.01'], http_req_duration: ['p(95)<1000'], dropped_iterations: ['count<10'] },
  request: { type: 'http', method: 'GET', paths: [{ path: '/?delay=100', weight: 1, kind: 'ramp' }] },
};
