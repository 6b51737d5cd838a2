/** The activator's settings: defaults, and the static `--config` file (revisions, hosts, CC, timeouts, endpoints). */
import { ConfigError, type ConfigProblem } from '../common/errors.js';
import type { Endpoint, RevisionInfo } from './endpoints.js';

export interface ActivatorConfig {
  /** Requests that may wait for one revision at once; more → 503 + Retry-After. Knative: 10 000 (breaker depth). */
  readonly maxWaitingPerRevision: number;
  /** Requests that may wait over all revisions at once; more → 503 + Retry-After (Tide only). */
  readonly maxWaitingTotal: number;
  /** Body bytes waiting requests may hold over all revisions; more → 503 + Retry-After (Tide only). */
  readonly maxHeldBodyBytes: number;
  /**
   * Bytes a waiting request with a body is counted for. Nothing reads a held request's body, so the activator holds at
   * most what node reads before backpressure stops the socket: the request stream's buffer plus the socket's read
   * chunks (measured: ~145 KB per held request with a 20 MB body, the rest stays with the sender); this is that bound.
   */
  readonly heldBodyBytesPerRequest: number;
  /** `Retry-After` seconds on a 503 for a full queue. */
  readonly retryAfterSeconds: number;
  /** §b4 re-probe period for unverified pods (Knative PROBE_FREQUENCY 200 ms). */
  readonly probeIntervalMs: number;
  /** §b4 per-probe timeout (Knative PROBE_TIMEOUT 300 ms). */
  readonly probeTimeoutMs: number;
  /** §b4: use pods the backend calls ready without probing them first (Knative outside mesh mode). */
  readonly trustReadyEndpoints: boolean;
  /** §b5 report period. */
  readonly statsIntervalMs: number;
  /** Pod name in the activator's stats. */
  readonly podName: string;
  /** §b2: after SIGTERM, how long readiness fails before the listener stops accepting (Knative 45 s). */
  readonly drainDelayMs: number;
  /** §b3: this activator's index among the revision's activators (−1 = use every pod) and how many there are. */
  readonly activatorIndex: number;
  readonly numActivators: number;
  /** Pods one request may try when the connection fails before anything was sent (Tide only). */
  readonly maxDispatchAttempts: number;
  /** Upstream connect timeout. */
  readonly connectTimeoutMs: number;
  /**
   * How HTTP/1.x clients' requests (not upgrades) go to pods; h2 clients' always go as h2c. `http1`: an HTTP/1.1
   * keep-alive connection per concurrent request, as Knative's activator does for HTTP/1 revisions. `h2c` (Tide only):
   * HTTP/2 streams over a few cleartext connections per pod; the queue-proxy sends them on to the app as HTTP/1.1.
   * `auto` (default, Tide only): h2c for requests that waited for capacity and are released together (a burst from zero
   * would otherwise open a connection each), HTTP/1.1 for the rest (cheaper per request once connections are warm).
   */
  readonly upstreamProtocol: UpstreamProtocol;
  /**
   * New connections to one pod that may be unconfirmed at once (connecting, or not yet answered and younger than
   * 20 ms); more wait their turn, so a burst does not overflow the pod's accept queue (dropped SYNs are retried only
   * after 1 s). 0 = no pacing.
   */
  readonly maxNewConnectionsPerPod: number;
  /** §b2 fallbacks when a revision gives no timeout: 300 / 300 / 0 s. */
  readonly fallbackTimeoutSeconds: number;
  readonly fallbackResponseStartTimeoutSeconds: number;
  readonly fallbackIdleTimeoutSeconds: number;
}

export type UpstreamProtocol = 'auto' | 'http1' | 'h2c';
export const UPSTREAM_PROTOCOLS: readonly UpstreamProtocol[] = ['auto', 'http1', 'h2c'];

export const DEFAULTS: Readonly<ActivatorConfig> = Object.freeze({
  maxWaitingPerRevision: 10_000,
  maxWaitingTotal: 20_000,
  maxHeldBodyBytes: 256 * 1024 * 1024,
  heldBodyBytesPerRequest: 160 * 1024,
  retryAfterSeconds: 1,
  probeIntervalMs: 200,
  probeTimeoutMs: 300,
  trustReadyEndpoints: false,
  statsIntervalMs: 1000,
  podName: 'activator',
  drainDelayMs: 45_000,
  activatorIndex: -1,
  numActivators: 1,
  maxDispatchAttempts: 3,
  connectTimeoutMs: 5_000,
  upstreamProtocol: 'auto',
  maxNewConnectionsPerPod: 128,
  fallbackTimeoutSeconds: 300,
  fallbackResponseStartTimeoutSeconds: 300,
  fallbackIdleTimeoutSeconds: 0,
});

type NumKey = { [K in keyof ActivatorConfig]: ActivatorConfig[K] extends number ? K : never }[keyof ActivatorConfig];
const NUMBER_RANGES: Record<NumKey, [number, number]> = {
  maxWaitingPerRevision: [1, 10_000_000],
  maxWaitingTotal: [1, 10_000_000],
  maxHeldBodyBytes: [0, 1024 ** 4],
  heldBodyBytesPerRequest: [0, 1024 ** 3],
  retryAfterSeconds: [0, 3600],
  probeIntervalMs: [1, 60_000],
  probeTimeoutMs: [1, 60_000],
  statsIntervalMs: [10, 60_000],
  drainDelayMs: [0, 600_000],
  activatorIndex: [-1, 10_000],
  numActivators: [1, 10_000],
  maxDispatchAttempts: [1, 100],
  connectTimeoutMs: [1, 600_000],
  maxNewConnectionsPerPod: [0, 100_000],
  fallbackTimeoutSeconds: [1, 3600],
  fallbackResponseStartTimeoutSeconds: [0, 3600],
  fallbackIdleTimeoutSeconds: [0, 3600],
};

/** Checks and completes partial settings (`where` prefixes the key in problems, e.g. `activator.`). */
export function resolveActivatorConfig(partial: Partial<ActivatorConfig> = {}, where = ''): Readonly<ActivatorConfig> {
  const problems: ConfigProblem[] = [];
  const out: Record<string, unknown> = { ...DEFAULTS };
  for (const [key, value] of Object.entries(partial)) {
    if (value === undefined) continue;
    if (!(key in DEFAULTS)) {
      problems.push({ key: where + key, message: 'unknown setting' });
      continue;
    }
    const def = (DEFAULTS as unknown as Record<string, unknown>)[key];
    if (typeof def === 'number') {
      const [min, max] = NUMBER_RANGES[key as NumKey];
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        problems.push({ key: where + key, message: `expected an integer in [${min}, ${max}], got ${JSON.stringify(value)}` });
        continue;
      }
    } else if (typeof def !== typeof value || (typeof value === 'string' && value === '')) {
      problems.push({ key: where + key, message: `expected a ${typeof def}, got ${JSON.stringify(value)}` });
      continue;
    } else if (key === 'upstreamProtocol' && !(UPSTREAM_PROTOCOLS as readonly unknown[]).includes(value)) {
      problems.push({ key: where + key, message: `expected one of ${UPSTREAM_PROTOCOLS.join(', ')}, got ${JSON.stringify(value)}` });
      continue;
    }
    out[key] = value;
  }
  if (problems.length > 0) throw new ConfigError('activator config', problems);
  return Object.freeze(out as unknown as ActivatorConfig);
}

/** One revision of the static file, with its endpoints and initial mode. */
export interface StaticRevision {
  readonly info: RevisionInfo;
  readonly endpoints: readonly Endpoint[];
  readonly mode: 'serve' | 'proxy';
}

export interface StaticConfig {
  readonly revisions: readonly StaticRevision[];
  readonly settings: Partial<ActivatorConfig>;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/**
 * Parses the static file (already YAML/JSON-decoded). Format:
 * ```yaml
 * activator: { maxWaitingPerRevision: 1000 }      # optional, any ActivatorConfig key
 * revisions:
 *   - namespace: default
 *     revision: hello-00001
 *     hosts: [hello.default.svc.cluster.local, hello.localhost]
 *     containerConcurrency: 1                     # default 0 (unlimited)
 *     timeoutSeconds: 300                         # default 300
 *     responseStartTimeoutSeconds: 300            # default = timeoutSeconds
 *     idleTimeoutSeconds: 0                       # default 0 (off)
 *     mode: proxy                                 # or serve; default proxy
 *     endpoints:
 *       - { name: hello-1, address: "127.0.0.1:9001", ready: true }
 * ```
 * Every problem is reported at once, naming the key path (`revisions[0].containerConcurrency`).
 */
export function parseStaticConfig(doc: unknown): StaticConfig {
  const problems: ConfigProblem[] = [];
  const p = (key: string, message: string): void => void problems.push({ key, message });
  if (!isObject(doc)) throw new ConfigError('activator config', [{ key: '(root)', message: 'expected an object with a revisions list' }]);
  let settings: Partial<ActivatorConfig> = {};
  if (doc['activator'] !== undefined) {
    if (!isObject(doc['activator'])) p('activator', 'expected an object');
    else {
      try {
        resolveActivatorConfig(doc['activator'], 'activator.');
        settings = doc['activator'];
      } catch (err) {
        if (err instanceof ConfigError) problems.push(...err.problems);
        else throw err;
      }
    }
  }
  for (const k of Object.keys(doc)) if (k !== 'activator' && k !== 'revisions') p(k, 'unknown key');
  const revs = doc['revisions'];
  const revisions: StaticRevision[] = [];
  if (!Array.isArray(revs)) p('revisions', 'expected a list');
  else {
    const seenHosts = new Map<string, string>();
    const seenNames = new Set<string>();
    revs.forEach((r: unknown, i) => {
      const at = `revisions[${i}]`;
      if (!isObject(r)) return p(at, 'expected an object');
      const nsRaw = r['namespace'] ?? 'default';
      const nameRaw = r['revision'];
      const ns = typeof nsRaw === 'string' ? nsRaw : '';
      const name = typeof nameRaw === 'string' ? nameRaw : '';
      if (!DNS_LABEL.test(ns)) p(`${at}.namespace`, 'expected a DNS label');
      if (!DNS_LABEL.test(name)) p(`${at}.revision`, 'expected a DNS label');
      const key = `${ns}/${name}`;
      if (seenNames.has(key)) p(`${at}.revision`, `duplicate revision ${key}`);
      seenNames.add(key);
      const hostsRaw = r['hosts'] ?? [];
      const hosts: string[] = [];
      if (!Array.isArray(hostsRaw)) p(`${at}.hosts`, 'expected a list of host names');
      else
        hostsRaw.forEach((h: unknown, j) => {
          if (typeof h !== 'string' || h === '' || /[\s/@:]/.test(h)) return p(`${at}.hosts[${j}]`, 'expected a host name without port');
          const lower = h.toLowerCase();
          const other = seenHosts.get(lower);
          if (other !== undefined && other !== key) p(`${at}.hosts[${j}]`, `host ${lower} already routes to ${other}`);
          seenHosts.set(lower, key);
          hosts.push(lower);
        });
      const int = (k: string, fallback: number, min: number, max: number): number => {
        const v = r[k];
        if (v === undefined) return fallback;
        if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
          p(`${at}.${k}`, `expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
          return fallback;
        }
        return v;
      };
      const cc = int('containerConcurrency', 0, 0, 1000);
      const timeout = int('timeoutSeconds', 300, 1, 3600);
      const rst = int('responseStartTimeoutSeconds', timeout, 0, 3600);
      const idle = int('idleTimeoutSeconds', 0, 0, 3600);
      const mode = r['mode'] ?? 'proxy';
      if (mode !== 'proxy' && mode !== 'serve') p(`${at}.mode`, 'expected proxy or serve');
      const epsRaw = r['endpoints'] ?? [];
      const endpoints: Endpoint[] = [];
      if (!Array.isArray(epsRaw)) p(`${at}.endpoints`, 'expected a list');
      else
        epsRaw.forEach((e: unknown, j) => {
          const eat = `${at}.endpoints[${j}]`;
          if (!isObject(e)) return p(eat, 'expected an object');
          const address = e['address'];
          const m = typeof address === 'string' ? ADDRESS.exec(address) : null;
          if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) return p(`${eat}.address`, 'expected host:port');
          const epName = e['name'] ?? address;
          if (typeof epName !== 'string') return p(`${eat}.name`, 'expected a string');
          const ready = e['ready'] ?? true;
          if (typeof ready !== 'boolean') return p(`${eat}.ready`, 'expected true or false');
          endpoints.push({ name: epName, address: address as string, ready });
        });
      for (const k of Object.keys(r)) {
        if (!STATIC_REVISION_KEYS.has(k)) p(`${at}.${k}`, 'unknown key');
      }
      revisions.push({
        info: {
          namespace: ns,
          revision: name,
          hosts,
          containerConcurrency: cc,
          timeoutSeconds: timeout,
          responseStartTimeoutSeconds: rst,
          idleTimeoutSeconds: idle,
        },
        endpoints,
        mode: mode === 'serve' ? 'serve' : 'proxy',
      });
    });
  }
  if (problems.length > 0) throw new ConfigError('activator config', problems);
  return { revisions, settings };
}

const STATIC_REVISION_KEYS = new Set([
  'namespace',
  'revision',
  'hosts',
  'containerConcurrency',
  'timeoutSeconds',
  'responseStartTimeoutSeconds',
  'idleTimeoutSeconds',
  'mode',
  'endpoints',
]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
