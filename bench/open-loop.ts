/**
 * Open-model load for the end-to-end benches (`node open-loop.js` in a child process of its own): requests are sent at
 * fixed times, RATE per second for SECONDS, whatever happens to earlier ones, and each latency is counted from its
 * *scheduled* start, so time the client spent waiting to send counts too (no coordinated omission). Env: TARGET
 * (host:port), HOST (Host header, optional), RATE, SECONDS. Prints one JSON line: every request's scheduled offset
 * (ms), latency (ms) and status (0 = error).
 */
import { Agent, request } from 'node:http';

const [host = '127.0.0.1', portText = '0'] = (process.env['TARGET'] ?? '').split(':');
const hostHeader = process.env['HOST'];
const rate = Number(process.env['RATE'] ?? '1000');
const seconds = Number(process.env['SECONDS'] ?? '3');
const total = Math.round(rate * seconds);
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
const offsets = new Float64Array(total);
const latencies = new Float64Array(total);
const statuses = new Uint16Array(total);
let done = 0;
const t0 = performance.now() + 20;

function send(i: number): void {
  const scheduled = t0 + (i * 1000) / rate;
  offsets[i] = scheduled - t0;
  const finish = (status: number): void => {
    latencies[i] = performance.now() - scheduled;
    statuses[i] = status;
    if (++done === total) report();
  };
  const req = request({ host, port: Number(portText), path: '/', agent, headers: hostHeader ? { host: hostHeader } : {} }, (res) => {
    res.resume();
    res.on('end', () => finish(res.statusCode ?? 0));
    res.on('error', () => finish(0));
  });
  req.setTimeout(10_000, () => req.destroy());
  req.on('error', () => finish(0));
  req.end();
}

let next = 0;
function tick(): void {
  const now = performance.now();
  while (next < total && t0 + (next * 1000) / rate <= now) send(next++);
  if (next < total) setTimeout(tick, 1);
}

function report(): void {
  process.stdout.write(`${JSON.stringify({ offsets: [...offsets].map((x) => Math.round(x)), latencies: [...latencies].map((x) => Math.round(x * 100) / 100), statuses: [...statuses] })}\n`);
  agent.destroy();
}

setTimeout(tick, 20);
