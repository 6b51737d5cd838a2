import type { ScenarioDef } from './types.ts';

/** Unary gRPC over h2c through the data plane (loadtest/echo.proto). */
export const grpc: ScenarioDef = {
  name: 'grpc',
  description: '50 unary calls/s for 30 s to an Echo service (loadtest/echo.proto) over h2c',
  executor: 'constant-arrival-rate',
  rate: 50,
  duration: '30s',
  preAllocatedVUs: 10,
  maxVUs: 100,
  thresholds: { checks: ['rate>0.99'], grpc_req_duration: ['p(95)<500'] },
  request: { type: 'grpc', method: 'tide.loadtest.Echo/Say', payload: 'tide' },
};
