/**
 * `npm run bench proxy`: Tide's queue-proxy side by side with a direct connection, a bare undici-Pool proxy, a bare
 * http-proxy proxy, and nginx/haproxy when installed. Each proxy runs alone in a child process pinned to core 1 (taskset);
 * the app, autocannon and the latency client share core 0. Targets are measured in interleaved short rounds
 * (A,B,C,A,B,C,…) and every figure is a median over rounds, ratios taken within a round, so noise from the rest of the
 * machine hits all targets alike. Prints CPU µs per request, ratios measured in this one run, and each goal met/missed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromRoot } from '../common/paths.js';
import { QUEUE_PROXY_NODE_FLAGS, queueProxyCommand } from '../proxy/node-flags.js';

type Log = (line: string) => void;

const here = dirname(fileURLToPath(import.meta.url));
const TARGETS = join(here, 'proxy-targets.js');
const TIDE = fromRoot('bin', 'tide.js');
const AUTOCANNON = fromRoot('node_modules', 'autocannon', 'autocannon.js');
const LOAD_SECONDS = Number(process.env['BENCH_SECONDS'] ?? '2');
const CONNECTIONS = 50;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? '5');
const LATENCY_REQUESTS = 2000;

function onPath(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** taskset's path, when installed: children are pinned to a core with `pinned`. */
export const TASKSET = onPath('taskset');
export const pinned = (core: number, cmd: string, args: string[]): [string, string[]] => (TASKSET ? [TASKSET, ['-c', String(core), cmd, ...args]] : [cmd, args]);

const children = new Set<ChildProcess>();
export function start(core: number, cmd: string, args: string[], env: Record<string, string> = {}, stdin: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  const [c, a] = pinned(core, cmd, args);
  const child = spawn(c, a, { env: { ...process.env, ...env }, stdio: [stdin, 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

export function waitForLine(child: ChildProcess, re: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
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

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const addr = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof addr === 'object' && addr ? addr.port : 0;
}

/**
 * BENCH_TIDE_BASELINE: another built checkout's bin/tide.js, run beside this build for a before/after comparison on
 * the same machine minute (the proxy, startup and e2e-latency benches). Undefined when unset; throws when the file is
 * missing.
 */
export function baselineTide(): string | undefined {
  const baseline = process.env['BENCH_TIDE_BASELINE'];
  if (baseline === undefined || baseline === '') return undefined;
  if (!existsSync(baseline)) throw new Error(`BENCH_TIDE_BASELINE: ${baseline} does not exist (a built checkout's bin/tide.js)`);
  return baseline;
}

export async function stop(child: ChildProcess): Promise<void> {
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

/** A memory figure from /proc/<pid>/status in MB: `VmRSS` (now) or `VmHWM` (peak). */
function procMemoryMb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+) kB`));
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
  const child = start(0, process.execPath, [TARGETS, 'latency'], { UPSTREAM: `127.0.0.1:${port}`, REQUESTS: String(LATENCY_REQUESTS), MAX_MS: '1500' });
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
    // The same runtime settings as the queue-proxy (proxy/node-flags.ts), so the ratios measure Tide's features alone.
    const child = start(1, process.execPath, [...QUEUE_PROXY_NODE_FLAGS, TARGETS, role], { UPSTREAM: `127.0.0.1:${appPort}`, PORT: '0' });
    const m = await waitForLine(child, /listening (\d+)/);
    return { port: Number(m[1]), child };
  },
});

/**
 * Tide's queue-proxy as shipped by `tideBin` (this checkout's bin/tide.js, or another built checkout's for a
 * before/after comparison in one run: BENCH_TIDE_BASELINE=/path/to/checkout/bin/tide.js).
 */
const tideTarget = (name: string, tideBin: string): Target => ({
  name,
  async start(appPort) {
    const port = await freePort();
    // As shipped: the launch flags every launcher passes (proxy/node-flags.ts).
    const [node, ...args] = queueProxyCommand(tideBin);
    const child = start(1, node, args, {
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
});

/**
 * Go's `httputil.ReverseProxy` (bench/go-proxy/main.go, our own few lines), built into `.cache/` when `go` is on PATH.
 * Knative's queue-proxy is built on it, so this is the bar for the Go core.
 */
function goTarget(goBin: string): Target | undefined {
  const out = fromRoot('.cache', 'bench-go-proxy');
  try {
    execFileSync(goBin, ['build', '-o', out, 'main.go'], { cwd: fromRoot('bench', 'go-proxy'), stdio: 'pipe', env: { ...process.env, GO111MODULE: 'off', GOCACHE: fromRoot('.cache', 'go-build') } });
  } catch (err) {
    console.log(`go reverse proxy: build failed, skipped (${(err as Error).message.split('\n')[0]})`);
    return undefined;
  }
  return {
    name: 'go httputil.ReverseProxy',
    async start(appPort) {
      const child = start(1, out, [`127.0.0.1:${appPort}`]);
      const m = await waitForLine(child, /listening (\d+)/);
      return { port: Number(m[1]), child };
    },
  };
}

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

interface Round {
  load: LoadResult;
  cpuUsPerRequest: number | undefined;
  latency: { p50us: number; p99us: number };
}

interface Row {
  name: string;
  rounds: Round[];
  restRssMb: number | undefined;
  peakRssMb: number | undefined;
}

const fmt = (n: number | undefined, d = 2): string => (n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(d));

/** Median of the defined, finite values; undefined if none. */
export function median(values: readonly (number | undefined)[]): number | undefined {
  const v = values.filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : ((v[mid - 1] ?? 0) + (v[mid] ?? 0)) / 2;
}

/** Per-round ratios a/b (same round, so machine noise hits both alike). */
function roundRatios(a: Row, b: Row, pick: (r: Round) => number | undefined): number[] {
  return a.rounds
    .map((r, i) => {
      const x = pick(r);
      const y = b.rounds[i] ? pick(b.rounds[i]) : undefined;
      return x !== undefined && y !== undefined && y > 0 ? x / y : undefined;
    })
    .filter((v): v is number => v !== undefined);
}

/** The median of the per-round ratios a/b. */
function roundRatio(a: Row, b: Row, pick: (r: Round) => number | undefined): number | undefined {
  return median(roundRatios(a, b, pick));
}

/** The spread of the per-round ratios a/b, as `min–max`. */
function ratioSpread(a: Row, b: Row, pick: (r: Round) => number | undefined): string {
  const v = roundRatios(a, b, pick);
  return v.length === 0 ? 'n/a' : `${fmt(Math.min(...v))}–${fmt(Math.max(...v))}`;
}

export default async function bench(log: Log): Promise<void> {
  if (!existsSync(TARGETS)) throw new Error(`missing ${TARGETS}: run through npm run bench`);
  log(`node flags for every node proxy (the queue-proxy's, proxy/node-flags.ts): ${QUEUE_PROXY_NODE_FLAGS.join(' ') || '(none)'}`);
  log(TASKSET ? 'pinning: each proxy alone on core 1; app, autocannon and the latency client on core 0 (taskset)' : 'taskset not found: processes are NOT pinned; ratios are noisier');
  log(
    `load: autocannon ${CONNECTIONS} connections × ${LOAD_SECONDS} s, 20-byte GET; latency: 1 connection, sequential, ≤${LATENCY_REQUESTS} requests; ` +
      `${ROUNDS} interleaved rounds (every target once per round, start rotating), medians reported (BENCH_ROUNDS, BENCH_SECONDS)`,
  );
  const targets: Target[] = [tideTarget('tide queue-proxy', TIDE), nodeTarget('bare undici proxy', 'undici'), nodeTarget('bare http-proxy', 'http-proxy')];
  const baseline = baselineTide();
  if (baseline) {
    targets.push(tideTarget('tide baseline', baseline));
    log(`baseline: tide queue-proxy from ${baseline}`);
  }
  const go = onPath('go');
  const goProxy = go ? goTarget(go) : undefined;
  if (goProxy) targets.push(goProxy);
  else if (!go) log('go httputil.ReverseProxy: `go` not on PATH (apt-get install golang-go), skipped');
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
    for (const r of running) rows.push({ name: r.name, rounds: [], restRssMb: r.child ? procMemoryMb(r.child.pid!, 'VmRSS') : undefined, peakRssMb: undefined });
    // One warm-up per target (JIT, upstream connections), then rounds A,B,C,… with a rotating start, so a burst of load
    // from elsewhere on the machine hits every target alike; each figure is the median of its rounds.
    for (const r of running) await autocannon(r.port, CONNECTIONS, 1);
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < running.length; k++) {
        const i = (k + round) % running.length;
        const r = running[i]!;
        const before = r.child ? cpuSeconds(r.child.pid!) : undefined;
        const load = await autocannon(r.port, CONNECTIONS, LOAD_SECONDS);
        const after = r.child ? cpuSeconds(r.child.pid!) : undefined;
        // 0 = the work happened in processes we do not measure (nginx's worker is a child of the master): n/a.
        const cpu = before !== undefined && after !== undefined && after > before && load.requests > 0 ? ((after - before) * 1e6) / load.requests : undefined;
        const lat = await medianLatencyUs(r.port);
        rows[i]!.rounds[round] = { load, cpuUsPerRequest: cpu, latency: lat };
      }
    }
    for (const [i, r] of running.entries()) if (r.child) rows[i]!.peakRssMb = procMemoryMb(r.child.pid!, 'VmHWM');
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
  const tide = rows.find((r) => r.name === 'tide queue-proxy');
  const hp = rows.find((r) => r.name === 'bare http-proxy');
  const rps = (r: Round): number => r.load.rps;
  const cpuOf = (r: Round): number | undefined => r.cpuUsPerRequest;
  const p50 = (r: Row): number | undefined => median(r.rounds.map((x) => x.latency.p50us));
  log('');
  log('medians of ' + String(ROUNDS) + ' rounds; ×direct/×undici are per-round ratios (median, and the min–max spread over rounds); CPU cap. = bare undici CPU µs/req ÷ this one\'s');
  log('target                     req/s   ×direct  ×undici  ×undici spread  errors  non2xx  CPU µs/req  CPU cap.  p50 µs  +p50 µs  p99 µs  rest RSS MB  peak RSS MB');
  const directP50 = p50(direct);
  for (const r of rows) {
    const errors = r.rounds.reduce((n, x) => n + x.load.errors, 0);
    const non2xx = r.rounds.reduce((n, x) => n + x.load.non2xx, 0);
    const cpu = median(r.rounds.map(cpuOf));
    const cap = bare && r.name !== 'direct' ? roundRatio(bare, r, cpuOf) : undefined;
    const rp50 = p50(r);
    log(
      [
        r.name.padEnd(25),
        fmt(median(r.rounds.map(rps)), 0).padStart(7),
        fmt(roundRatio(r, direct, rps)).padStart(8),
        (bare ? fmt(roundRatio(r, bare, rps)) : 'n/a').padStart(8),
        (bare ? ratioSpread(r, bare, rps) : 'n/a').padStart(15),
        String(errors).padStart(7),
        String(non2xx).padStart(7),
        fmt(cpu, 1).padStart(11),
        fmt(cap).padStart(9),
        fmt(rp50, 0).padStart(7),
        fmt(rp50 !== undefined && directP50 !== undefined ? rp50 - directP50 : undefined, 0).padStart(8),
        fmt(median(r.rounds.map((x) => x.latency.p99us)), 0).padStart(7),
        fmt(r.restRssMb, 1).padStart(12),
        fmt(r.peakRssMb, 1).padStart(12),
      ].join(' '),
    );
  }
  if (!tide) return;
  const goal = (label: string, value: number | undefined, ok: boolean | undefined): void =>
    log(`goal ${label}: ${fmt(value)} → ${ok === undefined ? 'unknown' : ok ? 'met' : 'MISSED'}`);
  log('');
  const vsBare = bare ? roundRatio(tide, bare, rps) : undefined;
  const vsHp = hp ? roundRatio(tide, hp, rps) : undefined;
  // On a shared machine throughput swings with other load; CPU per request is steadier. Capacity when the proxy's core is
  // the bottleneck is inversely proportional to it.
  const capBare = bare ? roundRatio(bare, tide, cpuOf) : undefined;
  const capHp = hp ? roundRatio(hp, tide, cpuOf) : undefined;
  goal('throughput ≥ 0.9× bare undici (req/s ratio)', vsBare, vsBare === undefined ? undefined : vsBare >= 0.9);
  goal('throughput ≥ 0.9× bare undici (CPU-bound capacity ratio, steadier)', capBare, capBare === undefined ? undefined : capBare >= 0.9);
  goal('throughput ≥ 1.5× http-proxy (req/s ratio)', vsHp, vsHp === undefined ? undefined : vsHp >= 1.5);
  goal('throughput ≥ 1.5× http-proxy (CPU-bound capacity ratio, steadier)', capHp, capHp === undefined ? undefined : capHp >= 1.5);
  const goRow = rows.find((r) => r.name === 'go httputil.ReverseProxy');
  if (goRow) {
    log(`against Go's httputil.ReverseProxy (the next target): ×${fmt(roundRatio(tide, goRow, rps))} by req/s (rounds ${ratioSpread(tide, goRow, rps)}), ×${fmt(roundRatio(goRow, tide, cpuOf))} by CPU per request (rounds ${ratioSpread(goRow, tide, cpuOf)})`);
  }
  const baseRow = rows.find((r) => r.name === 'tide baseline');
  if (baseRow) {
    log(`against the baseline checkout: ×${fmt(roundRatio(tide, baseRow, rps))} by req/s (rounds ${ratioSpread(tide, baseRow, rps)}), ×${fmt(roundRatio(baseRow, tide, cpuOf))} by CPU per request (rounds ${ratioSpread(baseRow, tide, cpuOf)}); above 1 is faster than the baseline`);
  }
  const tideP50 = p50(tide);
  const addedMs = tideP50 !== undefined && directP50 !== undefined ? (tideP50 - directP50) / 1000 : undefined;
  goal('added median latency ≤ 0.3 ms (ms)', addedMs, addedMs === undefined ? undefined : addedMs <= 0.3);
  const bareP50 = bare ? p50(bare) : undefined;
  if (bareP50 !== undefined && tideP50 !== undefined && directP50 !== undefined) {
    log(`added median latency over the bare undici proxy's: ${fmt((tideP50 - bareP50) / 1000, 3)} ms (any extra hop costs the bare one ${fmt((bareP50 - directP50) / 1000, 3)} ms here)`);
  }
  const cpuTide = median(tide.rounds.map(cpuOf));
  log(`CPU per request (median): tide ${fmt(cpuTide, 1)} µs` + (bare ? `, bare undici ${fmt(median(bare.rounds.map(cpuOf)), 1)} µs` : '') + (hp ? `, http-proxy ${fmt(median(hp.rounds.map(cpuOf)), 1)} µs` : ''));
  goal('peak RSS ≤ 100 MB (MB)', tide.peakRssMb, tide.peakRssMb === undefined ? undefined : tide.peakRssMb <= 100);
  if (tide.restRssMb !== undefined && tide.peakRssMb !== undefined) {
    log(`tide RSS: ${fmt(tide.restRssMb, 1)} MB at rest (node + imported modules), +${fmt(tide.peakRssMb - tide.restRssMb, 1)} MB under load (V8 heap growth)` + (bare?.peakRssMb !== undefined && bare.restRssMb !== undefined ? `; bare undici: ${fmt(bare.restRssMb, 1)} at rest, +${fmt(bare.peakRssMb - bare.restRssMb, 1)} under load` : ''));
  }
  const errors = rows.reduce((n, r) => n + r.rounds.reduce((m, x) => m + x.load.errors + x.load.non2xx, 0), 0);
  if (errors > 0) log(`warning: ${errors} errors or non-2xx responses during the runs (see table)`);
}
