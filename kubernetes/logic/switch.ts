/**
 * The Service switch (Knative's ServerlessService, pkg/reconciler/serverlessservice/serverlessservice.go), as pure
 * functions: which pods a private Service's EndpointSlices name, which mode the switch may take, and the EndpointSlices
 * and private Service the autoscaler writes. No I/O, no clock.
 */
import {
  LABEL_DEPLOYMENT,
  LABEL_MANAGED,
  LABEL_MANAGED_BY,
  LABEL_SERVICE_NAME,
  MANAGED_BY_TIDE,
  PRIVATE_PORTS,
  QUEUE_SERVING_PORT,
  QUEUE_STATS_PORT,
  ANNOTATION_ORIGINAL_SELECTOR,
  privateServiceName,
  switchSliceName,
  ownerRef,
  type Deployment,
  type EndpointSlice,
  type Service,
  type SliceEndpoint,
} from '../objects.js';

/** One address behind a Service, as read from its EndpointSlices. */
export interface SliceTarget {
  /** Pod name (targetRef), or the address when the slice names none. */
  readonly name: string;
  readonly ip: string;
  /** Port by port name, from the slice that lists this endpoint. */
  readonly ports: Readonly<Record<string, number>>;
  /** `conditions.ready` (unset counts as ready, as the API defines). */
  readonly ready: boolean;
  readonly terminating: boolean;
}

/** Every endpoint of `slices` (one Service's), deduplicated by address, sorted by name. */
export function targetsOf(slices: readonly EndpointSlice[]): SliceTarget[] {
  const out = new Map<string, SliceTarget>();
  for (const s of slices) {
    const ports: Record<string, number> = {};
    for (const p of s.ports ?? []) if (p.port !== undefined) ports[p.name ?? ''] = p.port;
    for (const ep of s.endpoints ?? []) {
      const ip = ep.addresses[0];
      if (ip === undefined) continue;
      const c = ep.conditions ?? {};
      const ready = c.ready !== false && c.terminating !== true;
      const t: SliceTarget = { name: ep.targetRef?.name ?? ip, ip, ports, ready, terminating: c.terminating === true };
      const key = `${ip}|${JSON.stringify(ports)}`;
      const old = out.get(key);
      if (!old || (!old.ready && ready)) out.set(key, t);
    }
  }
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.ip < b.ip ? -1 : 1));
}

/** `host:port`, IPv6 bracketed. */
export function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** A pod's queue-proxy serving port: the private Service's `http` port (8012 in a cluster). */
export function servingPort(t: SliceTarget): number {
  return t.ports[PRIVATE_PORTS.http.name] ?? firstPort(t) ?? QUEUE_SERVING_PORT;
}

/** A pod's stats port: `tide-stats` (9090 in a cluster); a slice without it has the stats on the serving port. */
export function statsPort(t: SliceTarget): number {
  return t.ports[PRIVATE_PORTS.stats.name] ?? (Object.keys(t.ports).length > 0 ? servingPort(t) : QUEUE_STATS_PORT);
}

function firstPort(t: SliceTarget): number | undefined {
  for (const v of Object.values(t.ports)) return v;
  return undefined;
}

export type SwitchMode = 'serve' | 'proxy';

/**
 * The mode the switch takes (Knative's SKS reconciler): serve only when the autoscaler asks for it and at least one
 * pod is ready; proxy otherwise, unless no activator endpoint is ready while pods are, where pointing at the pods
 * beats pointing at nothing. So a flip to the pods needs ready pods, and a flip back needs ready activators.
 */
export function effectiveMode(desired: SwitchMode, readyPods: number, readyActivators: number): SwitchMode {
  if (desired === 'serve' && readyPods > 0) return 'serve';
  if (readyActivators === 0 && readyPods > 0) return 'serve';
  return 'proxy';
}

/** The EndpointSlice objects for user Service `svc`, pointing at `targets` (already filtered to ready ones). */
export function buildSwitchSlices(svc: Service, targets: readonly { ip: string; port: number; name: string }[]): EndpointSlice[] {
  const ns = svc.metadata.namespace ?? 'default';
  const names = (svc.spec?.ports ?? []).map((p) => p.name ?? '');
  // One slice per distinct target port: a slice's ports apply to every endpoint in it.
  const byPort = new Map<number, { ip: string; name: string }[]>();
  for (const t of targets) {
    const list = byPort.get(t.port) ?? [];
    list.push({ ip: t.ip, name: t.name });
    byPort.set(t.port, list);
  }
  const ports = [...byPort.keys()].sort((a, b) => a - b);
  if (ports.length === 0) ports.push(QUEUE_SERVING_PORT);
  const ipv6 = targets.some((t) => t.ip.includes(':'));
  return ports.map((port, i) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: i === 0 ? switchSliceName(svc.metadata.name) : `${switchSliceName(svc.metadata.name)}-${i}`,
      namespace: ns,
      labels: { [LABEL_SERVICE_NAME]: svc.metadata.name, [LABEL_MANAGED_BY]: MANAGED_BY_TIDE, [LABEL_MANAGED]: 'true' },
      ownerReferences: [ownerRef('Service', 'v1', svc)],
    },
    addressType: ipv6 ? 'IPv6' : 'IPv4',
    endpoints: (byPort.get(port) ?? [])
      .sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0))
      .map(
        (t): SliceEndpoint => ({
          addresses: [t.ip],
          conditions: { ready: true, serving: true, terminating: false },
          ...(t.name !== t.ip ? { targetRef: { kind: 'Pod', name: t.name, namespace: ns } } : {}),
        }),
      ),
    ports: (names.length > 0 ? names : ['']).map((name) => ({ ...(name !== '' ? { name } : {}), port, protocol: 'TCP' })),
  }));
}

/** Whether two slices say the same thing (labels, endpoints, ports), so unchanged ones are not written. */
export function sameSlice(a: EndpointSlice, b: EndpointSlice): boolean {
  const view = (s: EndpointSlice): string =>
    JSON.stringify([
      s.addressType,
      s.metadata.labels?.[LABEL_SERVICE_NAME],
      s.metadata.labels?.[LABEL_MANAGED_BY],
      (s.endpoints ?? []).map((e) => [e.addresses, e.conditions?.ready ?? null, e.targetRef?.name ?? null]),
      (s.ports ?? []).map((p) => [p.name ?? '', p.port ?? null]),
    ]);
  return view(a) === view(b);
}

/** The original selector `tide inject` moved into an annotation, or undefined when missing or not a string map. */
export function originalSelector(svc: Service): Record<string, string> | undefined {
  const raw = svc.metadata.annotations?.[ANNOTATION_ORIGINAL_SELECTOR];
  if (raw === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(raw);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(v)) {
      if (typeof x !== 'string') return undefined;
      out[k] = x;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  } catch {
    return undefined;
  }
}

/** The private Service `<S>-private`: the pods' own endpoints, maintained by Kubernetes from the original selector. */
export function buildPrivateService(svc: Service, deployment: Deployment, selector: Record<string, string>): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: privateServiceName(svc.metadata.name),
      namespace: svc.metadata.namespace ?? 'default',
      labels: { [LABEL_MANAGED]: 'true', [LABEL_DEPLOYMENT]: deployment.metadata.name },
      ownerReferences: [ownerRef('Deployment', 'apps/v1', deployment)],
    },
    spec: {
      selector,
      ports: Object.values(PRIVATE_PORTS).map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort, protocol: 'TCP' })),
    },
  };
}

/** Whether an existing private Service already has what `want` asks for (selector and ports). */
export function samePrivateService(have: Service, want: Service): boolean {
  const view = (s: Service): string =>
    JSON.stringify([
      Object.entries(s.spec?.selector ?? {}).sort(),
      (s.spec?.ports ?? []).map((p) => [p.name ?? '', p.port, p.targetPort ?? p.port]),
      s.metadata.labels?.[LABEL_MANAGED] ?? null,
    ]);
  return view(have) === view(want);
}

/** Host names that reach revision traffic for Service `name` in `namespace` (Kubernetes DNS forms). */
export function serviceHosts(name: string, namespace: string): string[] {
  return [name, `${name}.${namespace}`, `${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`];
}
