/** The queue-proxy's configuration: Knative's environment names (docs/knative-parity.md §a2) plus Tide's `TIDE_*` settings. */
import { EnvReader, type Env } from '../common/env.js';

/** One readiness check of the user container (a `corev1.Probe`, reduced to what the queue-proxy runs). */
export type ProbeAction =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'http'; host: string; port: number; path: string; scheme: 'http' | 'https'; headers: readonly [string, string][] }
  /** gRPC Health Checking Protocol `Check` of `service` ('' = the whole server); passes on SERVING. */
  | { kind: 'grpc'; host: string; port: number; service: string };

/** A parsed `SERVING_READINESS_PROBE` entry (§a6). */
export interface ReadinessProbeSpec {
  action: ProbeAction;
  /** Consecutive passes needed. Kubernetes default 1. */
  successThreshold: number;
  /** 0 = Knative's aggressive mode: poll every 50 ms, 100 ms per attempt, up to 10 s. */
  periodMs: number;
  /** Per-attempt timeout when `periodMs > 0` (Kubernetes default 1 s). */
  timeoutMs: number;
}

export interface CircuitConfig {
  enabled: boolean;
  /** Opens when failures / requests in the window is strictly greater than this percentage (opossum semantics). */
  errorThresholdPercent: number;
  /** No opening before this many requests fell in the window. */
  minRequests: number;
  /** Rolling window length; split into 10 buckets. */
  windowMs: number;
  /** How long it stays open before letting one trial through. */
  resetMs: number;
}

export interface RetryConfig {
  /** Retries per request after the first attempt; 0 = off. */
  maxRetries: number;
  /** Retries may add at most this share of requests (Envoy/Linkerd budget), in percent. */
  budgetPercent: number;
  /** Retries always allowed per second, whatever the ratio (Linkerd's minRetriesPerSecond). */
  budgetMinPerSecond: number;
  /** Full-jitter backoff base and cap. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** A request body larger than this is streamed, never held, so it is never retried. */
  maxBodyBytes: number;
}

export interface QueueProxyConfig {
  // --- Knative names (§a2) ---
  /** `CONTAINER_CONCURRENCY`; 0 = unlimited (no breaker). */
  containerConcurrency: number;
  /** `QUEUE_SERVING_PORT` (8012): HTTP/1.1 and h2c from clients. */
  servingPort: number;
  /** `USER_PORT`: the app on 127.0.0.1. */
  userPort: number;
  /** `REVISION_TIMEOUT_SECONDS` in ms; 0 = no total timeout. */
  revisionTimeoutMs: number;
  /** `REVISION_RESPONSE_START_TIMEOUT_SECONDS` in ms; 0 = off. */
  responseStartTimeoutMs: number;
  /** `REVISION_IDLE_TIMEOUT_SECONDS` in ms; 0 = off. */
  idleTimeoutMs: number;
  namespace: string;
  configuration: string;
  revision: string;
  /** `SERVING_SERVICE` (optional, Knative): the `service_name` metric label. */
  service: string;
  pod: string;
  podIp: string;
  /** `SERVING_READINESS_PROBE`; several entries when it is a JSON array (all must pass). */
  readinessProbes: readonly ReadinessProbeSpec[];
  // --- Tide: ports and addresses ---
  /** `TIDE_ADMIN_PORT` (8022): `/wait-for-drain`. */
  adminPort: number;
  /** `TIDE_STATS_PORT` (9090): the autoscaler's gRPC scrape. */
  statsPort: number;
  /** `TIDE_METRICS_PORT` (9091): Prometheus text. */
  metricsPort: number;
  /** `TIDE_BIND_HOST`: where the four servers listen. */
  bindHost: string;
  /** `TIDE_USER_HOST`: where the app listens. */
  userHost: string;
  // --- Tide: behaviour ---
  /**
   * `TIDE_WARM_UP_MS` (60; 0 = off, Tide): how long the serving path is warmed up against an in-process loopback sink
   * (proxy/warm-up.ts) before the first ready answer. It runs while the app's readiness is probed.
   */
  warmUpMs: number;
  /** `TIDE_DRAIN_QUIET_SECONDS` (30, §a7): drain ends after this long without a new request. */
  drainQuietMs: number;
  /** `TIDE_WEBSOCKET_GRACE_SECONDS` (60, §a7): how long upgraded connections may outlive the drain. */
  websocketGraceMs: number;
  /** `TIDE_MAX_BODY_BYTES`: request bodies over this get 413; 0 = no limit (Knative has none). */
  maxBodyBytes: number;
  /** `TIDE_HEADERS_TIMEOUT_SECONDS` (10; Knative's ReadHeaderTimeout is 60, shortened against slowloris). */
  headersTimeoutMs: number;
  retry: RetryConfig;
  circuit: CircuitConfig;
}

/** Every default, with units in the names. Knative's numbers where Knative has one. */
export const DEFAULTS = {
  servingPort: 8012,
  adminPort: 8022,
  statsPort: 9090,
  metricsPort: 9091,
  bindHost: '0.0.0.0',
  userHost: '127.0.0.1',
  responseStartTimeoutSeconds: 0,
  idleTimeoutSeconds: 0,
  drainQuietSeconds: 30,
  warmUpMs: 60,
  websocketGraceSeconds: 60,
  maxBodyBytes: 0,
  headersTimeoutSeconds: 10,
  retryMax: 2,
  retryBudgetPercent: 20,
  retryBudgetMinPerSecond: 10,
  retryBackoffBaseMs: 25,
  retryBackoffMaxMs: 250,
  retryMaxBodyBytes: 64 * 1024,
  circuitEnabled: false,
  circuitErrorPercent: 50,
  circuitMinRequests: 20,
  circuitWindowSeconds: 10,
  circuitResetSeconds: 5,
  /** Kubernetes `corev1.Probe` defaults. */
  probeSuccessThreshold: 1,
  probeTimeoutSeconds: 1,
} as const;

/** Knative's breaker refuses capacities above 2^31 − 1; the queue is 10 × CC on top, so stay well below. */
const MAX_CONTAINER_CONCURRENCY = 100_000_000;
const PORT = { min: 1, max: 65_535 };
/** Ports we own may be 0 (tests, `tide up` picks free ones). */
const OWN_PORT = { min: 0, max: 65_535 };

/**
 * Reads the queue-proxy's environment. Every problem is collected, each naming its variable, and thrown as one ConfigError.
 * @example parseQueueProxyConfig({ CONTAINER_CONCURRENCY: '0', USER_PORT: '8080', ... })
 */
export function parseQueueProxyConfig(env: Env): Readonly<QueueProxyConfig> {
  const r = new EnvReader(env);
  const userPort = r.int('USER_PORT', PORT);
  const userHost = r.string('TIDE_USER_HOST', DEFAULTS.userHost);
  const seconds = (key: string, fallback?: number): number =>
    r.number(key, { ...(fallback === undefined ? {} : { fallback }), min: 0, max: 86_400 }) * 1000;

  const config: QueueProxyConfig = {
    containerConcurrency: r.int('CONTAINER_CONCURRENCY', { min: 0, max: MAX_CONTAINER_CONCURRENCY }),
    servingPort: r.int('QUEUE_SERVING_PORT', { fallback: DEFAULTS.servingPort, ...OWN_PORT }),
    userPort,
    revisionTimeoutMs: seconds('REVISION_TIMEOUT_SECONDS'),
    responseStartTimeoutMs: seconds('REVISION_RESPONSE_START_TIMEOUT_SECONDS', DEFAULTS.responseStartTimeoutSeconds),
    idleTimeoutMs: seconds('REVISION_IDLE_TIMEOUT_SECONDS', DEFAULTS.idleTimeoutSeconds),
    namespace: r.string('SERVING_NAMESPACE'),
    configuration: r.string('SERVING_CONFIGURATION'),
    revision: r.string('SERVING_REVISION'),
    service: r.string('SERVING_SERVICE', ''),
    pod: r.string('SERVING_POD'),
    podIp: r.string('SERVING_POD_IP'),
    readinessProbes: parseReadinessProbes(r, r.optionalString('SERVING_READINESS_PROBE'), userHost, userPort),
    adminPort: r.int('TIDE_ADMIN_PORT', { fallback: DEFAULTS.adminPort, ...OWN_PORT }),
    statsPort: r.int('TIDE_STATS_PORT', { fallback: DEFAULTS.statsPort, ...OWN_PORT }),
    metricsPort: r.int('TIDE_METRICS_PORT', { fallback: DEFAULTS.metricsPort, ...OWN_PORT }),
    bindHost: r.string('TIDE_BIND_HOST', DEFAULTS.bindHost),
    userHost,
    drainQuietMs: seconds('TIDE_DRAIN_QUIET_SECONDS', DEFAULTS.drainQuietSeconds),
    warmUpMs: r.int('TIDE_WARM_UP_MS', { fallback: DEFAULTS.warmUpMs, min: 0, max: 5_000 }),
    websocketGraceMs: seconds('TIDE_WEBSOCKET_GRACE_SECONDS', DEFAULTS.websocketGraceSeconds),
    maxBodyBytes: r.int('TIDE_MAX_BODY_BYTES', { fallback: DEFAULTS.maxBodyBytes, min: 0 }),
    headersTimeoutMs: seconds('TIDE_HEADERS_TIMEOUT_SECONDS', DEFAULTS.headersTimeoutSeconds),
    retry: {
      maxRetries: r.int('TIDE_RETRY_MAX', { fallback: DEFAULTS.retryMax, min: 0, max: 10 }),
      budgetPercent: r.number('TIDE_RETRY_BUDGET_PERCENT', { fallback: DEFAULTS.retryBudgetPercent, min: 0, max: 100 }),
      budgetMinPerSecond: r.number('TIDE_RETRY_BUDGET_MIN_PER_SECOND', { fallback: DEFAULTS.retryBudgetMinPerSecond, min: 0, max: 1_000_000 }),
      backoffBaseMs: r.int('TIDE_RETRY_BACKOFF_BASE_MS', { fallback: DEFAULTS.retryBackoffBaseMs, min: 0, max: 60_000 }),
      backoffMaxMs: r.int('TIDE_RETRY_BACKOFF_MAX_MS', { fallback: DEFAULTS.retryBackoffMaxMs, min: 0, max: 60_000 }),
      maxBodyBytes: r.int('TIDE_RETRY_MAX_BODY_BYTES', { fallback: DEFAULTS.retryMaxBodyBytes, min: 0, max: 16 * 1024 * 1024 }),
    },
    circuit: {
      enabled: r.bool('TIDE_CIRCUIT_ENABLED', DEFAULTS.circuitEnabled),
      errorThresholdPercent: r.number('TIDE_CIRCUIT_ERROR_PERCENT', { fallback: DEFAULTS.circuitErrorPercent, min: 0, max: 100 }),
      minRequests: r.int('TIDE_CIRCUIT_MIN_REQUESTS', { fallback: DEFAULTS.circuitMinRequests, min: 1, max: 1_000_000 }),
      windowMs: seconds('TIDE_CIRCUIT_WINDOW_SECONDS', DEFAULTS.circuitWindowSeconds),
      resetMs: seconds('TIDE_CIRCUIT_RESET_SECONDS', DEFAULTS.circuitResetSeconds),
    },
  };
  if (config.retry.backoffMaxMs < config.retry.backoffBaseMs) {
    r.problem('TIDE_RETRY_BACKOFF_MAX_MS', `must be >= TIDE_RETRY_BACKOFF_BASE_MS (${config.retry.backoffBaseMs})`);
  }
  if (config.circuit.windowMs < 10) r.problem('TIDE_CIRCUIT_WINDOW_SECONDS', 'must be at least 0.01');
  if (config.circuit.enabled && config.circuit.resetMs <= 0) r.problem('TIDE_CIRCUIT_RESET_SECONDS', 'must be > 0');
  r.done();
  return deepFreeze(config);
}

/**
 * Parses `SERVING_READINESS_PROBE` (§a6): one `corev1.Probe` as JSON, or an array of them. Missing means Knative's default,
 * a TCP check of the user port. `tcpSocket`, `httpGet` and `grpc` are run; an `exec` probe stays with the kubelet in Knative,
 * which gives the queue-proxy a TCP probe instead, so we do the same. A probe port of 0 or a named port means the user port
 * (`grpc.port` is a plain integer in Kubernetes; 0 or absent means the user port too).
 */
export function parseReadinessProbes(r: EnvReader, raw: string | undefined, userHost: string, userPort: number): ReadinessProbeSpec[] {
  const key = 'SERVING_READINESS_PROBE';
  const tcpDefault = (): ReadinessProbeSpec => ({
    action: { kind: 'tcp', host: userHost, port: userPort },
    successThreshold: DEFAULTS.probeSuccessThreshold,
    periodMs: 0,
    timeoutMs: DEFAULTS.probeTimeoutSeconds * 1000,
  });
  if (raw === undefined) return [tcpDefault()];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    r.problem(key, `invalid JSON: ${(err as Error).message}`);
    return [tcpDefault()];
  }
  const list = Array.isArray(parsed) ? (parsed as unknown[]) : [parsed];
  if (list.length === 0) {
    r.problem(key, 'expected a probe object or a non-empty array of probes');
    return [tcpDefault()];
  }
  const out: ReadinessProbeSpec[] = [];
  for (const [i, p] of list.entries()) {
    const where = Array.isArray(parsed) ? `${key}[${i}]` : key;
    if (typeof p !== 'object' || p === null || Array.isArray(p)) {
      r.problem(where, 'expected a JSON object (a corev1.Probe)');
      continue;
    }
    const probe = p as Record<string, unknown>;
    const int = (field: string, fallback: number, min: number): number => {
      const v = probe[field];
      if (v === undefined || v === null) return fallback;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
        r.problem(`${where}.${field}`, `expected an integer >= ${min}, got ${JSON.stringify(v)}`);
        return fallback;
      }
      return v;
    };
    const portOf = (o: Record<string, unknown>): number => {
      const v = o['port'];
      if (typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 65_535) return v;
      return userPort; // 0, absent or a named port: Knative rewrites these to the user port.
    };
    const hostOf = (o: Record<string, unknown>): string => (typeof o['host'] === 'string' && o['host'] !== '' ? o['host'] : userHost);
    let action: ProbeAction | undefined;
    const tcp = probe['tcpSocket'];
    const http = probe['httpGet'];
    if (isObject(http)) {
      const scheme = typeof http['scheme'] === 'string' ? http['scheme'].toLowerCase() : 'http';
      if (scheme !== 'http' && scheme !== 'https') r.problem(`${where}.httpGet.scheme`, `expected HTTP or HTTPS, got ${JSON.stringify(http['scheme'])}`);
      const path = typeof http['path'] === 'string' && http['path'] !== '' ? http['path'] : '/';
      const headers: [string, string][] = [];
      const hh = http['httpHeaders'];
      if (Array.isArray(hh)) {
        for (const h of hh as unknown[]) {
          if (isObject(h) && typeof h['name'] === 'string' && typeof h['value'] === 'string') headers.push([h['name'], h['value']]);
          else r.problem(`${where}.httpGet.httpHeaders`, 'expected [{ "name": ..., "value": ... }]');
        }
      }
      action = { kind: 'http', host: hostOf(http), port: portOf(http), path: path.startsWith('/') ? path : `/${path}`, scheme: scheme === 'https' ? 'https' : 'http', headers };
    } else if (isObject(tcp)) {
      action = { kind: 'tcp', host: hostOf(tcp), port: portOf(tcp) };
    } else if (isObject(probe['exec'])) {
      action = { kind: 'tcp', host: userHost, port: userPort };
    } else if (isObject(probe['grpc'])) {
      const grpc = probe['grpc'];
      const service = grpc['service'];
      if (service !== undefined && service !== null && typeof service !== 'string') {
        r.problem(`${where}.grpc.service`, `expected a string, got ${JSON.stringify(service)}`);
      }
      // corev1.GRPCAction has no host: the user host, as for an exec probe.
      action = { kind: 'grpc', host: userHost, port: portOf(grpc), service: typeof service === 'string' ? service : '' };
    } else {
      r.problem(where, 'expected one of tcpSocket, httpGet, grpc or exec');
      continue;
    }
    out.push({
      action,
      successThreshold: int('successThreshold', DEFAULTS.probeSuccessThreshold, 1),
      periodMs: int('periodSeconds', 0, 0) * 1000,
      timeoutMs: int('timeoutSeconds', DEFAULTS.probeTimeoutSeconds, 1) * 1000,
    });
  }
  return out.length > 0 ? out : [tcpDefault()];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepFreeze<T>(o: T): Readonly<T> {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
