/**
 * The Kubernetes backend against the fake API server (test/support/kube, run in a child process with Node's
 * TypeScript transform, with the cluster simulator turning /scale into Pods and EndpointSlices):
 * - time from the first request at zero (sent to the kube activator) to the `/scale` write, and from the pods being
 *   ready (the private Service's EndpointSlice seen by the autoscaler) to the Service switch's EndpointSlice flip;
 * The fake's own round-trip latency is measured and printed, so the figures can be read against it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { AutoscalerStatsClient } from '../common/http/stats-grpc.js';
import { silentLogger } from '../common/logger.js';
import { emptyStat } from '../common/stats.js';
import { parseAutoscalerConfig } from '../autoscaler/config/autoscaler-config.js';
import { startKubeActivator } from '../kubernetes/activator-main.js';
import { startKubeAutoscaler } from '../kubernetes/autoscaler-main.js';
import { createKubeApi, loadKubeConfig, paths, type KubeApi } from '../kubernetes/client.js';
import type { EndpointSlice } from '../kubernetes/objects.js';

const ROUNDS = 5;
const POD_START_MS = 300;

const HOOK = `import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
export async function resolve(specifier, context, next) {
  if (specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
    const url = new URL(specifier, context.parentURL);
    if (url.protocol === 'file:' && !existsSync(fileURLToPath(url))) {
      const ts = new URL(specifier.replace(/\\.js$/, '.ts'), context.parentURL);
      if (existsSync(fileURLToPath(ts))) return next(ts.href, context);
    }
  }
  return next(specifier, context);
}
`;
const REGISTER = `import { register } from 'node:module';\nregister(new URL('./hook.mjs', import.meta.url));\n`;
const SERVER = `const [fakeUrl, simUrl, dir, delay] = process.argv.slice(2);
const { startFakeApiServer } = await import(fakeUrl);
const { startClusterSimulator } = await import(simUrl);
const fake = await startFakeApiServer({ namespaces: ['default', 'tide-system'], historyLimit: 20000 });
const sim = startClusterSimulator(fake, { startDelayMs: Number(delay) });
process.send({ kubeconfig: fake.writeKubeconfig(dir) });
process.on('message', async (m) => { if (m === 'stop') { await sim.stop(); await fake.close(); process.exit(0); } });
`;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
const ms = (x: number): string => `${x.toFixed(1)} ms`;

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`bench kube: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function deployment(name: string, annotations: Record<string, string>): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default', labels: { app: name, 'tide.dev/managed': 'true' }, annotations },
    spec: { replicas: 0, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'app' }] } } },
  };
}

function service(name: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: 'default',
      labels: { 'tide.dev/managed': 'true' },
      annotations: { 'tide.dev/deployment': name, 'tide.dev/original-selector': JSON.stringify({ app: name }) },
    },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  };
}

async function startFake(dir: string): Promise<{ child: ChildProcess; kubeconfig: string }> {
  writeFileSync(join(dir, 'hook.mjs'), HOOK);
  writeFileSync(join(dir, 'register.mjs'), REGISTER);
  writeFileSync(join(dir, 'server.mjs'), SERVER);
  const support = (f: string): string => new URL(`../../test/support/kube/${f}`, import.meta.url).href;
  const child = fork(join(dir, 'server.mjs'), [support('fake-apiserver.ts'), support('simulator.ts'), dir, String(POD_START_MS)], {
    execArgv: ['--experimental-transform-types', '--no-warnings', '--import', join(dir, 'register.mjs')],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const kubeconfig = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { kubeconfig: string }) => resolve(m.kubeconfig));
    child.once('exit', (code) => reject(new Error(`fake API server exited (${code})`)));
  });
  return { child, kubeconfig };
}

export default async function run(log: (line: string) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tide-bench-kube-'));
  const { child, kubeconfig } = await startFake(dir);
  try {
    const api = createKubeApi(loadKubeConfig({ kind: 'kubeconfig', file: kubeconfig }).kc);
    // The fake's own latency: one GET round trip (TLS keep-alive), median of 50.
    const rtt: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      await api.get('/version');
      rtt.push(performance.now() - t);
    }
    log(`fake API server (child process, HTTPS): GET round trip median ${ms(median(rtt))}; pods start ${POD_START_MS} ms after their creation`);
    await coldStart(api, log);
    // 1,000 Deployments: left out of this version (the fake API server timed out creating them 25 at a time).
  } finally {
    child.send('stop');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** First request at zero → /scale write, and pods ready → switch flip, over ROUNDS fresh Deployments. */
async function coldStart(api: KubeApi, log: (line: string) => void): Promise<void> {
  const { config } = parseAutoscalerConfig({ 'stable-window': '6s', 'scale-to-zero-grace-period': '30s' });
  const writes: { atMs: number; method: string; path: string; body: unknown }[] = [];
  const recording: KubeApi = {
    ...api,
    create: (p, b) => (writes.push({ atMs: performance.now(), method: 'POST', path: p, body: b }), api.create(p, b)),
    replace: (p, b) => (writes.push({ atMs: performance.now(), method: 'PUT', path: p, body: b }), api.replace(p, b)),
    patch: (p, b, t) => (writes.push({ atMs: performance.now(), method: 'PATCH', path: p, body: b }), api.patch(p, b, t)),
  };
  const autoscaler = await startKubeAutoscaler({
    api: recording,
    namespace: 'default',
    systemNamespace: 'tide-system',
    identity: 'bench',
    podIp: '127.0.0.1',
    host: '127.0.0.1',
    statsPort: 0,
    httpPort: 0,
    config,
    logger: silentLogger(),
    // Simulated pods listen nowhere: they report idle.
    scraper: (address) => Promise.resolve({ ...emptyStat(address), timestampMs: Date.now() }),
    lease: { durationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 500 },
  });
  const stats = new AutoscalerStatsClient(autoscaler.servers.statsAddress);
  const activator = await startKubeActivator({
    api,
    namespace: 'default',
    systemNamespace: 'tide-system',
    podIp: '127.0.0.1',
    autoscaler: autoscaler.servers.statsAddress,
    host: '127.0.0.1',
    port: 0,
    metricsPort: 0,
    logger: silentLogger(),
    config: { drainDelayMs: 0 },
    stats,
  });
  await api.create(paths.services('tide-system'), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'tide-activator', namespace: 'tide-system' }, spec: { ports: [{ name: 'http', port: 8012 }] } });
  await api.create(paths.endpointSlices('tide-system'), {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'tide-activator-0', namespace: 'tide-system', labels: { 'kubernetes.io/service-name': 'tide-activator', 'endpointslice.kubernetes.io/managed-by': 'bench' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    ports: [{ name: 'http', port: activator.port }],
  });
  await until('leader', () => autoscaler.elector.isLeader());
  const toScale: number[] = [];
  const toFlip: number[] = [];
  const readyAt = new Map<string, number>();
  autoscaler.backend.slices.on({
    update: (s) => seeReady(s),
    add: (s) => seeReady(s),
  });
  function seeReady(s: EndpointSlice): void {
    const svc = s.metadata.labels?.['kubernetes.io/service-name'] ?? '';
    if (!svc.endsWith('-private') || readyAt.has(svc)) return;
    if ((s.endpoints ?? []).some((e) => e.conditions?.ready !== false)) readyAt.set(svc, performance.now());
  }
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const name = `cold-${i}`;
      await api.create(paths.deployments('default'), deployment(name, { 'tide.dev/container-concurrency': '10', 'autoscaling.knative.dev/target-burst-capacity': '0' }));
      await api.create(paths.services('default'), service(name));
      const slicePath = paths.endpointSlice('default', `${name}-tide`);
      await until(`${name}: switch on the activator`, async () => {
        try {
          const s = await api.get<EndpointSlice>(slicePath);
          return (s.endpoints ?? []).some((e) => e.addresses[0] === '127.0.0.1');
        } catch {
          return false;
        }
      });
      await until(`${name}: activator knows it`, () => activator.sources.byName('default', name) !== undefined);
      const abort = new AbortController();
      const t0 = performance.now();
      const req = request(`http://127.0.0.1:${activator.port}/`, { headers: { host: `${name}.default.svc` }, signal: abort.signal }).catch(() => undefined);
      await until(`${name}: /scale write`, () => writes.some((w) => w.path.endsWith(`/deployments/${name}/scale`) && w.atMs >= t0));
      toScale.push(writes.find((w) => w.path.endsWith(`/deployments/${name}/scale`) && w.atMs >= t0)!.atMs - t0);
      abort.abort();
      await req;
      const flipped = (): { atMs: number } | undefined =>
        writes.find((w) => w.path.includes(`/endpointslices`) && (w.body as EndpointSlice).metadata.name === `${name}-tide` && ((w.body as EndpointSlice).endpoints ?? []).some((e) => e.addresses[0] !== '127.0.0.1'));
      await until(`${name}: switch flipped to the pods`, () => flipped() !== undefined && readyAt.has(`${name}-private`));
      toFlip.push(flipped()!.atMs - readyAt.get(`${name}-private`)!);
    }
  } finally {
    await activator.shutdown();
    stats.close();
    await autoscaler.close();
  }
  log(`first request at zero → /scale write: median ${ms(median(toScale))} over ${ROUNDS} rounds (${toScale.map((x) => x.toFixed(0)).join(', ')} ms)`);
  log(
    `pods ready (private EndpointSlice seen) → switch EndpointSlice written: median ${ms(median(toFlip))} (${toFlip.map((x) => x.toFixed(0)).join(', ')} ms);` +
      ` the autoscaler decides serve mode on its 2 s decider tick`,
  );
}
