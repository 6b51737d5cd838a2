/** gRPC adapters for the stats protocol: serve and call QueueStats and AutoscalerStats. Every read is bounded. */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fromRoot } from '../paths.js';
import type { RevisionStat, Stat } from '../stats.js';

/** A stat is ~100 bytes; a scrape answer larger than this is hostile and refused (cf. CVE-2023-48713). */
export const MAX_SCRAPE_BYTES = 1024;
/** One activator batch: about 10,000 revisions' stats. */
export const MAX_REPORT_BYTES = 1024 * 1024;

interface WireStat {
  pod_name?: string;
  average_concurrent_requests?: number;
  average_proxied_concurrent_requests?: number;
  request_count?: number;
  proxied_request_count?: number;
  process_uptime_seconds?: number;
  timestamp_ms?: string | number;
  queued_requests?: number;
  max_wait_seconds?: number;
}
interface WireRevisionStat {
  namespace?: string;
  revision?: string;
  stat?: WireStat | null;
}

type ServiceCtor = grpc.ServiceClientConstructor;
interface StatsPackage {
  QueueStats: ServiceCtor;
  AutoscalerStats: ServiceCtor;
}

let pkg: StatsPackage | undefined;
function statsPackage(): StatsPackage {
  if (pkg) return pkg;
  const def = protoLoader.loadSync(fromRoot('common', 'proto', 'stats.proto'), {
    keepCase: true,
    longs: Number,
    defaults: true,
  });
  const loaded = grpc.loadPackageDefinition(def) as unknown as { tide: { stats: { v1: StatsPackage } } };
  pkg = loaded.tide.stats.v1;
  return pkg;
}

function num(v: unknown): number {
  const n = typeof v === 'string' ? Number(v) : typeof v === 'number' ? v : 0;
  return Number.isFinite(n) ? n : 0;
}

export function statFromWire(w: WireStat | null | undefined): Stat {
  return {
    podName: typeof w?.pod_name === 'string' ? w.pod_name : '',
    averageConcurrentRequests: num(w?.average_concurrent_requests),
    averageProxiedConcurrentRequests: num(w?.average_proxied_concurrent_requests),
    requestCount: num(w?.request_count),
    proxiedRequestCount: num(w?.proxied_request_count),
    processUptimeSeconds: num(w?.process_uptime_seconds),
    timestampMs: num(w?.timestamp_ms),
    ...(w?.queued_requests ? { queuedRequests: num(w.queued_requests) } : {}),
    ...(w?.max_wait_seconds ? { maxWaitSeconds: num(w.max_wait_seconds) } : {}),
  };
}

export function statToWire(s: Stat): WireStat {
  return {
    pod_name: s.podName,
    average_concurrent_requests: s.averageConcurrentRequests,
    average_proxied_concurrent_requests: s.averageProxiedConcurrentRequests,
    request_count: s.requestCount,
    proxied_request_count: s.proxiedRequestCount,
    process_uptime_seconds: s.processUptimeSeconds,
    timestamp_ms: s.timestampMs,
    queued_requests: s.queuedRequests ?? 0,
    max_wait_seconds: s.maxWaitSeconds ?? 0,
  };
}

/** A started gRPC server and how to stop it. */
export interface StartedGrpcServer {
  port: number;
  /** Graceful shutdown, forced after `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

async function bind(server: grpc.Server, host: string, port: number): Promise<StartedGrpcServer> {
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    port: bound,
    close: (graceMs = 1000) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

/** Serves AutoscalerStats.Report: `onReport` receives each batch as the autoscaler receives it. */
export function serveAutoscalerStats(
  onReport: (stats: RevisionStat[]) => void,
  opts: { host?: string; port: number },
): Promise<StartedGrpcServer> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_REPORT_BYTES });
  server.addService(statsPackage().AutoscalerStats.service, {
    Report: (call: grpc.ServerUnaryCall<{ stats?: WireRevisionStat[] }, object>, cb: grpc.sendUnaryData<object>) => {
      const out: RevisionStat[] = [];
      for (const r of call.request.stats ?? []) {
        if (typeof r.namespace !== 'string' || typeof r.revision !== 'string' || r.revision === '') continue;
        out.push({ namespace: r.namespace, revision: r.revision, stat: statFromWire(r.stat) });
      }
      try {
        onReport(out);
        cb(null, {});
      } catch (err) {
        cb({ code: grpc.status.INTERNAL, details: String(err) });
      }
    },
  });
  return bind(server, opts.host ?? '0.0.0.0', opts.port);
}

/** A client for one queue-proxy's stats endpoint. Answers over MAX_SCRAPE_BYTES are refused by gRPC. */
type ScrapeClient = grpc.Client & {
  Scrape: (req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: WireStat) => void) => void;
};
type ReportClient = grpc.Client & {
  Report: (req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null) => void) => void;
};

export class QueueStatsClient {
  readonly #client: ScrapeClient;

  constructor(address: string) {
    const Ctor = statsPackage().QueueStats;
    this.#client = new Ctor(address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_SCRAPE_BYTES,
    }) as unknown as ScrapeClient;
  }

  /** One scrape, failing after `timeoutMs` (Knative: 3 s). */
  scrape(timeoutMs = 3000): Promise<Stat> {
    return new Promise((resolve, reject) => {
      this.#client.Scrape({}, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(statFromWire(res))));
    });
  }

  close(): void {
    this.#client.close();
  }
}

/** A client for the autoscaler's Report endpoint (used by the activator). */
export class AutoscalerStatsClient {
  readonly #client: ReportClient;

  constructor(address: string) {
    const Ctor = statsPackage().AutoscalerStats;
    this.#client = new Ctor(address, grpc.credentials.createInsecure(), {}) as unknown as ReportClient;
  }

  report(stats: readonly RevisionStat[], timeoutMs = 2000): Promise<void> {
    const req = { stats: stats.map((s) => ({ namespace: s.namespace, revision: s.revision, stat: statToWire(s.stat) })) };
    return new Promise((resolve, reject) => {
      this.#client.Report(req, { deadline: Date.now() + timeoutMs }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** True while the channel is connected or connecting normally (for the activator's readiness). */
  isReachable(): boolean {
    const s = this.#client.getChannel().getConnectivityState(false);
    return s === grpc.connectivityState.READY || s === grpc.connectivityState.IDLE || s === grpc.connectivityState.CONNECTING;
  }

  close(): void {
    this.#client.close();
  }
}
