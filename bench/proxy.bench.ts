/**
 * `npm run bench proxy`: Tide's queue-proxy side by side with a direct connection, a bare undici-Pool proxy, a bare
 * http-proxy proxy, and nginx/haproxy when installed. Each proxy runs alone in a child process pinned to core 1 (taskset);
 * the app, autocannon and the latency client share core 0. Prints ratios measured in this one run, and each goal met/missed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromRoot } from '../common/paths.js';

type Log = (line: string) => void;

const here = dirname(fileURLToPath(import.meta.url));
const TARGETS = join(here, 'proxy-targets.js');
const TIDE = fromRoot('bin', 'tide.js');
const AUTOCANNON = fromRoot('node_modules', 'autocannon', 'autocannon.js');
const LOAD_SECONDS = Number(process.env['BENCH_SECONDS'] ?? '3');
const CONNECTIONS = 50;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? '2');

function onPath(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const TASKSET = onPath('taskset');
const pinned = (core: number, cmd: string, args: string[]): [string, string[]] => (TASKSET ? [TASKSET, ['-c', String(core), cmd, ...args]] : [cmd, args]);

const children = new Set<ChildProcess>();
function start(core: number, cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const [c, a] = pinned(core, cmd, args);
  const child = spawn(c, a, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function waitForLine(child: ChildProcess, re: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${String(re)}; output: ${buf.slice(-500)}`)), timeoutMs);
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const m = buf.match(re);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve(m);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ${String(re)}; output: ${buf.slice(-500)}`));
    });
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const addr = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof addr === 'object' && addr ? addr.port : 0;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/** utime + stime of a process in seconds (Linux /proc); undefined elsewhere. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / CLK_TCK;
  } catch {
    return undefined;
  }
}
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Peak resident set (VmHWM) in MB. */
function peakRssMb(pid: number): number | undefined {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface LoadResult {
  rps: number;
  requests: number;
  errors: number;
  non2xx: number;
}

async function autocannon(port: number, connections: number, seconds: number): Promise<LoadResult> {
  const child = start(0, process.execPath, [AUTOCANNON, '-c', String(connections), '-d', String(seconds), '-j', '-t', '5', `http://127.0.0.1:${port}/`]);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((r) => child.once('exit', () => r()));
  const j = JSON.parse(out) as { requests: { average: number; total: number }; errors: number; timeouts: number; non2xx: number };
  return { rps: j.requests.average, requests: j.requests.total, errors: j.errors + j.timeouts, non2xx: j.non2xx };
}

async function medianLatencyUs(port: number): Promise<{ p50us: number; p99us: number; n: number }> {
  const child = start(0, process.execPath, [TARGETS, 'latency'], { UPSTREAM: `127.0.0.1:${port}`, REQUESTS: '3000', MAX_MS: '3000' });
  const m = await waitForLine(child, /(\{.*\})\n/, 20_000);
  return JSON.parse(m[1]!) as { p50us: number; p99us: number; n: number };
}

interface Target {
  name: string;
  start(appPort: number): Promise<{ port: number; child: ChildProcess; cleanup?: () => void }>;
}

async function waitForOk(port: number, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/`);
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} never answered 200`);
}

const nodeTarget = (name: string, role: string): Target => ({
  name,
  async start(appPort) {
    const child = start(1, process.execPath, [TARGETS, role], { UPSTREAM: `127.0.0.1:${appPort}`, PORT: '0' });
    const m = await waitForLine(child, /listening (\d+)/);
    return { port: Number(m[1]), child };
  },
});

const tideTarget: Target = {
  name: 'tide queue-proxy',
  async start(appPort) {
    const port = await freePort();
    const child = start(1, process.execPath, [TIDE, 'queue-proxy'], {
      CONTAINER_CONCURRENCY: '100',
      QUEUE_SERVING_PORT: String(port),
      USER_PORT: String(appPort),
      REVISION_TIMEOUT_SECONDS: '300',
      SERVING_NAMESPACE: 'bench',
      SERVING_CONFIGURATION: 'bench',
      SERVING_REVISION: 'bench-00001',
      SERVING_POD: 'bench-00001-pod',
      SERVING_POD_IP: '127.0.0.1',
      TIDE_BIND_HOST: '127.0.0.1',
      TIDE_ADMIN_PORT: '0',
      TIDE_STATS_PORT: '0',
      TIDE_METRICS_PORT: '0',
      TIDE_DRAIN_QUIET_SECONDS: '0',
      TIDE_LOG_LEVEL: 'warn',
    });
    await waitForOk(port);
    return { port, child };
  },
};

function nginxTarget(bin: string): Target {
  return {
    name: 'nginx',
    async start(appPort) {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'tide-bench-nginx-'));
      writeFileSync(
        join(dir, 'nginx.conf'),
        `daemon off; worker_processes 1; error_log stderr error; pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http { access_log off; upstream app { server 127.0.0.1:${appPort}; keepalive 64; }
  server { listen 127.0.0.1:${port}; location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } } }\n`,
      );
      const child = start(1, bin, ['-p', dir, '-c', join(dir, 'nginx.conf')]);
      await waitForOk(port);
      return { port, child, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
    },
  };
}

function haproxyTarget(bin: string): Target {
  return {
    name: 'haproxy',
    async start(appPort) {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'tide-bench-haproxy-'));
      writeFileSync(
        join(dir, 'haproxy.cfg'),
        `global\n  nbthread 1\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n  option http-keep-alive\nfrontend f\n  bind 127.0.0.1:${port}\n  default_backend b\nbackend b\n  server app 127.0.0.1:${appPort}\n`,
      );
      const child = start(1, bin, ['-f', join(dir, 'haproxy.cfg'), '-db']);
      await waitForOk(port);
      return { port, child, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
    },
  };
}

interface Row {
  name: string;
  load: LoadResult;
  cpuUsPerRequest: number | undefined;
  latency: { p50us: number; p99us: number };
  peakRssMb: number | undefined;
}

const fmt = (n: number | undefined, d = 2): string => (n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(d));

export default async function bench(log: Log): Promise<void> {
  if (!existsSync(TARGETS)) throw new Error(`missing ${TARGETS}: run through npm run bench`);
  log(TASKSET ? 'pinning: each proxy alone on core 1; app, autocannon and the latency client on core 0 (taskset)' : 'taskset not found: processes are NOT pinned; ratios are noisier');
  log(`load: autocannon ${CONNECTIONS} connections × ${LOAD_SECONDS} s (after a 1 s warm-up), 20-byte GET; latency: 1 connection, sequential, ≤3000 requests; best of ${ROUNDS} alternating rounds`);
  const targets: Target[] = [tideTarget, nodeTarget('bare undici proxy', 'undici'), nodeTarget('bare http-proxy', 'http-proxy')];
  const nginx = onPath('nginx');
  const haproxy = onPath('haproxy');
  if (nginx) targets.push(nginxTarget(nginx));
  else log('nginx: not on PATH, skipped');
  if (haproxy) targets.push(haproxyTarget(haproxy));
  else log('haproxy: not on PATH, skipped');

  const app = start(0, process.execPath, [TARGETS, 'app'], { PORT: '0' });
  const rows: Row[] = [];
  const running: { name: string; port: number; child: ChildProcess | undefined; cleanup?: () => void }[] = [];
  try {
    const appPort = Number((await waitForLine(app, /listening (\d+)/))[1]);
    running.push({ name: 'direct', port: appPort, child: undefined });
    for (const t of targets) running.push({ name: t.name, ...(await t.start(appPort)) });
    // Rounds alternate between targets so a burst of load from elsewhere on the machine hits all of them alike;
    // each figure is the best of its rounds.
    for (const r of running) rows.push({ name: r.name, load: { rps: 0, requests: 0, errors: 0, non2xx: 0 }, cpuUsPerRequest: undefined, latency: { p50us: Infinity, p99us: Infinity }, peakRssMb: undefined });
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, r] of running.entries()) {
        const row = rows[i]!;
        await autocannon(r.port, CONNECTIONS, 1);
        const before = r.child ? cpuSeconds(r.child.pid!) : undefined;
        const load = await autocannon(r.port, CONNECTIONS, LOAD_SECONDS);
        const after = r.child ? cpuSeconds(r.child.pid!) : undefined;
        const cpu = before !== undefined && after !== undefined && load.requests > 0 ? ((after - before) * 1e6) / load.requests : undefined;
        if (load.rps > row.load.rps) row.load = { ...load, errors: row.load.errors + load.errors, non2xx: row.load.non2xx + load.non2xx };
        else row.load = { ...row.load, errors: row.load.errors + load.errors, non2xx: row.load.non2xx + load.non2xx };
        if (cpu !== undefined && (row.cpuUsPerRequest === undefined || cpu < row.cpuUsPerRequest)) row.cpuUsPerRequest = cpu;
        const lat = await medianLatencyUs(r.port);
        if (lat.p50us < row.latency.p50us) row.latency = lat;
      }
    }
    for (const [i, r] of running.entries()) if (r.child) rows[i]!.peakRssMb = peakRssMb(r.child.pid!);
  } finally {
    for (const r of running) {
      if (r.child) await stop(r.child);
      r.cleanup?.();
    }
    await stop(app);
    for (const c of children) c.kill('SIGKILL');
  }

  const direct = rows[0]!;
  const bare = rows.find((r) => r.name === 'bare undici proxy');
  log('');
  log('target              req/s     ×direct  ×undici  errors  non2xx  CPU µs/req  p50 µs  +p50 µs  p99 µs  peak RSS MB');
  for (const r of rows) {
    log(
      [
        r.name.padEnd(18),
        fmt(r.load.rps, 0).padStart(8),
        fmt(r.load.rps / direct.load.rps).padStart(8),
        (bare ? fmt(r.load.rps / bare.load.rps) : 'n/a').padStart(8),
        String(r.load.errors).padStart(7),
        String(r.load.non2xx).padStart(7),
        fmt(r.cpuUsPerRequest, 1).padStart(11),
        fmt(r.latency.p50us, 0).padStart(7),
        fmt(r.latency.p50us - direct.latency.p50us, 0).padStart(8),
        fmt(r.latency.p99us, 0).padStart(7),
        fmt(r.peakRssMb, 1).padStart(12),
      ].join(' '),
    );
  }
  const tide = rows.find((r) => r.name === 'tide queue-proxy');
  const hp = rows.find((r) => r.name === 'bare http-proxy');
  if (!tide) return;
  const goal = (label: string, value: number | undefined, ok: boolean | undefined): void =>
    log(`goal ${label}: ${fmt(value)} → ${ok === undefined ? 'unknown' : ok ? 'met' : 'MISSED'}`);
  log('');
  const vsBare = bare ? tide.load.rps / bare.load.rps : undefined;
  const vsHp = hp ? tide.load.rps / hp.load.rps : undefined;
  const addedMs = (tide.latency.p50us - direct.latency.p50us) / 1000;
  goal('throughput ≥ 0.9× bare undici', vsBare, vsBare === undefined ? undefined : vsBare >= 0.9);
  goal('throughput ≥ 1.5× http-proxy', vsHp, vsHp === undefined ? undefined : vsHp >= 1.5);
  goal('added median latency ≤ 0.3 ms (ms)', addedMs, addedMs <= 0.3);
  if (bare) log(`added median latency over the bare undici proxy's: ${fmt((tide.latency.p50us - bare.latency.p50us) / 1000, 3)} ms (any extra hop costs the bare one ${fmt((bare.latency.p50us - direct.latency.p50us) / 1000, 3)} ms here)`);
  if (bare?.cpuUsPerRequest !== undefined && tide.cpuUsPerRequest !== undefined && hp?.cpuUsPerRequest !== undefined) {
    // On a shared machine throughput swings with other load; CPU per request is steadier. Capacity when the proxy's core
    // is the bottleneck is inversely proportional to it.
    log(`CPU-bound capacity (less noisy): ${fmt(bare.cpuUsPerRequest / tide.cpuUsPerRequest)}× bare undici, ${fmt(hp.cpuUsPerRequest / tide.cpuUsPerRequest)}× http-proxy`);
  }
  goal('peak RSS ≤ 100 MB (MB)', tide.peakRssMb, tide.peakRssMb === undefined ? undefined : tide.peakRssMb <= 100);
  const errors = rows.reduce((n, r) => n + r.load.errors + r.load.non2xx, 0);
  if (errors > 0) log(`warning: ${errors} errors or non-2xx responses during the runs (see table)`);
}
