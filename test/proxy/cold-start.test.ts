/**
 * Cold path (issue 15): the queue-proxy never loads gRPC or protobuf (its stats server is common/http/queue-stats-server.ts
 * over node:http2), and does not load prom-client before its first readiness answer when the app is already up; the stats
 * scrape and the Prometheus scrape both work after it. Checked on the order of module loads in a real `tide queue-proxy`
 * child (the unbundled build, where each dependency is its own file), not on time.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { QueueStatsClient } from '../../common/http/stats-grpc.js';
import { fromRoot } from '../../common/paths.js';
import { freePorts } from '../../local/process/ports.js';
import { BASE_ENV, startApp, type TestApp } from './fixtures.js';
import { waitFor } from '../local/support.js';

const RECORDER = fileURLToPath(new URL('./fixtures/load-recorder.mjs', import.meta.url));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

const PROBE = { 'user-agent': 'kube-probe/1.31', 'k-network-probe': 'queue' };
const isGrpcOrProtobuf = (l: string): boolean => /^load .*node_modules\/(@grpc\/|protobufjs\/|@protobufjs\/)/.test(l);
const isPromClient = (l: string): boolean => /^load .*node_modules\/prom-client\//.test(l);

describe('queue-proxy start-up loads only what the serving port needs', () => {
  it('no gRPC or protobuf module ever, no prom-client before the first 200 readiness answer; stats and metrics answer after it', async () => {
    const app: TestApp = await startApp();
    cleanups.push(() => app.close());
    const [serving, metrics, stats] = (await freePorts(3)) as [number, number, number];
    const child: ChildProcess = spawn(process.execPath, ['--import', RECORDER, fromRoot('dist', 'cli', 'entry.js'), 'queue-proxy'], {
      env: { ...process.env, ...BASE_ENV, USER_PORT: String(app.port), QUEUE_SERVING_PORT: String(serving), TIDE_METRICS_PORT: String(metrics), TIDE_STATS_PORT: String(stats), TIDE_LOG_LEVEL: 'info', TIDE_WARM_UP_MS: '500' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    cleanups.push(() => {
      child.kill('SIGKILL');
    });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));

    await waitFor(async () => (await get(serving, '/', PROBE)).status === 200, 15_000, 'the first ready answer');
    const client = new QueueStatsClient(`127.0.0.1:${stats}`);
    cleanups.push(() => client.close());
    expect((await client.scrape(5000)).podName).toBe(BASE_ENV['SERVING_POD']);
    const scrape = await get(metrics, '/metrics');
    expect(scrape.status).toBe(200);
    expect(scrape.body).toContain('revision_request_count{');

    const lines = err.split('\n');
    const ready = lines.indexOf('ready-answered');
    expect(ready).toBeGreaterThan(0);
    // The serving path itself was loaded before it (not vacuous: undici, the forwarder, is there).
    expect(lines.slice(0, ready).some((l) => /^load .*node_modules\/undici\//.test(l))).toBe(true);
    expect(lines.filter(isGrpcOrProtobuf)).toEqual([]);
    // prom-client: loaded ahead only while an app is still starting (proxy/main.ts); this app answered its first probe
    // long before the 500 ms warm-up ended, so it is loaded at the first scrape.
    expect(err).not.toContain('prom-client loaded ahead');
    expect(lines.slice(0, ready).filter(isPromClient)).toEqual([]);
    expect(lines.some(isPromClient)).toBe(true);
  });
});

describe('the bundled queue-proxy (cli/bundle.ts, built with dist/)', () => {
  it('is one entry file that runs `tide queue-proxy` with the CLI\'s error handling', () => {
    const r = spawnSync(process.execPath, [fromRoot('dist', 'queue-proxy', 'tide-queue-proxy.js'), 'queue-proxy'], { encoding: 'utf8', env: { PATH: process.env['PATH'] }, timeout: 15_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^tide queue-proxy: invalid configuration:\n {2}USER_PORT: is required/);
  });
});
