import type { ScenarioDef } from './types.ts';

/** A sudden ten-fold jump: the panic window sees it within seconds and scales up at once. */
export const spike: ScenarioDef = {
  name: 'spike',
  description: '20 requests/s, then 200 requests/s within 2 s for 30 s, then back: the autoscaler must enter panic',
  executor: 'ramping-arrival-rate',
  startRate: 20,
  stages: [
    { target: 20, duration: '20s' },
    { target: 200, duration: '2s' },
    { target: 200, duration: '30s' },
    { target: 20, duration: '2s' },
    { target: 20, duration: '20s' },
  ],
  preAllocatedVUs: 50,
  maxVUs: 1000,
  thresholds: { http_req_failed: ['rate<0.01'], http_req_duration: ['p(99)<3000'], dropped_iterations: ['count<50'] },
  request: { type: 'http', method: 'GET', paths: [{ path: '/?delay=200', weight: 1, kind: 'spike' }] },
};
