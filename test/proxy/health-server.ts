/** A scriptable gRPC Health server (common/proto/health.proto) on 127.0.0.1:0, for `grpc` readiness probe tests (§a6). */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fromRoot } from '../../common/paths.js';

export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

export interface HealthServer {
  port: number;
  /** Status per service name ('' = the whole server); a name not in the map gets NOT_FOUND, as the protocol says. */
  statuses: Map<string, ServingStatus>;
  /** When true, Check never answers. */
  hang: boolean;
  /** Check calls received: the service asked about. */
  checks: string[];
  /** The User-Agent of each Check. */
  userAgents: string[];
  close(): Promise<void>;
}

let healthService: grpc.ServiceDefinition | undefined;
function healthDefinition(): grpc.ServiceDefinition {
  if (healthService) return healthService;
  const def = protoLoader.loadSync(fromRoot('common', 'proto', 'health.proto'), { keepCase: true, enums: String, defaults: true });
  const loaded = grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
  healthService = loaded.grpc.health.v1.Health.service;
  return healthService;
}

async function bind(server: grpc.Server, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
}

/** A server with the Health service, or without any service (`health: false`: every call gets UNIMPLEMENTED). */
export async function startHealthServer(opts: { health?: boolean; port?: number } = {}): Promise<HealthServer> {
  const server = new grpc.Server();
  const h: HealthServer = {
    port: 0,
    statuses: new Map([['', 'SERVING']]),
    hang: false,
    checks: [],
    userAgents: [],
    // A hanging Check would keep tryShutdown waiting: force it.
    close: () => {
      server.forceShutdown();
      return Promise.resolve();
    },
  };
  if (opts.health !== false) {
    server.addService(healthDefinition(), {
      Check: (call: grpc.ServerUnaryCall<{ service: string }, { status: ServingStatus }>, cb: grpc.sendUnaryData<{ status: ServingStatus }>) => {
        h.checks.push(call.request.service);
        h.userAgents.push(String(call.metadata.get('user-agent')[0] ?? ''));
        if (h.hang) return;
        const status = h.statuses.get(call.request.service);
        if (status === undefined) cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
        else cb(null, { status });
      },
    });
  }
  h.port = await bind(server, opts.port ?? 0);
  return h;
}
