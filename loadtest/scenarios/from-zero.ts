import type { ScenarioDef } from './types.ts';

/** A burst at a service scaled to zero: the activator holds every request until pods are ready; none is lost. */
export const fromZero: ScenarioDef = {
  name: 'from-zero',
  description: '100 requests/s for 10 s at a service at zero: the first responses wait for a cold start, none fails',
  executor: 'constant-arrival-rate',
  rate: 100,
  duration: '10s',
  preAllocatedVUs: 100,
  maxVUs: 1000,
  thresholds: { http_req_failed: ['rate<0.01'], http_req_duration: ['max<10000'], dropped_iterations: ['count<1'] },
  request: { type: 'http', method: 'GET', paths: [{ path: '/?delay=50', weight: 1, kind: 'from-zero' }] },
};
