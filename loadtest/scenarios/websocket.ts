import type { ScenarioDef } from './types.ts';

/** WebSocket sessions through the data plane: upgrades pass the activator and queue-proxy and echoes come back. */
export const websocket: ScenarioDef = {
  name: 'websocket',
  description: '20 VUs for 30 s, each opening a socket to an echo service, 10 messages echoed, a normal close',
  executor: 'constant-vus',
  vus: 20,
  duration: '30s',
  thresholds: { checks: ['rate>0.99'], ws_session_duration: ['p(95)<2000'] },
  request: { type: 'websocket', path: '/', messages: 10, payload: 'tide' },
};
