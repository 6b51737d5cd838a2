/**
 * Test rig for the Kubernetes backend against the fake API server: a KubeApi on it, the objects `tide inject` would
 * leave (a managed Deployment, its prepared Service, the activator's Service and EndpointSlice), pods that behave
 * like a queue-proxy on their own loopback address (probe, requests, gRPC stats), and a "kube-proxy" client that
 * sends each request to an endpoint of a Service's current EndpointSlices.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { createListener } from '../../common/http/server.js';
import { serveQueueStats } from '../../common/http/queue-stats-server.js';
import { emptyStat, type Stat } from '../../common/stats.js';
import { createKubeApi, loadKubeConfig, type KubeApi } from '../../kubernetes/client.js';
import { AutoscalerStatsClient } from '../../common/http/stats-grpc.js';
import { createLogger, silentLogger } from '../../common/logger.js';

/** TIDE_TEST_LOG=debug shows the components' logs while debugging a test. */
const testLogger = (name: string) => (process.env['TIDE_TEST_LOG'] ? createLogger(name, process.env['TIDE_TEST_LOG']) : silentLogger());
import { parseAutoscalerConfig } from '../../autoscaler/config/autoscaler-config.js';
import { startKubeActivator, type RunningKubeActivator } from '../../kubernetes/activator-main.js';
import { startKubeAutoscaler, type RunningKubeAutoscaler } from '../../kubernetes/autoscaler-main.js';
import { startFakeApiServer, type FakeApiServer, type KubeObject } from '../support/kube/fake-apiserver.js';
import { startClusterSimulator, type ClusterSimulator, type PodFactory, type PodInstance } from '../support/kube/simulator.js';

export const SYSTEM_NS = 'tide-system';

/** A KubeApi speaking to `fake` through a kubeconfig file, as `--kubeconfig` would. */
export function kubeApiFor(fake: FakeApiServer): { api: KubeApi; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tide-kube-'));
  const file = fake.writeKubeconfig(dir);
  const { kc } = loadKubeConfig({ kind: 'kubeconfig', file });
  return { api: createKubeApi(kc, { requestTimeoutMs: 2000 }), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A Deployment as `tide inject` leaves it: labelled managed, pods labelled app=<name>. */
export function managedDeployment(name: string, opts: { namespace?: string; replicas?: number; annotations?: Record<string, string>; managed?: boolean } = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: opts.namespace ?? 'default',
      labels: opts.managed === false ? { app: name } : { app: name, 'tide.dev/managed': 'true' },
      annotations: { 'tide.dev/injected': 'test', ...opts.annotations },
    },
    spec: {
      replicas: opts.replicas ?? 0,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'app' }] } },
    },
  };
}

/** The user's Service as `tide inject` prepares it: selector moved to an annotation, selector-less. */
export function preparedService(name: string, deployment: string, namespace = 'default'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace,
      labels: { 'tide.dev/managed': 'true' },
      annotations: {
        'tide.dev/deployment': deployment,
        'tide.dev/original-selector': JSON.stringify({ app: deployment }),
        'tide.dev/original-target-ports': JSON.stringify({ http: 8080 }),
      },
    },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
  };
}

/** The activator's Service and the EndpointSlices Kubernetes would keep for it (one per address). */
export function activatorObjects(addresses: { ip: string; port: number; ready?: boolean }[]): KubeObject[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'tide-activator', namespace: SYSTEM_NS },
      // Selector-less here, so the simulator's EndpointSlice controller leaves the slices below alone (in a cluster
      // the selector picks the activator pods and Kubernetes writes the same slices).
      spec: { ports: [{ name: 'http', port: 8012, targetPort: 8012 }] },
    },
    ...addresses.map((a, i) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `tide-activator-${i}`,
        namespace: SYSTEM_NS,
        // Not the controller's managed-by: the simulator deletes controller slices of selector-less Services.
        labels: { 'kubernetes.io/service-name': 'tide-activator', 'endpointslice.kubernetes.io/managed-by': 'test-rig' },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [a.ip], conditions: { ready: a.ready ?? true, serving: a.ready ?? true, terminating: false }, targetRef: { kind: 'Pod', name: `activator-${i}` } }],
      ports: [{ name: 'http', port: a.port, protocol: 'TCP' }],
    })),
  ];
}

/** A pod of the simulator: a queue-proxy stand-in on `ip`, serving port and gRPC stats port. */
export interface TestPod {
  readonly name: string;
  readonly ip: string;
  readonly inFlight: number;
  readonly maxInFlight: number;
  readonly served: number;
}

/**
 * Pods that listen on the simulator's loopback address: answer the activator's probe like a queue-proxy, answer
 * requests after `delayMs` (x-pod names the pod), and serve their load as a queue-proxy's stats over gRPC (the
 * autoscaler's real scraper reads them). Container ports 8012 (serving) and 9090 (stats) map to the bound ports.
 */
export function podFactory(opts: { delayMs?: number } = {}): PodFactory & { pods: Map<string, TestPod> } {
  const pods = new Map<string, TestPod>();
  return {
    pods,
    async start({ name, ip }): Promise<PodInstance> {
      let inFlight = 0;
      let maxInFlight = 0;
      let served = 0;
      let started = 0;
      // Concurrency integrated over time since the last scrape (what a queue-proxy reports).
      let areaMs = 0;
      let lastChangeMs = Date.now();
      let periodStartMs = Date.now();
      const bootMs = Date.now();
      const change = (d: number): void => {
        const now = Date.now();
        areaMs += inFlight * (now - lastChangeMs);
        lastChangeMs = now;
        inFlight += d;
        maxInFlight = Math.max(maxInFlight, inFlight);
      };
      const listener = createListener({
        handler: (req, res) => {
          if (req.url === '/healthz' && req.headers['k-network-probe'] === 'queue') {
            (res as http.ServerResponse).writeHead(200).end('queue');
            return;
          }
          change(+1);
          started++;
          let done = false;
          const t = setTimeout(() => {
            done = true;
            change(-1);
            served++;
            (res as http.ServerResponse).writeHead(200, { 'content-type': 'text/plain', 'x-pod': name }).end(name);
          }, opts.delayMs ?? 0);
          req.resume();
          res.on('close', () => {
            if (done) return;
            clearTimeout(t);
            done = true;
            change(-1);
          });
        },
      });
      const port = await listener.listen(0, ip);
      const stats = await serveQueueStats((): Stat => {
        const now = Date.now();
        areaMs += inFlight * (now - lastChangeMs);
        lastChangeMs = now;
        const period = Math.max(1, now - periodStartMs);
        const s: Stat = {
          ...emptyStat(name),
          averageConcurrentRequests: areaMs / period,
          requestCount: (started * 1000) / period,
          processUptimeSeconds: (now - bootMs) / 1000,
          timestampMs: now,
        };
        areaMs = 0;
        started = 0;
        periodStartMs = now;
        return s;
      }, { host: ip, port: 0 });
      pods.set(name, {
        name,
        ip,
        get inFlight() {
          return inFlight;
        },
        get maxInFlight() {
          return maxInFlight;
        },
        get served() {
          return served;
        },
      });
      return {
        port,
        ports: { '8012': port, '9090': stats.port, '80': port },
        async stop() {
          await listener.close({ timeoutMs: 0 });
          await stats.close(0);
        },
      };
    },
  };
}

/** Endpoints (`ip:port`) the Service's EndpointSlices list as ready now (what kube-proxy would program). */
export function serviceEndpoints(fake: FakeApiServer, namespace: string, service: string): string[] {
  const out: string[] = [];
  for (const s of fake.list('discovery.k8s.io/v1', 'EndpointSlice', namespace)) {
    if (s.metadata.labels?.['kubernetes.io/service-name'] !== service) continue;
    const port = (s['ports'] as { port?: number }[] | undefined)?.[0]?.port;
    for (const e of (s['endpoints'] as { addresses: string[]; conditions?: { ready?: boolean } }[] | undefined) ?? []) {
      if (e.conditions?.ready === false || port === undefined) continue;
      out.push(`${e.addresses[0]}:${port}`);
    }
  }
  return out.sort();
}

export interface ClientResult {
  status: number;
  /** The pod that answered, from x-pod. */
  pod: string | undefined;
  /** Where kube-proxy sent it. */
  via: string;
  error?: string;
}

/** One request to Service `service`, through one of its ready endpoints picked at random, Host set as DNS would. */
export async function callService(fake: FakeApiServer, namespace: string, service: string, timeoutMs = 20_000): Promise<ClientResult> {
  const eps = serviceEndpoints(fake, namespace, service);
  if (eps.length === 0) return { status: 0, pod: undefined, via: '', error: 'no endpoints' };
  const via = eps[Math.floor(Math.random() * eps.length)]!;
  try {
    const res = await request(`http://${via}/`, {
      headers: { host: `${service}.${namespace}.svc.cluster.local` },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    await res.body.text();
    const pod = res.headers['x-pod'];
    return { status: res.statusCode, pod: typeof pod === 'string' ? pod : undefined, via };
  } catch (err) {
    return { status: 0, pod: undefined, via, error: (err as { code?: string }).code ?? (err as Error).message };
  }
}

/** Polls `check` every 25 ms until it returns true; throws naming `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => boolean, timeoutMs = 10_000): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - start;
}

/** Requests to the fake that wrote (not GET). */
export function writesTo(fake: FakeApiServer, pathPart: string, method?: string): { method: string; path: string; body?: unknown; status: number; user?: string; atMs: number }[] {
  return fake.requests.filter((r) => r.method !== 'GET' && (method === undefined || r.method === method) && r.path.includes(pathPart));
}

/** Autoscaler config for tests: Knative's shortest stable window and a short grace period, so idle → zero is seconds. */
export const FAST_CONFIG = {
  'stable-window': '6s',
  'scale-to-zero-grace-period': '2s',
  'scale-down-delay': '0s',
} as const;

export interface Rig {
  readonly fake: FakeApiServer;
  readonly api: KubeApi;
  readonly sim: ClusterSimulator;
  readonly pods: Map<string, TestPod>;
  readonly activator: RunningKubeActivator;
  readonly autoscalers: RunningKubeAutoscaler[];
  /** Starts one more autoscaler replica (identity `as-N`). */
  addAutoscaler(identity: string): Promise<RunningKubeAutoscaler>;
  close(): Promise<void>;
}

/**
 * The fake API server, the simulator with queue-proxy-like pods, one kube activator (its Service's EndpointSlice
 * written as Kubernetes would) and `autoscalers` kube autoscaler replicas, all on loopback.
 */
export async function startRig(
  opts: {
    autoscalers?: number;
    startDelayMs?: number;
    podDelayMs?: number;
    lease?: { durationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
    /** Wraps the KubeApi each autoscaler replica uses (to record who wrote what). */
    wrapApi?: (api: KubeApi, identity: string) => KubeApi;
  } = {},
): Promise<Rig> {
  const fake = await startFakeApiServer({ namespaces: ['default', SYSTEM_NS] });
  const { api, cleanup } = kubeApiFor(fake);
  const factory = podFactory({ delayMs: opts.podDelayMs ?? 20 });
  const sim = startClusterSimulator(fake, { startDelayMs: opts.startDelayMs ?? 300, pods: factory });
  const { config } = parseAutoscalerConfig(FAST_CONFIG);
  const autoscalers: RunningKubeAutoscaler[] = [];
  // The activator reports to whichever autoscaler replica the Service would pick: the first one here.
  const statsProxy = { target: undefined as AutoscalerStatsClient | undefined };
  const activator = await startKubeActivator({
    api,
    namespace: undefined,
    systemNamespace: SYSTEM_NS,
    podIp: '127.0.0.1',
    autoscaler: 'unused:1',
    host: '127.0.0.1',
    port: 0,
    metricsPort: 0,
    logger: testLogger('activator'),
    config: { drainDelayMs: 0 },
    stats: {
      report: (stats) => statsProxy.target?.report(stats) ?? Promise.resolve(),
      isReachable: () => true,
    },
  });
  for (const o of activatorObjects([{ ip: '127.0.0.1', port: activator.port }])) fake.apply(o);
  const addAutoscaler = async (identity: string): Promise<RunningKubeAutoscaler> => {
    const a = await startKubeAutoscaler({
      api: opts.wrapApi ? opts.wrapApi(api, identity) : api,
      namespace: undefined,
      systemNamespace: SYSTEM_NS,
      identity,
      podIp: '127.0.0.1',
      host: '127.0.0.1',
      statsPort: 0,
      httpPort: 0,
      config,
      logger: testLogger(identity),
      lease: opts.lease ?? { durationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 },
    });
    autoscalers.push(a);
    statsProxy.target ??= new AutoscalerStatsClient(a.servers.statsAddress);
    return a;
  };
  for (let i = 0; i < (opts.autoscalers ?? 1); i++) await addAutoscaler(`as-${i}`);
  return {
    fake,
    api,
    sim,
    pods: factory.pods,
    activator,
    autoscalers,
    addAutoscaler,
    async close() {
      for (const a of autoscalers) await a.close({ release: false });
      await activator.shutdown();
      statsProxy.target?.close();
      await sim.stop();
      await fake.close();
      cleanup();
    },
  };
}

/** The leader among `autoscalers`, if exactly one thinks it leads. */
export function leaderOf(autoscalers: readonly RunningKubeAutoscaler[]): RunningKubeAutoscaler | undefined {
  const leaders = autoscalers.filter((a) => a.elector.isLeader());
  return leaders.length === 1 ? leaders[0] : undefined;
}
