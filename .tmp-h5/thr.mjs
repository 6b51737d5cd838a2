import * as http from 'node:http';
import autocannon from 'autocannon';
import { systemClock } from '/work/main/dist/common/clock.js';
import { createListener } from '/work/main/dist/common/http/server.js';
import { createForwarder } from '/work/main/dist/common/http/forward.js';
import { silentLogger } from '/work/main/dist/common/logger.js';
import { buildActivator } from '/work/main/dist/activator/app.js';
import { StaticEndpointsSource, StaticRevisionSource } from '/work/main/dist/activator/static-source.js';
const server = http.createServer((req, res) => res.end(req.url === '/healthz' ? 'queue' : 'ok'));
await new Promise(r => server.listen(0, '127.0.0.1', r));
const addr = `127.0.0.1:${server.address().port}`;
const mode = process.argv[2];
let handler;
if (mode === 'fwd') {
  const f = createForwarder({});
  handler = (req, res, startMs) => f.forward(req, res, { upstream: addr, startMs });
} else {
  const revisions = new StaticRevisionSource([{ namespace: 'default', revision: 'hello', hosts: ['hello.localhost'], containerConcurrency: 0, timeoutSeconds: 60, responseStartTimeoutSeconds: 60, idleTimeoutSeconds: 0 }]);
  const endpoints = new StaticEndpointsSource();
  const app = buildActivator({ revisions, endpoints, stats: { report: () => Promise.resolve(), isReachable: () => true }, clock: systemClock, random: Math.random, logger: silentLogger() });
  app.start();
  endpoints.set('default', 'hello', [{ name: 'p', address: addr, ready: true }]);
  handler = app.handler;
}
const l = createListener({ handler });
const port = await l.listen(0, '127.0.0.1');
await new Promise(r => setTimeout(r, 200));
const r = await autocannon({ url: `http://127.0.0.1:${port}/`, connections: 32, duration: 3, headers: { host: 'hello.localhost' } });
console.log(mode, r.requests.average, r.non2xx, r.errors);
process.exit(0);
