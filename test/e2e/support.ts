/** End-to-end helpers: run `tide up` in-process (real activator, autoscaler, queue-proxy and app processes) and load it. */
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../common/logger.js';
import { parseTideFile } from '../../local/tide-file.js';
import { resolveTideFile } from '../../local/resolve.js';
import { startUp, type RunningUp } from '../../local/up.js';
import type { Replica } from '../../local/process/replica.js';
import { queueProxyCommand } from '../../proxy/node-flags.js';

export const HELLO_APP = fileURLToPath(new URL('../../examples/hello/server.mjs', import.meta.url));
export const TIDE_BIN = fileURLToPath(new URL('../../bin/tide.js', import.meta.url));

/**
 * tide.yaml text for the example hello app with short Knative windows (6 s stable, 2 s grace). Each test states only
 * what it is about: the app's delay, its annotations (`autoscaling.knative.dev/` is added to each key), and whether a
 * revision may start at zero.
 */
export function helloYaml(o: { delayMs: number; annotations: Record<string, string | number>; allowZeroInitialScale?: boolean; timeoutSeconds?: number }): string {
  const lines = [
    'config-autoscaler:',
    '  stable-window: 6s',
    '  scale-to-zero-grace-period: 2s',
    ...(o.allowZeroInitialScale === false ? [] : ['  allow-zero-initial-scale: "true"']),
    'services:',
    '  - name: hello',
    '    command: node',
    `    args: [${JSON.stringify(HELLO_APP)}]`,
    `    env: { DELAY_MS: "${o.delayMs}" }`,
    ...(o.timeoutSeconds === undefined ? [] : [`    timeoutSeconds: ${o.timeoutSeconds}`]),
    '    annotations:',
    ...Object.entries(o.annotations).map(([k, v]) => `      autoscaling.knative.dev/${k}: "${v}"`),
  ];
  return lines.join('\n') + '\n';
}

/** A replica event with the wall time it happened. */
export interface ReplicaEvent {
  atMs: number;
  name: string;
  phase: string;
}

export interface E2E {
  up: RunningUp;
  events: ReplicaEvent[];
  scales: { atMs: number; from: number; to: number }[];
  base: string;
  stop: () => Promise<void>;
}

/** Starts `tide up` in this process from tide.yaml text (paths in it may use HELLO_APP). */
export async function upFromYaml(yaml: string): Promise<E2E> {
  const dir = mkdtempSync(join(tmpdir(), 'tide-e2e-'));
  const parsed = parseTideFile(yaml, dir);
  if (!parsed.file || parsed.problems.length > 0) throw new Error(`bad test yaml: ${JSON.stringify(parsed.problems)}`);
  const resolved = resolveTideFile(parsed.file);
  if (resolved.problems.length > 0) throw new Error(`bad test yaml: ${JSON.stringify(resolved.problems)}`);
  const events: ReplicaEvent[] = [];
  const scales: E2E['scales'] = [];
  const up = await startUp({
    resolved,
    host: '127.0.0.1',
    port: 0,
    dashboardPort: 0,
    queueProxy: queueProxyCommand(TIDE_BIN),
    logDir: join(dir, 'logs'),
    baseEnv: { PATH: process.env['PATH'], TIDE_LOG_LEVEL: 'warn' },
    drainQuietSeconds: 1,
    logger: silentLogger(),
    onReplicaChange: (_ns, _rev, r: Replica) => events.push({ atMs: Date.now(), name: r.name, phase: r.phase }),
    onScale: (_ns, _rev, from, to) => scales.push({ atMs: Date.now(), from, to }),
  });
  let stopped = false;
  if (!(await up.settled(30_000))) {
    up.killAll();
    await up.stop();
    throw new Error('tide up did not settle in 30 s');
  }
  return {
    up,
    events,
    scales,
    base: `http://127.0.0.1:${up.frontDoorPort}`,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      const t = setTimeout(() => up.killAll(), 15_000);
      try {
        await up.stop();
      } finally {
        clearTimeout(t);
        up.killAll();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export interface Reply {
  status: number;
  body: string;
  startMs: number;
  endMs: number;
}

/** One GET through the front door with a Host header; network errors become status 0. Bounded by `timeoutMs`. */
export function get(base: string, host: string, path: string, agent: http.Agent | false = false, timeoutMs = 20_000): Promise<Reply> {
  const startMs = Date.now();
  return new Promise((resolve) => {
    const req = http.get(`${base}${path}`, { headers: { host }, agent, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, startMs, endMs: Date.now() }));
      res.on('error', () => resolve({ status: 0, body, startMs, endMs: Date.now() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, body: String(err), startMs, endMs: Date.now() }));
  });
}

/** `clients` closed loops sending GETs until `until()` is true or `maxMs` passes; returns every reply. */
export async function closedLoopLoad(opts: { base: string; host: string; path: string; clients: number; maxMs: number; until: () => boolean }): Promise<Reply[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.clients });
  const replies: Reply[] = [];
  const end = Date.now() + opts.maxMs;
  try {
    await Promise.all(
      Array.from({ length: opts.clients }, async () => {
        while (Date.now() < end && !opts.until()) replies.push(await get(opts.base, opts.host, opts.path, agent));
      }),
    );
  } finally {
    agent.destroy();
  }
  return replies;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 100 ms until true; throws after `timeoutMs`. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What a test that runs `tide up` as a child process leaves behind: the child, its folder, the replica process groups seen. */
export interface TideUpLeftovers {
  child?: ChildProcess | undefined;
  dir?: string | undefined;
  readonly pids: Set<number>;
}

/** For afterEach: kills the child if it still runs and every replica process group seen, and removes the folder. */
export function cleanUpTideUp(left: TideUpLeftovers): void {
  if (left.child && left.child.exitCode === null) left.child.kill('SIGKILL');
  for (const pid of left.pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone, as it should be
    }
  }
  left.pids.clear();
  if (left.dir) rmSync(left.dir, { recursive: true, force: true });
  left.child = undefined;
  left.dir = undefined;
}
