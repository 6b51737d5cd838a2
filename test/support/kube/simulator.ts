/**
 * A small cluster for the fake API server: it plays the deployment controller, the kubelet and the EndpointSlice
 * controller, so replica changes written through `/scale` turn into Pods and EndpointSlices after a delay.
 *
 * - Deployments: `spec.replicas` Pods (owned by the Deployment directly; no ReplicaSets), created Pending at once and
 *   made Running + Ready `startDelayMs` later, each on its own loopback address (127.0.0.2, 127.0.0.3, ...). With a
 *   `PodFactory`, a Pod is Ready only once the factory has started it (e.g. a real queue-proxy and app on that IP).
 *   Scale-down takes not-ready Pods first, then the newest: the Pod gets a deletionTimestamp (its endpoint turns
 *   ready=false, terminating=true), is stopped and, `stopDelayMs` later, removed. `status` counts are kept current.
 * - Services with a selector: ONE EndpointSlice PER POD (a valid layout), because test pods bind port 0 and each may
 *   listen on its own port: the slice's ports carry that Pod's port under each Service port's name. The slices are
 *   labelled `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`.
 *   When a Service loses its selector, its controller-managed slices are deleted, as the real controller does; slices
 *   managed by anyone else (Tide) are never touched.
 */
import { createHash, randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { ChangeEvent, FakeApiServer, KubeObject } from './fake-apiserver.js';

export interface PodInstance {
  /** The port the pod listens on, used for every Service port... */
  port: number;
  /** ...unless this maps the Service's targetPort (container port number or name) to another one. */
  ports?: Record<string, number>;
  stop(): Promise<void>;
}

export interface PodFactory {
  start(pod: { namespace: string; name: string; deployment: string; ip: string }): Promise<PodInstance>;
}

export interface SimulatorOptions {
  /** From a Pod's creation to its start (and readiness). */
  startDelayMs: number;
  /** Starts a real process for each Pod; without one, Pods are only objects and listen on their targetPort. */
  pods?: PodFactory;
  /** Clock for timestamps (creation, start, deletion). */
  now?: () => number;
  /** From a Pod's deletionTimestamp to its removal. Default 0. */
  stopDelayMs?: number;
}

export interface ClusterSimulator {
  stop(): Promise<void>;
  /** The Pods of a Deployment, terminating ones included, oldest first. */
  podsOf(namespace: string, deployment: string): KubeObject[];
}

export const SLICE_MANAGER = 'endpointslice-controller.k8s.io';

interface PodSpec {
  containers?: { name: string; ports?: { name?: string; containerPort: number }[] }[];
}
interface DeploymentSpec {
  replicas?: number;
  template?: { metadata?: { labels?: Record<string, string> }; spec?: PodSpec };
}
interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
}
interface PodStatus {
  phase?: string;
  podIP?: string;
  conditions?: { type: string; status: string }[];
}

interface Running {
  ip?: string;
  instance?: PodInstance;
  timer?: NodeJS.Timeout;
  seq: number;
}

const timestamp = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
const isReady = (p: KubeObject): boolean =>
  ((p['status'] as PodStatus | undefined)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const isTerminating = (o: KubeObject): boolean => o.metadata['deletionTimestamp'] !== undefined;
const ownerName = (o: KubeObject, kind: string): string | undefined =>
  (o.metadata.ownerReferences as { kind?: string; name?: string }[] | undefined)?.find((r) => r.kind === kind)?.name;
const matchesSelector = (labels: Record<string, string> | undefined, selector: Record<string, string>): boolean =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

export function startClusterSimulator(api: FakeApiServer, opts: SimulatorOptions): ClusterSimulator {
  const now = opts.now ?? Date.now;
  const running = new Map<string, Running>(); // by namespace/pod name
  const stopping = new Set<Promise<void>>();
  let nextIp = 2;
  let nextSeq = 0;
  let scheduled = false;
  let stopped = false;

  const podKey = (p: KubeObject): string => `${p.metadata.namespace}/${p.metadata.name}`;

  function allocateIp(): string {
    const n = nextIp++;
    // 127.0.0.2 ... 127.0.0.254, then 127.0.1.1 ...: skip .0 and .255.
    const hi = Math.floor((n - 1) / 254);
    return `127.0.${hi}.${((n - 1) % 254) + 1}`;
  }

  function schedule(): void {
    if (scheduled || stopped) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      if (!stopped) reconcile();
    });
  }

  const WATCHED = new Set(['Deployment', 'Service', 'Pod', 'EndpointSlice']);
  const unsubscribe = api.onChange((e: ChangeEvent) => {
    if (e.type === 'DELETED' && e.object.kind === 'Pod') stopInstance(podKey(e.object));
    if (WATCHED.has(e.object.kind)) schedule();
  });

  function stopInstance(key: string): void {
    const r = running.get(key);
    if (!r) return;
    running.delete(key);
    clearTimeout(r.timer);
    if (r.instance) {
      const p = r.instance.stop().catch(() => {});
      stopping.add(p);
      void p.finally(() => stopping.delete(p));
    }
  }

  // ---- deployment controller + kubelet ----

  function podsOwnedBy(d: KubeObject): KubeObject[] {
    return api
      .list('v1', 'Pod', d.metadata.namespace)
      .filter((p) => (p.metadata.ownerReferences as { uid?: string }[] | undefined)?.some((r) => r.uid === d.metadata.uid))
      .sort((a, b) => (running.get(podKey(a))?.seq ?? 0) - (running.get(podKey(b))?.seq ?? 0));
  }

  function createPod(d: KubeObject): void {
    const spec = (d['spec'] ?? {}) as DeploymentSpec;
    const hash = createHash('sha256').update(JSON.stringify(spec.template ?? {})).digest('hex').slice(0, 10);
    const name = `${d.metadata.name}-${hash}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const pod = api.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: d.metadata.namespace!,
        labels: { ...(spec.template?.metadata?.labels ?? {}), 'pod-template-hash': hash },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name, uid: d.metadata.uid, controller: true, blockOwnerDeletion: true }],
        creationTimestamp: timestamp(now()),
      },
      spec: structuredClone(spec.template?.spec ?? {}),
      status: { phase: 'Pending' },
    });
    const key = podKey(pod);
    const r: Running = { seq: nextSeq++ };
    running.set(key, r);
    r.timer = setTimeout(() => void startPod(key, d.metadata.name), opts.startDelayMs);
  }

  async function startPod(key: string, deployment: string): Promise<void> {
    const r = running.get(key);
    if (!r) return;
    const [namespace, name] = key.split('/') as [string, string];
    r.ip = allocateIp();
    try {
      if (opts.pods) {
        const instance = await opts.pods.start({ namespace, name, deployment, ip: r.ip });
        if (running.get(key) !== r) {
          await instance.stop();
          return;
        }
        r.instance = instance;
      }
    } catch (err) {
      const pod = api.get('v1', 'Pod', namespace, name);
      if (pod) api.apply({ ...pod, status: { phase: 'Failed', message: `pod factory: ${(err as Error).message}` } });
      return;
    }
    const pod = api.get('v1', 'Pod', namespace, name);
    if (!pod || isTerminating(pod) || stopped) return;
    const at = timestamp(now());
    const conditions = ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastTransitionTime: at }));
    api.apply({ ...pod, status: { phase: 'Running', podIP: r.ip, podIPs: [{ ip: r.ip }], hostIP: '127.0.0.1', startTime: at, conditions } });
  }

  function terminatePod(p: KubeObject): void {
    const status = { ...((p['status'] as PodStatus | undefined) ?? {}) };
    status.conditions = (status.conditions ?? []).map((c) => (c.type === 'Ready' || c.type === 'ContainersReady' ? { ...c, status: 'False' } : c));
    api.apply({ ...p, metadata: { ...p.metadata, deletionTimestamp: timestamp(now()), deletionGracePeriodSeconds: 0 }, status });
    const key = podKey(p);
    const r = running.get(key);
    if (r) clearTimeout(r.timer);
    const remove = (): void => {
      stopInstance(key);
      api.remove('v1', 'Pod', p.metadata.namespace, p.metadata.name);
    };
    if (r) r.timer = setTimeout(remove, opts.stopDelayMs ?? 0);
    else remove();
  }

  function reconcileDeployment(d: KubeObject): void {
    const desired = ((d['spec'] ?? {}) as DeploymentSpec).replicas ?? 1;
    const live = podsOwnedBy(d).filter((p) => !isTerminating(p));
    for (let i = live.length; i < desired; i++) createPod(d);
    if (live.length > desired) {
      const victims = [...live].sort((a, b) => Number(isReady(a)) - Number(isReady(b)) || (running.get(podKey(b))?.seq ?? 0) - (running.get(podKey(a))?.seq ?? 0));
      for (const p of victims.slice(0, live.length - desired)) terminatePod(p);
    }
    const pods = podsOwnedBy(d).filter((p) => !isTerminating(p));
    const ready = pods.filter(isReady).length;
    const status = {
      ...((d['status'] as object | undefined) ?? {}),
      observedGeneration: d.metadata.generation ?? 1,
      replicas: pods.length,
      updatedReplicas: pods.length,
      readyReplicas: ready,
      availableReplicas: ready,
      unavailableReplicas: pods.length - ready,
    };
    if (!isDeepStrictEqual(status, d['status'])) api.apply({ ...d, status });
  }

  // ---- EndpointSlice controller ----

  function resolvePort(pod: KubeObject, sp: ServicePort): number | undefined {
    const target = sp.targetPort ?? sp.port;
    let number = typeof target === 'number' ? target : undefined;
    if (typeof target === 'string') {
      for (const c of (pod['spec'] as PodSpec | undefined)?.containers ?? []) {
        number ??= c.ports?.find((p) => p.name === target)?.containerPort;
      }
    }
    const instance = running.get(podKey(pod))?.instance;
    if (instance) return instance.ports?.[String(number)] ?? instance.ports?.[String(target)] ?? instance.port;
    return number;
  }

  function sliceFor(svc: KubeObject, pod: KubeObject): KubeObject {
    const ports = ((svc['spec'] as { ports?: ServicePort[] }).ports ?? []).flatMap((sp) => {
      const port = resolvePort(pod, sp);
      return port === undefined ? [] : [{ name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP' }];
    });
    const terminating = isTerminating(pod);
    return {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${svc.metadata.name}-${pod.metadata.name}`.slice(0, 253),
        namespace: svc.metadata.namespace!,
        labels: { 'kubernetes.io/service-name': svc.metadata.name, 'endpointslice.kubernetes.io/managed-by': SLICE_MANAGER },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: svc.metadata.name, uid: svc.metadata.uid, controller: true, blockOwnerDeletion: true }],
      },
      addressType: 'IPv4',
      endpoints: [
        {
          addresses: [(pod['status'] as PodStatus).podIP!],
          conditions: { ready: isReady(pod) && !terminating, serving: terminating || isReady(pod), terminating },
          nodeName: 'fake-node',
          targetRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid },
        },
      ],
      ports,
    };
  }

  function reconcileSlices(): void {
    const services = new Map(api.list('v1', 'Service').map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
    const desired = new Map<string, KubeObject>();
    for (const svc of services.values()) {
      const selector = (svc['spec'] as { selector?: Record<string, string> }).selector;
      if (!selector || Object.keys(selector).length === 0) continue;
      for (const pod of api.list('v1', 'Pod', svc.metadata.namespace)) {
        if (!(pod['status'] as PodStatus | undefined)?.podIP || !matchesSelector(pod.metadata.labels, selector)) continue;
        const slice = sliceFor(svc, pod);
        desired.set(`${slice.metadata.namespace}/${slice.metadata.name}`, slice);
      }
    }
    for (const existing of api.list('discovery.k8s.io/v1', 'EndpointSlice')) {
      if (existing.metadata.labels?.['endpointslice.kubernetes.io/managed-by'] !== SLICE_MANAGER) continue;
      const key = `${existing.metadata.namespace}/${existing.metadata.name}`;
      const want = desired.get(key);
      if (!want) {
        api.remove('discovery.k8s.io/v1', 'EndpointSlice', existing.metadata.namespace, existing.metadata.name);
        continue;
      }
      desired.delete(key);
      const same =
        isDeepStrictEqual(existing['endpoints'], want['endpoints']) &&
        isDeepStrictEqual(existing['ports'], want['ports']) &&
        isDeepStrictEqual(existing.metadata.labels, want.metadata.labels);
      if (!same) api.apply({ ...want, metadata: { ...existing.metadata, ...want.metadata } });
    }
    for (const slice of desired.values()) api.apply(slice);
  }

  function reconcile(): void {
    for (const d of api.list('apps/v1', 'Deployment')) reconcileDeployment(d);
    // Pods whose Deployment is gone were garbage-collected by the API server; forget any we still track.
    for (const key of [...running.keys()]) {
      const [ns, name] = key.split('/') as [string, string];
      if (!api.get('v1', 'Pod', ns, name)) stopInstance(key);
    }
    reconcileSlices();
  }

  schedule();

  return {
    podsOf(namespace, deployment) {
      return api
        .list('v1', 'Pod', namespace)
        .filter((p) => ownerName(p, 'Deployment') === deployment)
        .sort((a, b) => (running.get(podKey(a))?.seq ?? 0) - (running.get(podKey(b))?.seq ?? 0));
    },
    async stop() {
      stopped = true;
      unsubscribe();
      for (const key of [...running.keys()]) stopInstance(key);
      await Promise.all([...stopping]);
    },
  };
}
