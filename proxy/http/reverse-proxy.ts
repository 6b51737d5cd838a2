/**
 * The innermost stage (docs/knative-parity.md §a3 steps 9–10): app metrics, the circuit's pass, and the forward to the app on
 * 127.0.0.1:USER_PORT with Knative's three timers. The host is restored from `K-Original-Host`; internal headers are removed.
 */
import type { Clock } from '../../common/clock.js';
import { CLIENT_PROTOCOL_HTTP1, H, INTERNAL_HEADERS } from '../../common/http/headers.js';
import type { ForwardOutcome, Forwarder } from '../../common/http/forward.js';
import type { Handler, OutgoingHeaders, ProxyRequest } from '../../common/http/types.js';
import type { CircuitGate } from './circuit.js';
import type { QueueProxyMetrics } from './metrics.js';
import { refuseOpenCircuit } from './with-circuit.js';

/**
 * Headers that steer Knative's data plane and mean nothing to the app. Knative prunes only the revision headers (§a3 step 10);
 * Tide removes all of them so a client cannot make the app see data-plane headers (docs/knative-parity.md §e2).
 */
export const HEADERS_NOT_FOR_APP: readonly string[] = [
  ...INTERNAL_HEADERS,
  H.originalHost,
  H.proxyRequest,
  H.networkProbe,
  H.networkHash,
  H.kubeletProbe,
  H.passthroughLb,
  H.clientProtocol,
];

/**
 * The forwarder's `upstreamH2` for the app: h2 clients (gRPC) reach the app as h2c, except requests the activator
 * carried over h2c for an HTTP/1.x client (`Tide-Client-Protocol: http/1.1`), which reach it as HTTP/1.1.
 */
export function appHearsH2(req: ProxyRequest): boolean {
  return req.httpVersionMajor === 2 && req.headers[H.clientProtocol] !== CLIENT_PROTOCOL_HTTP1;
}

/** Module-level (no per-request closure): restore Host from K-Original-Host (§a3 step 8), drop internal headers. */
export function rewriteForApp(h: OutgoingHeaders): void {
  const orig = h[H.originalHost];
  if (typeof orig === 'string' && orig !== '') h['host'] = orig;
  for (const name of HEADERS_NOT_FOR_APP) delete h[name];
}

/** True when the app failed this request: a 5xx it sent, a connection error, or a timeout once it had the request. */
export function isAppFailure(out: ForwardOutcome): boolean {
  switch (out.result) {
    case 'ok':
      return out.status >= 500;
    case 'upstream-error':
      return true;
    case 'timeout':
      return !out.neverSent;
    default:
      return false;
  }
}

/** The app stage's accounting once the forward is over: app metrics with the status the app's answer got. */
export function recordAppEnd(metrics: QueueProxyMetrics, out: ForwardOutcome, elapsedMs: number): void {
  if (out.status > 0) metrics.recordAppRequest(out.status, elapsedMs);
}

export interface AppProxyOptions {
  upstream: string;
  totalTimeoutMs: number;
  responseStartTimeoutMs: number;
  idleTimeoutMs: number;
  clock: Clock;
  metrics: QueueProxyMetrics;
  circuit: CircuitGate | undefined;
  onCircuitReject: () => void;
}

export function proxyToApp(forwarder: Forwarder, opts: AppProxyOptions): Handler {
  const { upstream, totalTimeoutMs, responseStartTimeoutMs, idleTimeoutMs, clock, metrics, circuit, onCircuitReject } = opts;
  return async (req, res, startMs) => {
    const pass = circuit?.enter();
    if (circuit && pass === undefined) {
      // The circuit opened, or its half-open trial was taken, while this request waited in the breaker.
      onCircuitReject();
      refuseOpenCircuit(res, circuit);
      return;
    }
    const appStartMs = clock.now();
    const out = await forwarder.forward(req, res, { upstream, startMs, totalTimeoutMs, responseStartTimeoutMs, idleTimeoutMs, rewriteHeaders: rewriteForApp });
    pass?.done(isAppFailure(out));
    recordAppEnd(metrics, out, clock.now() - appStartMs);
  };
}
