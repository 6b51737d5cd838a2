/**
 * One attempt of a `grpc` readiness probe (docs/knative-parity.md §a6): a gRPC Health Checking Protocol call,
 * `grpc.health.v1.Health/Check`, that passes only on `SERVING`. Each attempt dials a channel of its own, as Knative does
 * per probe, so grpc-js's reconnect backoff from a refused attempt can never delay readiness once the app listens.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROBE_USER_AGENTS } from '../../common/http/headers.js';
import { fromRoot } from '../../common/paths.js';

/** A health answer is a few bytes; anything larger is not a health server. */
const MAX_HEALTH_RESPONSE_BYTES = 1024;

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // Never share a subchannel with another attempt (two probes of one port): it would carry that attempt's backoff.
  'grpc.use_local_subchannel_pool': 1,
  'grpc.enable_retries': 0,
  'grpc.max_receive_message_length': MAX_HEALTH_RESPONSE_BYTES,
  // The User-Agent of our HTTP probes.
  'grpc.primary_user_agent': PROBE_USER_AGENTS.queueProxy,
};

interface HealthCheckResponse {
  status?: string;
}
type HealthClient = grpc.Client & {
  Check(
    req: { service: string },
    opts: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: HealthCheckResponse) => void,
  ): grpc.ClientUnaryCall;
};

let healthCtor: grpc.ServiceClientConstructor | undefined;
/** Loads `common/proto/health.proto` on the first grpc probe, once. */
function healthClientConstructor(): grpc.ServiceClientConstructor {
  if (healthCtor) return healthCtor;
  const def = protoLoader.loadSync(fromRoot('common', 'proto', 'health.proto'), { keepCase: true, enums: String, defaults: true });
  const loaded = grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
  healthCtor = loaded.grpc.health.v1.Health;
  return healthCtor;
}

/** `host:port` as a gRPC target; IPv6 literals get brackets. */
function target(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Resolves true only when `service` (`''`: the whole server) answers SERVING within `timeoutMs`; false on any error
 * (refused, deadline, UNIMPLEMENTED, NOT_FOUND) or any other status. Never rejects; the channel and timer end with it.
 */
export function probeGrpcHealth(host: string, port: number, service: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let client: HealthClient | undefined;
    let call: grpc.ClientUnaryCall | undefined;
    let settled = false;
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!ok) call?.cancel();
      client?.close();
      resolve(ok);
    };
    // The call's deadline ends it too; this timer also covers a channel that never gets as far as the call.
    const timer = setTimeout(() => done(false), timeoutMs);
    try {
      const Health = healthClientConstructor();
      client = new Health(target(host, port), grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as unknown as HealthClient;
      call = client.Check({ service }, { deadline: Date.now() + timeoutMs }, (err, res) => done(err === null && res?.status === 'SERVING'));
    } catch {
      done(false);
    }
  });
}
