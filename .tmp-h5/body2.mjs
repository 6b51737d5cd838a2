import * as net from 'node:net';
import * as http from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createListener } from '/work/main/dist/common/http/server.js';
setFlagsFromString('--expose-gc'); const gc = runInNewContext('gc');
const mode = process.argv[2];
let port;
if (mode === 'plain') { const s = http.createServer(() => {}); await new Promise(r => s.listen(0, '127.0.0.1', r)); port = s.address().port; }
else { const l = createListener({ handler: () => new Promise(() => {}) }); port = await l.listen(0, '127.0.0.1'); }
gc(); const m0 = process.memoryUsage();
const N = 20, SIZE = 5 * 1024 * 1024;
const socks = [];
for (let i = 0; i < N; i++) { const s = net.connect(port, '127.0.0.1', () => { s.write(`POST / HTTP/1.1\r\nHost: hello.localhost\r\nContent-Length: ${SIZE}\r\n\r\n`); s.write(Buffer.alloc(SIZE, 120)); }); s.on('error', () => {}); socks.push(s); }
await new Promise(r => setTimeout(r, 1500));
gc(); const m1 = process.memoryUsage();
console.log(mode, 'unsent/socket MB', (socks.reduce((a, s) => a + s.writableLength, 0) / N / 1048576).toFixed(2), 'delta/request KB', (((m1.heapUsed + m1.external + m1.arrayBuffers) - (m0.heapUsed + m0.external + m0.arrayBuffers)) / N / 1024).toFixed(1));
process.exit(0);
