/** Which requests are probes, and the answers the drainer gives them (docs/knative-parity.md §a6, §a9); pure. */
import { H, PROBE_USER_AGENTS, firstHeader as first, isKubeletProbe, type HeaderValues } from '../common/http/headers.js';

/** `K-Network-Probe` value that asks the queue-proxy whether the app is ready. */
export const QUEUE_PROBE_VALUE = 'queue';
/** `K-Network-Probe` value answered with a hash echo (ingress probing). */
export const HASH_PROBE_VALUE = 'probe';

export type ProbeKind =
  /** kubelet, activator or autoscaler health check, or `K-Network-Probe: queue`: answered from readiness. */
  | 'health'
  /** `K-Network-Probe: probe`: hash echo. */
  | 'hash'
  /** A user request. */
  | 'none';

type Headers = HeaderValues;

/**
 * Classifies a request from its headers (§a6). A health check is a User-Agent starting `kube-probe/`,
 * `Knative-Activator-Probe` or `Knative-Autoscaling-Probe`, or any `K-Kubelet-Probe` header. Tide also treats a bare
 * `K-Network-Probe: queue` as a health check: Knative would forward it to the app, which then sees an internal header.
 */
export function classifyProbe(headers: Headers): ProbeKind {
  const np = first(headers[H.networkProbe]);
  const ua = first(headers[H.userAgent]);
  if (
    isKubeletProbe(headers) ||
    (ua !== undefined && (ua.startsWith(PROBE_USER_AGENTS.activator) || ua.startsWith(PROBE_USER_AGENTS.autoscaler))) ||
    np === QUEUE_PROBE_VALUE
  ) {
    return 'health';
  }
  if (np === HASH_PROBE_VALUE) return 'hash';
  return 'none';
}

/** A short answer to a probe: status, body and extra headers. */
export interface ProbeAnswer {
  status: number;
  body: string;
  headers?: Readonly<Record<string, string>>;
}

/**
 * The answer to a health check (§a6, knative `health.ProbeHandler` behind the drainer): 503 `shutting down` while
 * draining; 400 `unexpected probe header value: X` unless `K-Network-Probe` is `queue`; otherwise ask the app's readiness
 * (`isReady` is only called in that last case): 200 `queue` or 503 with an empty body.
 */
export async function answerHealthCheck(headers: Headers, isDraining: boolean, isReady: () => Promise<boolean>): Promise<ProbeAnswer> {
  if (isDraining) return { status: 503, body: 'shutting down' };
  const np = first(headers[H.networkProbe]) ?? '';
  if (np !== QUEUE_PROBE_VALUE) return { status: 400, body: `unexpected probe header value: ${np}` };
  return (await isReady()) ? { status: 200, body: QUEUE_PROBE_VALUE } : { status: 503, body: '' };
}

/** `K-Network-Probe: probe`: 200 echoing `K-Network-Hash`, 400 without it (knative/networking `header.ProbeHandler`). */
export function answerHashProbe(headers: Headers): ProbeAnswer {
  const hash = first(headers[H.networkHash]);
  if (hash === undefined || hash === '') return { status: 400, body: 'no K-Network-Hash header' };
  return { status: 200, body: '', headers: { 'K-Network-Hash': hash } };
}
