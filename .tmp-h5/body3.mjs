import * as http from 'node:http';
import { fork } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createListener } from '/work/main/dist/common/http/server.js';
setFlagsFromString('--expose-gc'); const gc = runInNewContext('gc');
const mode = process.argv[2];
let port;
if (mode === 'plain') { const s = http.createServer(() => {}); await new Promise(r => s.listen(0, '127.0.0.1', r)); port = s.address().port; }
else if (mode === 'shared') { const l = createListener({ handler: () => new Promise(() => {}) }); port = await l.listen(0, '127.0.0.1'); }
else {
  const { systemClock } = await import('/work/main/dist/common/clock.js');
  const { silentLogger } = await import('/work/main/dist/common/logger.js');
  const { buildActivator } = await import('/work/main/dist/activator/app.js');
  const { StaticEndpointsSource, StaticRevisionSource } = await import('/work/main/dist/activator/static-source.js');
  const revisions = new StaticRevisionSource([{ namespace: 'default', revision: 'hello', hosts: ['hello.localhost'], containerConcurrency: 0, timeoutSeconds: 60, responseStartTimeoutSeconds: 60, idleTimeoutSeconds: 0 }]);
  globalThis.app = buildActivator({ revisions, endpoints: new StaticEndpointsSource(), stats: { report: () => Promise.resolve(), isReachable: () => true }, clock: systemClock, random: Math.random, logger: silentLogger() });
  app.start();
  const l = createListener({ handler: app.handler }); port = await l.listen(0, '127.0.0.1');
}
gc(); const m0 = process.memoryUsage();
const N = 20, SIZE = 20 * 1024 * 1024;
const c = fork('/work/main/.tmp-h5/bodyclient.cjs', [port, N, SIZE]);
const msg = await new Promise(r => c.once('message', r));
gc(); const m1 = process.memoryUsage();
console.log(mode, 'client unsent/socket MB', (msg.unsent / 1048576).toFixed(2), 'server delta/request KB', (((m1.heapUsed + m1.external + m1.arrayBuffers) - (m0.heapUsed + m0.external + m0.arrayBuffers)) / N / 1024).toFixed(1), 'rss delta MB', ((m1.rss - m0.rss)/1048576).toFixed(1));
if (globalThis.app) console.log('held', app.revisionState('default','hello').waiting); c.send('x');
process.exit(0);
