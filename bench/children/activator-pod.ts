/**
 * Bench child for `npm run bench activator`: a pod (queue-proxy stand-in) on the shared listener the real queue-proxy
 * uses (common/http/server.ts: HTTP/1.1 and h2c on one port). It answers the §b4 probe and records arrival times (epoch
 * ms, sub-ms precision) and the protocol.
 */
import { createListener } from '../../common/http/server.js';
import type { ProxyRequest, ProxyResponse } from '../../common/http/types.js';

const arrivals: number[] = [];
let h2 = 0;
const handler = (req: ProxyRequest, res: ProxyResponse): void => {
  if (req.url === '/healthz') {
    res.end('queue');
    return;
  }
  arrivals.push(performance.timeOrigin + performance.now());
  if (req.httpVersionMajor === 2) h2++;
  res.end('ok');
};
const listener = createListener({ handler });
const port = await listener.listen(0, '127.0.0.1');
process.send?.({ port });
process.on('message', (m) => {
  if (m === 'arrivals') process.send?.({ arrivals, h2 });
  if (m === 'exit') void listener.close({ timeoutMs: 100 }).finally(() => process.exit(0));
});
