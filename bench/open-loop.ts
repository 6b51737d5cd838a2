/**
 * Open-model load for the end-to-end benches (`node open-loop.js` in a child process of its own): requests are sent at
 * fixed times, RATE per second for SECONDS, whatever happens to earlier ones, and each latency is counted from its
 * *scheduled* start, so time the client spent waiting to send counts too (no coordinated omission). Each load prints
 * one JSON line: every request's scheduled offset (ms), latency (ms) and status (0 = error).
 *
 * Two modes:
 * - one load (default): env TARGET (host:port), HOST (Host header, optional), RATE, SECONDS; runs once and exits. The
 *   client is itself a fresh process (cold JIT, no connections yet), which is what the warm-up control measures.
 * - SERVE=1: a long-lived client that runs one load per JSON line on stdin (`{"target":"127.0.0.1:8080","host":"x",
 *   "rate":1000,"seconds":3}`) and keeps one keep-alive agent per target between loads, so rounds after the first
 *   measure the hops, not the client starting.
 */
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';

export interface LoadSpec {
  target: string;
  host?: string | undefined;
  rate: number;
  seconds: number;
}

const agents = new Map<string, Agent>();
function agentFor(target: string): Agent {
  let a = agents.get(target);
  if (!a) {
    a = new Agent({ keepAlive: true, maxSockets: Infinity });
    agents.set(target, a);
  }
  return a;
}

function load(spec: LoadSpec): Promise<string> {
  const [host = '127.0.0.1', portText = '0'] = spec.target.split(':');
  const total = Math.round(spec.rate * spec.seconds);
  const agent = agentFor(spec.target);
  const offsets = new Float64Array(total);
  const latencies = new Float64Array(total);
  const statuses = new Uint16Array(total);
  const headers = spec.host ? { host: spec.host } : {};
  let done = 0;
  const t0 = performance.now() + 20;
  return new Promise((resolve) => {
    const send = (i: number): void => {
      const scheduled = t0 + (i * 1000) / spec.rate;
      offsets[i] = scheduled - t0;
      const finish = (status: number): void => {
        latencies[i] = performance.now() - scheduled;
        statuses[i] = status;
        if (++done === total) {
          resolve(JSON.stringify({ offsets: [...offsets].map((x) => Math.round(x)), latencies: [...latencies].map((x) => Math.round(x * 100) / 100), statuses: [...statuses] }));
        }
      };
      const req = request({ host, port: Number(portText), path: '/', agent, headers }, (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode ?? 0));
        res.on('error', () => finish(0));
      });
      req.setTimeout(10_000, () => req.destroy());
      req.on('error', () => finish(0));
      req.end();
    };
    let next = 0;
    const tick = (): void => {
      const now = performance.now();
      while (next < total && t0 + (next * 1000) / spec.rate <= now) send(next++);
      if (next < total) setTimeout(tick, 1);
    };
    setTimeout(tick, 20);
  });
}

if (process.env['SERVE'] === '1') {
  // One load at a time, in order; stdin closing ends the process.
  let queue = Promise.resolve();
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const spec = JSON.parse(line) as LoadSpec;
    queue = queue.then(async () => {
      process.stdout.write(`${await load(spec)}\n`);
    });
  });
  lines.on('close', () => {
    void queue.then(() => {
      for (const a of agents.values()) a.destroy();
    });
  });
} else {
  const spec: LoadSpec = {
    target: process.env['TARGET'] ?? '127.0.0.1:0',
    host: process.env['HOST'],
    rate: Number(process.env['RATE'] ?? '1000'),
    seconds: Number(process.env['SECONDS'] ?? '3'),
  };
  void load(spec).then((line) => {
    process.stdout.write(`${line}\n`);
    for (const a of agents.values()) a.destroy();
  });
}
