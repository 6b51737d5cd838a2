// k6 run loadtest/websocket.ts  (TARGET, HOST: see loadtest/README.md; the service must echo text frames)
import { check } from 'k6';
import { WebSocket } from 'k6/websockets';
import { HOST, TARGET, summaryFor } from './common.ts';
import { websocket } from './scenarios/websocket.ts';
import { k6Options } from './scenarios/types.ts';

export const options = k6Options(websocket);

export function run(): void {
  const shape = websocket.request;
  if (shape.type !== 'websocket') throw new Error('websocket scenario expected');
  const ws = new WebSocket(`${TARGET.replace(/^http/, 'ws')}${shape.path}`, null, { headers: { Host: HOST } });
  let echoed = 0;
  ws.onopen = () => ws.send(`${shape.payload} 0`);
  ws.onmessage = (e) => {
    const ok = check(e?.data, { 'echo matches': (d) => d === `${shape.payload} ${echoed}` });
    echoed++;
    if (!ok || echoed >= shape.messages) ws.close();
    else ws.send(`${shape.payload} ${echoed}`);
  };
  ws.onclose = () => check(echoed, { 'every message echoed': (n) => n === shape.messages });
  ws.onerror = () => check(null, { 'no socket error': () => false });
}

export const handleSummary = summaryFor(websocket);
