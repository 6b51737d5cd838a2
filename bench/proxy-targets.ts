/**
 * Child processes for bench/proxy.bench.ts, one role per process (`node proxy-targets.js <role>`):
 * `app` (a tiny app answering a 20-byte body), `undici` (a bare node:http + undici Pool forwarder), `http-proxy`
 * (a bare http-proxy forwarder) and `latency` (sequential GETs over one keep-alive connection, prints the median in µs).
 * Each server prints `listening <port>` on stdout once bound.
 */
import { createServer, Agent, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, Client, type Dispatcher } from 'undici';
import httpProxy from 'http-proxy';

const BODY = Buffer.from('tide bench response\n'); // 20 bytes
const role = process.argv[2];
const port = Number(process.env['PORT'] ?? '0');
const upstream = process.env['UPSTREAM'] ?? '127.0.0.1:8080';

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

function printPort(server: import('node:http').Server): void {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
}

function headersFrom(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP.has(k)) out[k] = v;
  return out;
}

if (role === 'app') {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
    res.end(BODY);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1', () => printPort(server));
} else if (role === 'undici') {
  // Minimal but fair: undici's low-level dispatch (no body stream objects), backpressure through resume().
  const pool = new Pool(`http://${upstream}`, { connections: null, keepAliveTimeout: 4000 });
  const server = createServer((req, res) => {
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    let resume: (() => void) | undefined;
    res.on('drain', () => resume?.());
    pool.dispatch(
      { path: req.url ?? '/', method: req.method ?? 'GET', headers: headersFrom(req.headers), body: hasBody ? req : null },
      {
        onRequestStart() {},
        onResponseStart(controller: Dispatcher.DispatchController, status: number) {
          const raw = (controller as Dispatcher.DispatchController & { rawHeaders?: Buffer[] }).rawHeaders ?? [];
          for (let i = 0; i < raw.length; i += 2) {
            const k = raw[i]!.toString('latin1').toLowerCase();
            if (!HOP.has(k)) res.setHeader(k, raw[i + 1]!.toString('latin1'));
          }
          res.statusCode = status;
          resume = () => controller.resume();
        },
        onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer) {
          if (!res.write(chunk)) controller.pause();
        },
        onResponseEnd() {
          res.end();
        },
        onResponseError() {
          if (!res.headersSent) res.writeHead(502).end();
          else res.destroy();
        },
      },
    );
  });
  server.listen(port, '127.0.0.1', () => printPort(server));
} else if (role === 'http-proxy') {
  const proxy = httpProxy.createProxyServer({ target: `http://${upstream}`, agent: new Agent({ keepAlive: true, maxSockets: Infinity }) });
  proxy.on('error', (_err, _req, res) => {
    if ('writeHead' in res && !res.headersSent) res.writeHead(502).end();
  });
  const server = createServer((req, res) => proxy.web(req, res));
  server.listen(port, '127.0.0.1', () => printPort(server));
} else if (role === 'latency') {
  // Sequential GETs on one connection for a bounded time and count; prints the median and p99 in microseconds.
  const client = new Client(`http://${upstream}`);
  const maxRequests = Number(process.env['REQUESTS'] ?? '3000');
  const maxMs = Number(process.env['MAX_MS'] ?? '3000');
  const samples: number[] = [];
  const end = Date.now() + maxMs;
  for (let i = 0; i < 200; i++) await (await client.request({ path: '/', method: 'GET' })).body.dump();
  while (samples.length < maxRequests && Date.now() < end) {
    const t = process.hrtime.bigint();
    const r = await client.request({ path: '/', method: 'GET' });
    await r.body.dump();
    samples.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number): number => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? NaN;
  process.stdout.write(`${JSON.stringify({ n: samples.length, p50us: at(0.5), p99us: at(0.99) })}\n`);
  await client.close();
} else {
  process.stderr.write(`proxy-targets: unknown role ${String(role)}\n`);
  process.exitCode = 2;
}
