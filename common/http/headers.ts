/** Header names shared by the queue-proxy and the activator (docs/knative-parity.md §a9). Lower-case, as node gives them. */

export const H = {
  networkProbe: 'k-network-probe',
  networkHash: 'k-network-hash',
  proxyRequest: 'k-proxy-request',
  originalHost: 'k-original-host',
  passthroughLb: 'k-passthrough-lb',
  kubeletProbe: 'k-kubelet-probe',
  servingRevision: 'knative-serving-revision',
  servingNamespace: 'knative-serving-namespace',
  servingTag: 'knative-serving-tag',
  servingDefaultRoute: 'knative-serving-default-route',
  forwarded: 'forwarded',
  xForwardedFor: 'x-forwarded-for',
  xForwardedProto: 'x-forwarded-proto',
  xForwardedHost: 'x-forwarded-host',
  userAgent: 'user-agent',
  retryAfter: 'retry-after',
  clientProtocol: 'tide-client-protocol',
} as const;

/**
 * `Tide-Client-Protocol` value (Tide only): the activator sends an HTTP/1.x client's request to the queue-proxy as an
 * h2c stream and marks it so; the queue-proxy then sends it on to the app over HTTP/1.1, so the app hears what the
 * client spoke, as it would in Knative (whose proxies keep the client's protocol on every hop).
 */
export const CLIENT_PROTOCOL_HTTP1 = 'http/1.1';

/** `K-Proxy-Request` value the activator sets, which the queue-proxy counts as proxied. */
export const PROXY_REQUEST_ACTIVATOR = 'activator';

/** User-Agent prefixes that mark health-check requests (§a6, §a9). */
export const PROBE_USER_AGENTS = {
  kubelet: 'kube-probe/',
  activator: 'Knative-Activator-Probe',
  autoscaler: 'Knative-Autoscaling-Probe',
  queueProxy: 'Knative-Queue-Proxy-Probe',
  ingress: 'Knative-Ingress-Probe',
} as const;

/** Knative's internal routing headers, removed before a request reaches the app (§a3 step 10). */
export const INTERNAL_HEADERS: readonly string[] = [H.servingRevision, H.servingNamespace];

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1): meaningful for one connection only, never forwarded.
 * Headers named in `Connection` are hop-by-hop too; see the proxy core.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Header values as node gives them. */
export type HeaderValues = Readonly<Record<string, string | string[] | undefined>>;

/** The first value of a header (node gives a list for a few repeated headers). */
export function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** True for kubelet probes: a `kube-probe/` User-Agent or the deprecated `K-Kubelet-Probe` header (§a6, §a9). */
export function isKubeletProbe(headers: HeaderValues): boolean {
  const ua = firstHeader(headers[H.userAgent]);
  return (ua !== undefined && ua.startsWith(PROBE_USER_AGENTS.kubelet)) || headers[H.kubeletProbe] !== undefined;
}
