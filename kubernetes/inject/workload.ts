/**
 * The injection itself, on plain objects (no YAML, no I/O): a Deployment or Pod gets the queue-proxy as Knative's
 * revision reconciler builds it (pkg/reconciler/revision/resources/deploy.go and queue.go), a Service is prepared for
 * Tide's traffic switch, and both are restored by the uninject functions. The CLI applies the result to YAML nodes
 * (yaml-document.ts) and the webhook turns it into a JSON Patch, so both inject exactly the same thing.
 */
import { resolveRevisionSpec } from '../../autoscaler/config/annotations.js';
import {
  DRAIN_QUIET_SECONDS,
  KEYS,
  QUEUE_PORTS,
  QUEUE_PROXY_NAME,
  RESERVED_PORTS,
  SERVING_PORT_NAMES,
  WAIT_FOR_DRAIN_PATH,
} from './constants.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export interface InjectOptions {
  /** The queue-proxy image. */
  image: string;
  /** The Tide version written into `tide.dev/injected`. */
  version: string;
  /** Put the queue-proxy in initContainers (Kubernetes ≥ 1.29) even without the `tide.dev/native-sidecar` annotation. */
  nativeSidecar?: boolean;
  /** The Service fronting this workload, for the queue-proxy's `SERVING_SERVICE` metric label. */
  serviceName?: string;
}

/** What happened to one object: a changed copy, a reason it was left alone, or an error naming what is wrong. */
export type Outcome =
  | { kind: 'changed'; object: JsonObject; note: string }
  | { kind: 'skipped'; reason: string }
  | { kind: 'error'; message: string };

/** An error in the input that stops injection of one object; its message names the object and the field. */
export class InjectError extends Error {
  override readonly name = 'InjectError';
}

/** The fields of the pod spec that injection replaced, kept in `tide.dev/original-pod` so uninject can restore them. */
interface OriginalPod {
  /** The app container's name. */
  container: string;
  /** Its readiness probe before it moved to the queue-proxy (absent: it had none, or it stayed). */
  readinessProbe?: Json;
  /** Whether it had a `lifecycle` object before the preStop hook was added. */
  hadLifecycle: boolean;
  /** The pod's grace period before injection (absent: unset). */
  terminationGracePeriodSeconds?: Json;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const objectAt = (o: JsonObject, key: string): JsonObject | undefined => (isObject(o[key]) ? o[key] : undefined);
const arrayAt = (o: JsonObject, key: string): Json[] => (Array.isArray(o[key]) ? o[key] : []);
const stringMap = (o: JsonObject | undefined): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o ?? {})) if (typeof v === 'string') out[k] = v;
  return out;
};
const ensureObject = (o: JsonObject, key: string): JsonObject => {
  const v = o[key];
  if (isObject(v)) return v;
  const created: JsonObject = {};
  o[key] = created;
  return created;
};
const clone = <T>(v: T): T => structuredClone(v);
/** A scalar as text ('' for anything else), for names and ports in messages and keys. */
const text = (v: Json | undefined): string => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : '');

/** `Deployment ns/name` (namespace `default` when unset), for messages. */
export function describe(obj: JsonObject, namespace?: string): string {
  const meta = objectAt(obj, 'metadata') ?? {};
  const ns = namespace ?? (typeof meta['namespace'] === 'string' ? meta['namespace'] : 'default');
  const name = typeof meta['name'] === 'string' && meta['name'] !== '' ? meta['name'] : typeof meta['generateName'] === 'string' ? `${meta['generateName']}*` : '(unnamed)';
  return `${typeof obj['kind'] === 'string' ? obj['kind'] : 'object'} ${ns}/${name}`;
}

/** The queue-proxy container of a pod spec, as a container or a native sidecar. */
function queueProxyOf(podSpec: JsonObject): JsonObject | undefined {
  return [...arrayAt(podSpec, 'containers'), ...arrayAt(podSpec, 'initContainers')].find((c): c is JsonObject => isObject(c) && c['name'] === QUEUE_PROXY_NAME);
}

/** True when the pod spec already has the queue-proxy, as a container or a native sidecar. */
export function hasQueueProxy(podSpec: JsonObject): boolean {
  return queueProxyOf(podSpec) !== undefined;
}

/** The `tide.dev/original-pod` record injection left: undefined when there is none, an Error when it cannot be read. */
function originalPodOf(deployment: JsonObject): OriginalPod | undefined | Error {
  const recorded = stringMap(objectAt(objectAt(deployment, 'metadata') ?? {}, 'annotations'))[KEYS.originalPod];
  if (recorded === undefined) return undefined;
  try {
    const original = JSON.parse(recorded) as OriginalPod;
    if (typeof original.container !== 'string') throw new Error('no container name');
    return original;
  } catch (err) {
    return err as Error;
  }
}

/** True for `apps/v1` Deployments, the one workload kind `tide inject` changes. */
export function isDeployment(obj: JsonObject): boolean {
  return obj['apiVersion'] === 'apps/v1' && obj['kind'] === 'Deployment';
}

/**
 * Adds the queue-proxy to a Deployment's pod template and marks the Deployment managed.
 * Skips one that is already injected; returns an error (never throws) when the app container or port cannot be found.
 * `namespace` names the object in messages when it carries none (an admission request's object).
 */
export function injectDeployment(deployment: JsonObject, opts: InjectOptions, namespace?: string): Outcome {
  const what = describe(deployment, namespace);
  const template = objectAt(objectAt(deployment, 'spec') ?? {}, 'template');
  const podSpec = template && objectAt(template, 'spec');
  if (!template || !podSpec) return { kind: 'error', message: `${what}: spec.template.spec is missing` };
  if (hasQueueProxy(podSpec)) {
    const marked = stringMap(objectAt(objectAt(deployment, 'metadata') ?? {}, 'annotations'))[KEYS.injected] !== undefined;
    if (!marked) return { kind: 'skipped', reason: `already has a container named ${QUEUE_PROXY_NAME}` };
    return moveProbeAgain(deployment, what) ?? { kind: 'skipped', reason: 'already injected' };
  }
  const meta = objectAt(deployment, 'metadata') ?? {};
  const name = typeof meta['name'] === 'string' ? meta['name'] : '';
  const annotations = { ...stringMap(objectAt(meta, 'annotations')), ...stringMap(objectAt(objectAt(template, 'metadata') ?? {}, 'annotations')) };
  try {
    const out = clone(deployment);
    const outTemplate = objectAt(objectAt(out, 'spec')!, 'template')!;
    const { original, native } = injectPodSpec(objectAt(outTemplate, 'spec')!, { what, revision: name, annotations, opts });
    const outMeta = ensureObject(out, 'metadata');
    ensureObject(outMeta, 'labels')[KEYS.managed] = 'true';
    const outAnnotations = ensureObject(outMeta, 'annotations');
    outAnnotations[KEYS.injected] = opts.version;
    outAnnotations[KEYS.originalPod] = JSON.stringify(original);
    return { kind: 'changed', object: out, note: `queue-proxy added${native ? ' as a native sidecar' : ''} (app container ${original.container})` };
  } catch (err) {
    if (err instanceof InjectError) return { kind: 'error', message: err.message };
    throw err;
  }
}

/**
 * Adds the queue-proxy to a bare Pod (the webhook's second kind). `namespace` is the request's when the Pod names none.
 * The revision is the Pod's `app.kubernetes.io/name` or `app` label, else its name.
 */
export function injectPod(pod: JsonObject, opts: InjectOptions, namespace?: string): Outcome {
  const what = describe(pod, namespace);
  const podSpec = objectAt(pod, 'spec');
  if (!podSpec) return { kind: 'error', message: `${what}: spec is missing` };
  if (hasQueueProxy(podSpec)) return { kind: 'skipped', reason: 'already injected' };
  const meta = objectAt(pod, 'metadata') ?? {};
  const labels = stringMap(objectAt(meta, 'labels'));
  const fallback = typeof meta['name'] === 'string' && meta['name'] !== '' ? meta['name'] : (text(meta['generateName']) || 'pod').replace(/-$/, '');
  const revision = labels['app.kubernetes.io/name'] ?? labels['app'] ?? fallback;
  try {
    const out = clone(pod);
    const { original, native } = injectPodSpec(objectAt(out, 'spec')!, { what, revision, annotations: stringMap(objectAt(meta, 'annotations')), opts });
    ensureObject(ensureObject(out, 'metadata'), 'annotations')[KEYS.injected] = opts.version;
    return { kind: 'changed', object: out, note: `queue-proxy added${native ? ' as a native sidecar' : ''} (app container ${original.container})` };
  } catch (err) {
    if (err instanceof InjectError) return { kind: 'error', message: err.message };
    throw err;
  }
}

interface PodContext {
  what: string;
  revision: string;
  annotations: Record<string, string>;
  opts: InjectOptions;
}

/** Mutates `podSpec` (a copy): the queue-proxy added, the app's readiness probe moved, preStop and grace period set. */
function injectPodSpec(podSpec: JsonObject, ctx: PodContext): { original: OriginalPod; native: boolean } {
  const { what, opts } = ctx;
  const { spec, problems } = resolveRevisionSpec(ctx.annotations);
  const relevant = problems.filter((p) => p.key.startsWith('tide.dev/'));
  if (relevant.length > 0) throw new InjectError(`${what}: ${relevant.map((p) => `${p.key}: ${p.message}`).join('; ')}`);

  const app = findAppContainer(podSpec, what);
  const appName = text(app['name']);
  const userPort = findAppPort(app, what);
  for (const c of [...arrayAt(podSpec, 'containers'), ...arrayAt(podSpec, 'initContainers')]) {
    if (!isObject(c)) continue;
    for (const p of arrayAt(c, 'ports')) {
      if (isObject(p) && typeof p['containerPort'] === 'number' && RESERVED_PORTS.has(p['containerPort'])) {
        throw new InjectError(
          `${what}: container ${text(c['name'])} uses port ${p['containerPort']}, which the queue-proxy needs (${[...RESERVED_PORTS].join(', ')}); move the app to another port`,
        );
      }
    }
  }

  const nativeAnnotation = ctx.annotations[KEYS.nativeSidecar];
  if (nativeAnnotation !== undefined && nativeAnnotation !== 'true' && nativeAnnotation !== 'false') {
    throw new InjectError(`${what}: ${KEYS.nativeSidecar}: expected "true" or "false", got ${JSON.stringify(nativeAnnotation)}`);
  }
  const native = opts.nativeSidecar === true || nativeAnnotation === 'true';

  const original: OriginalPod = { container: appName, hadLifecycle: isObject(app['lifecycle']) };
  if (podSpec['terminationGracePeriodSeconds'] !== undefined) original.terminationGracePeriodSeconds = podSpec['terminationGracePeriodSeconds'];

  // §a6: HTTP, TCP and gRPC readiness probes move to the queue-proxy, which runs them against the app; an exec probe
  // stays with the kubelet and the queue-proxy checks the app's port over TCP instead.
  const userProbe = objectAt(app, 'readinessProbe');
  const moves = userProbe !== undefined && movesToQueueProxy(userProbe);
  let servingProbe: JsonObject = { tcpSocket: { port: userPort } };
  if (moves) {
    original.readinessProbe = userProbe;
    servingProbe = resolveProbePorts(userProbe, app, userPort);
    delete app['readinessProbe'];
  }

  // §a7: the app's preStop keeps it alive until the queue-proxy has drained. As a native sidecar the queue-proxy only
  // gets SIGTERM after the app has stopped, so a /wait-for-drain call would not be followed by one; the app instead
  // sleeps the drain's quiet period while its endpoints are withdrawn (Kubernetes ≥ 1.30 `sleep` action).
  const lifecycle = ensureObject(app, 'lifecycle');
  if (lifecycle['preStop'] !== undefined) {
    throw new InjectError(`${what}: container ${appName} already has lifecycle.preStop; Tide needs it to wait for the queue-proxy's drain`);
  }
  lifecycle['preStop'] = native
    ? { sleep: { seconds: DRAIN_QUIET_SECONDS } }
    : { httpGet: { path: WAIT_FOR_DRAIN_PATH, port: QUEUE_PORTS.admin.containerPort } };

  // §a7: Knative sets the grace period to the revision timeout; the drain first waits its quiet period, then lets
  // requests that may each run for the whole timeout finish, so both are needed. A longer grace period is kept.
  const grace = spec.timeoutSeconds + DRAIN_QUIET_SECONDS;
  const current = podSpec['terminationGracePeriodSeconds'];
  if (typeof current !== 'number' || current < grace) podSpec['terminationGracePeriodSeconds'] = grace;

  const container = queueProxyContainer({
    image: opts.image,
    revision: ctx.revision,
    service: opts.serviceName,
    userPort,
    containerConcurrency: spec.containerConcurrency,
    timeoutSeconds: spec.timeoutSeconds,
    responseStartTimeoutSeconds: spec.responseStartTimeoutSeconds,
    idleTimeoutSeconds: spec.idleTimeoutSeconds,
    servingProbe,
    userProbe: moves ? userProbe : undefined,
  });
  if (native) {
    container['restartPolicy'] = 'Always';
    const init = arrayAt(podSpec, 'initContainers');
    podSpec['initContainers'] = [...init, container];
  } else {
    podSpec['containers'] = [...arrayAt(podSpec, 'containers'), container];
  }
  return { original, native };
}

/** The one container that serves HTTP: the only one, or the only one with a serving-named port, or the only one with ports. */
function findAppContainer(podSpec: JsonObject, what: string): JsonObject {
  const containers = arrayAt(podSpec, 'containers').filter(isObject);
  if (containers.length === 0) throw new InjectError(`${what}: the pod template has no containers`);
  if (containers.length === 1) return containers[0]!;
  const names = containers.map((c) => text(c['name'])).join(', ');
  const byName = containers.filter((c) => arrayAt(c, 'ports').some((p) => isObject(p) && SERVING_PORT_NAMES.includes(text(p['name']))));
  if (byName.length === 1) return byName[0]!;
  const withPorts = containers.filter((c) => arrayAt(c, 'ports').length > 0);
  if (byName.length === 0 && withPorts.length === 1) return withPorts[0]!;
  throw new InjectError(
    `${what}: cannot tell which of its ${containers.length} containers (${names}) serves HTTP; give exactly one of them a port named "http"`,
  );
}

/** The app's port: the one named http/http1/h2c, else its only port. Never a guess. */
function findAppPort(app: JsonObject, what: string): number {
  const name = text(app['name']);
  const ports = arrayAt(app, 'ports').filter(isObject);
  const named = ports.filter((p) => SERVING_PORT_NAMES.includes(text(p['name'])));
  const pick = named.length >= 1 ? named[0] : ports.length === 1 ? ports[0] : undefined;
  if (pick === undefined) {
    throw new InjectError(
      ports.length === 0
        ? `${what}: cannot determine the app port: container ${name} declares no ports; add ports: [{name: http, containerPort: <port>}]`
        : `${what}: cannot determine the app port: container ${name} has ${ports.length} ports and none is named http, http1 or h2c`,
    );
  }
  const port = pick['containerPort'];
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new InjectError(`${what}: container ${name}: containerPort must be an integer in [1, 65535], got ${JSON.stringify(port)}`);
  }
  return port;
}

/** HTTP, TCP and gRPC readiness probes move to the queue-proxy (§a6); an exec probe stays with the kubelet. */
function movesToQueueProxy(probe: JsonObject): boolean {
  return isObject(probe['httpGet']) || isObject(probe['tcpSocket']) || isObject(probe['grpc']);
}

/**
 * An injected Deployment whose app container has a movable readiness probe again: `kubectl apply` of the unchanged
 * manifest puts back the probe that injection moved, and a user may change it. The probe moves to the queue-proxy
 * again (SERVING_READINESS_PROBE and the kubelet's timings), and the kept original follows it, so uninject restores
 * the probe as last applied. Undefined when there is nothing to move (or the Deployment was not injected by Tide).
 */
function moveProbeAgain(deployment: JsonObject, what: string): Outcome | undefined {
  const original = originalPodOf(deployment);
  if (original === undefined || original instanceof Error) return undefined;
  const out = clone(deployment);
  const podSpec = objectAt(objectAt(objectAt(out, 'spec') ?? {}, 'template') ?? {}, 'spec') ?? {};
  const app = arrayAt(podSpec, 'containers').find((c): c is JsonObject => isObject(c) && c['name'] === original.container);
  const probe = app && objectAt(app, 'readinessProbe');
  if (!app || !probe || !movesToQueueProxy(probe)) return undefined;
  const queueProxy = queueProxyOf(podSpec);
  const probeEnv = queueProxy && arrayAt(queueProxy, 'env').find((e): e is JsonObject => isObject(e) && e['name'] === 'SERVING_READINESS_PROBE');
  if (!queueProxy || !probeEnv) return undefined;
  let userPort: number;
  try {
    userPort = findAppPort(app, what);
  } catch (err) {
    if (err instanceof InjectError) return { kind: 'error', message: err.message };
    throw err;
  }
  probeEnv['value'] = JSON.stringify(resolveProbePorts(probe, app, userPort));
  queueProxy['readinessProbe'] = queueReadinessProbe(probe);
  original.readinessProbe = probe;
  delete app['readinessProbe'];
  ensureObject(ensureObject(out, 'metadata'), 'annotations')[KEYS.originalPod] = JSON.stringify(original);
  return { kind: 'changed', object: out, note: `already injected; the app's readiness probe, applied again, moved to the queue-proxy again (app container ${original.container})` };
}

/** The probe as the queue-proxy reads it (proxy/config.ts): named ports resolved against the app container's ports. */
function resolveProbePorts(probe: JsonObject, app: JsonObject, userPort: number): JsonObject {
  const out = clone(probe);
  for (const kind of ['httpGet', 'tcpSocket']) {
    const action = objectAt(out, kind);
    if (!action || typeof action['port'] !== 'string') continue;
    const named = arrayAt(app, 'ports').find((p) => isObject(p) && p['name'] === action['port']);
    action['port'] = isObject(named) && typeof named['containerPort'] === 'number' ? named['containerPort'] : userPort;
  }
  return out;
}

interface QueueProxySpec {
  image: string;
  revision: string;
  service: string | undefined;
  userPort: number;
  containerConcurrency: number;
  timeoutSeconds: number;
  responseStartTimeoutSeconds: number;
  idleTimeoutSeconds: number;
  servingProbe: JsonObject;
  userProbe: JsonObject | undefined;
}

/**
 * The kubelet asks the queue-proxy, which probes the app (§a6), with the user's timings. Without them: every second
 * (pods join the Service fast), and up to 10 s per check to cover the queue-proxy's own polling of the app.
 */
function queueReadinessProbe(userProbe: JsonObject | undefined): JsonObject {
  const probe: JsonObject = {
    httpGet: { path: '/', port: QUEUE_PORTS.serving.containerPort, httpHeaders: [{ name: 'K-Network-Probe', value: 'queue' }] },
    periodSeconds: 1,
    timeoutSeconds: 10,
  };
  for (const key of ['initialDelaySeconds', 'periodSeconds', 'timeoutSeconds', 'successThreshold', 'failureThreshold']) {
    const v = userProbe?.[key];
    if (typeof v === 'number' && v > 0) probe[key] = v;
  }
  return probe;
}

/** The sidecar, as Knative's makeQueueContainer builds it (resources/queue.go), with Tide's defaults. */
function queueProxyContainer(s: QueueProxySpec): JsonObject {
  const field = (fieldPath: string): JsonObject => ({ valueFrom: { fieldRef: { fieldPath } } });
  const env: JsonObject[] = [
    { name: 'SERVING_NAMESPACE', ...field('metadata.namespace') },
    { name: 'SERVING_SERVICE', value: s.service ?? '' },
    { name: 'SERVING_CONFIGURATION', value: s.revision },
    { name: 'SERVING_REVISION', value: s.revision },
    { name: 'SERVING_POD', ...field('metadata.name') },
    { name: 'SERVING_POD_IP', ...field('status.podIP') },
    { name: 'QUEUE_SERVING_PORT', value: String(QUEUE_PORTS.serving.containerPort) },
    { name: 'USER_PORT', value: String(s.userPort) },
    { name: 'CONTAINER_CONCURRENCY', value: String(s.containerConcurrency) },
    { name: 'REVISION_TIMEOUT_SECONDS', value: String(s.timeoutSeconds) },
    { name: 'REVISION_RESPONSE_START_TIMEOUT_SECONDS', value: String(s.responseStartTimeoutSeconds) },
    { name: 'REVISION_IDLE_TIMEOUT_SECONDS', value: String(s.idleTimeoutSeconds) },
    { name: 'SERVING_READINESS_PROBE', value: JSON.stringify(s.servingProbe) },
  ];
  return {
    name: QUEUE_PROXY_NAME,
    image: s.image,
    args: ['queue-proxy'],
    ports: Object.values(QUEUE_PORTS).map((p) => ({ name: p.name, containerPort: p.containerPort })),
    env,
    readinessProbe: queueReadinessProbe(s.userProbe),
    // Knative's default CPU request (queue-sidecar-cpu-request 25m). Memory on Node 24: ~72 MB at rest and 133–165 MB
    // peak under `npm run bench proxy`; the limit leaves room for the 354–358 MB peak of the hostile suite's rapid-reset
    // attack (test/reliability/hostile-rapid-reset.test.ts), so an attack is not also an OOM kill.
    resources: { requests: { cpu: '25m', memory: '128Mi' }, limits: { memory: '512Mi' } },
    securityContext: {
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

/**
 * Restores a Deployment injected by `injectDeployment`: the queue-proxy removed, the app's probe, lifecycle and the
 * grace period as they were, the managed label and Tide's annotations gone.
 */
export function uninjectDeployment(deployment: JsonObject): Outcome {
  const what = describe(deployment);
  const podSpec = objectAt(objectAt(objectAt(deployment, 'spec') ?? {}, 'template') ?? {}, 'spec');
  const original = originalPodOf(deployment);
  if (original === undefined || !podSpec) return { kind: 'skipped', reason: 'not injected by tide' };
  if (original instanceof Error) return { kind: 'error', message: `${what}: ${KEYS.originalPod}: cannot read it (${original.message}); restore the workload by hand` };
  const out = clone(deployment);
  const outSpec = objectAt(objectAt(objectAt(out, 'spec')!, 'template')!, 'spec')!;
  for (const key of ['containers', 'initContainers']) {
    if (!Array.isArray(outSpec[key])) continue;
    outSpec[key] = outSpec[key].filter((c) => !(isObject(c) && c['name'] === QUEUE_PROXY_NAME));
    if (key === 'initContainers' && outSpec[key].length === 0) delete outSpec[key];
  }
  const app = arrayAt(outSpec, 'containers').find((c): c is JsonObject => isObject(c) && c['name'] === original.container);
  if (app) {
    if (original.readinessProbe !== undefined) app['readinessProbe'] = original.readinessProbe;
    const lifecycle = objectAt(app, 'lifecycle');
    if (lifecycle) {
      delete lifecycle['preStop'];
      if (!original.hadLifecycle && Object.keys(lifecycle).length === 0) delete app['lifecycle'];
    }
  }
  if (original.terminationGracePeriodSeconds === undefined) delete outSpec['terminationGracePeriodSeconds'];
  else outSpec['terminationGracePeriodSeconds'] = original.terminationGracePeriodSeconds;
  const outMeta = objectAt(out, 'metadata')!;
  removeKey(outMeta, 'labels', KEYS.managed);
  removeKey(outMeta, 'annotations', KEYS.injected);
  removeKey(outMeta, 'annotations', KEYS.originalPod);
  return { kind: 'changed', object: out, note: `queue-proxy removed (app container ${original.container} restored)` };
}

function removeKey(meta: JsonObject, map: 'labels' | 'annotations', key: string): void {
  const m = objectAt(meta, map);
  if (!m) return;
  delete m[key];
  if (Object.keys(m).length === 0) delete meta[map];
}

/** The pod template labels of a Deployment, and its namespace, for matching Services. */
export function podLabels(deployment: JsonObject): Record<string, string> {
  return stringMap(objectAt(objectAt(objectAt(objectAt(deployment, 'spec') ?? {}, 'template') ?? {}, 'metadata') ?? {}, 'labels'));
}

export function namespaceOf(obj: JsonObject): string {
  const ns = objectAt(obj, 'metadata')?.['namespace'];
  return typeof ns === 'string' && ns !== '' ? ns : 'default';
}

export function nameOf(obj: JsonObject): string {
  const n = objectAt(obj, 'metadata')?.['name'];
  return typeof n === 'string' ? n : '';
}

/** True for a v1 Service. */
export function isService(obj: JsonObject): boolean {
  return obj['apiVersion'] === 'v1' && obj['kind'] === 'Service';
}

/** The Service's selector (empty when it has none). */
export function serviceSelector(service: JsonObject): Record<string, string> {
  return stringMap(objectAt(objectAt(service, 'spec') ?? {}, 'selector'));
}

/** The Deployment a prepared Service names in `tide.dev/deployment`, if any. */
export function preparedFor(service: JsonObject): string | undefined {
  return stringMap(objectAt(objectAt(service, 'metadata') ?? {}, 'annotations'))[KEYS.deployment];
}

/** True when every selector pair is among `labels` (and the selector is not empty). */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/**
 * True when `service` is the one in front of `deployment` (the rule `tide inject` and the webhook share): same
 * namespace, and its selector matches the pod template labels, or, once prepared (no selector left), it names the
 * Deployment in `tide.dev/deployment`. A prepared Service whose selector came back (the user's YAML re-applied)
 * matches by that selector again.
 */
export function fronts(service: JsonObject, deployment: JsonObject): boolean {
  if (namespaceOf(service) !== namespaceOf(deployment)) return false;
  const selector = serviceSelector(service);
  const prepared = preparedFor(service);
  if (prepared !== undefined && Object.keys(selector).length === 0) return nameOf(deployment) === prepared;
  return selects(selector, podLabels(deployment));
}

/** True when `prepareService` has nothing to do: prepared, and no selector came back since. */
export function isPrepared(service: JsonObject): boolean {
  return preparedFor(service) !== undefined && Object.keys(serviceSelector(service)).length === 0;
}

/**
 * Prepares a Service for Tide's switch (kube-contract): its selector moves into `tide.dev/original-selector`, each
 * port's targetPort is recorded and pointed at the queue-proxy (the backend writes its EndpointSlices), and it is
 * labelled managed and annotated with its Deployment.
 */
export function prepareService(service: JsonObject, deploymentName: string): Outcome {
  if (isPrepared(service)) return { kind: 'skipped', reason: 'already prepared' };
  const out = preparedFor(service) === undefined ? clone(service) : reapplied(service);
  const spec = objectAt(out, 'spec');
  if (!spec) return { kind: 'error', message: `${describe(service)}: spec is missing` };
  const original: Record<string, Json> = {};
  for (const p of arrayAt(spec, 'ports')) {
    if (!isObject(p)) continue;
    const key = typeof p['name'] === 'string' && p['name'] !== '' ? p['name'] : text(p['port']);
    original[key] = p['targetPort'] ?? null;
    p['targetPort'] = QUEUE_PORTS.serving.containerPort;
  }
  const meta = ensureObject(out, 'metadata');
  ensureObject(meta, 'labels')[KEYS.managed] = 'true';
  const annotations = ensureObject(meta, 'annotations');
  annotations[KEYS.originalSelector] = JSON.stringify(spec['selector'] ?? {});
  annotations[KEYS.originalTargetPorts] = JSON.stringify(original);
  annotations[KEYS.deployment] = deploymentName;
  delete spec['selector'];
  return { kind: 'changed', object: out, note: `prepared for Deployment ${deploymentName} (selector moved to ${KEYS.originalSelector})` };
}

/**
 * A prepared Service whose selector is back (the user's unchanged YAML applied over it: `kubectl apply` sets the
 * fields the YAML names and keeps Tide's annotations) as it was before preparation: the selector it now has, and the
 * recorded targetPort for each port still pointing at the queue-proxy (one the YAML set anew is kept).
 */
function reapplied(service: JsonObject): JsonObject {
  const restored = restoreService(service);
  if (restored.kind !== 'changed') return clone(service);
  const out = restored.object;
  const spec = ensureObject(out, 'spec');
  const current = objectAt(service, 'spec') ?? {};
  spec['selector'] = clone(current['selector'] ?? {});
  const currentPorts = arrayAt(current, 'ports');
  arrayAt(spec, 'ports').forEach((p, i) => {
    const now = currentPorts[i];
    if (!isObject(p) || !isObject(now) || now['targetPort'] === QUEUE_PORTS.serving.containerPort) return;
    if (now['targetPort'] === undefined) delete p['targetPort'];
    else p['targetPort'] = now['targetPort'];
  });
  return out;
}

/** Undoes `prepareService` exactly. */
export function restoreService(service: JsonObject): Outcome {
  const meta = objectAt(service, 'metadata') ?? {};
  const annotations = stringMap(objectAt(meta, 'annotations'));
  const recordedSelector = annotations[KEYS.originalSelector];
  if (annotations[KEYS.deployment] === undefined || recordedSelector === undefined) {
    return { kind: 'skipped', reason: 'not prepared by tide' };
  }
  let selector: Json;
  let targets: Record<string, Json>;
  try {
    selector = JSON.parse(recordedSelector) as Json;
    targets = JSON.parse(annotations[KEYS.originalTargetPorts] ?? '{}') as Record<string, Json>;
  } catch (err) {
    return { kind: 'error', message: `${describe(service)}: cannot read ${KEYS.originalSelector} or ${KEYS.originalTargetPorts}: ${(err as Error).message}` };
  }
  const out = clone(service);
  const spec = ensureObject(out, 'spec');
  if (isObject(selector) && Object.keys(selector).length > 0) spec['selector'] = selector;
  for (const p of arrayAt(spec, 'ports')) {
    if (!isObject(p)) continue;
    const key = typeof p['name'] === 'string' && p['name'] !== '' ? p['name'] : text(p['port']);
    if (!Object.hasOwn(targets, key)) continue;
    const t = targets[key];
    if (t === null || t === undefined) delete p['targetPort'];
    else p['targetPort'] = t;
  }
  const outMeta = objectAt(out, 'metadata')!;
  removeKey(outMeta, 'labels', KEYS.managed);
  for (const key of [KEYS.originalSelector, KEYS.originalTargetPorts, KEYS.deployment]) removeKey(outMeta, 'annotations', key);
  return { kind: 'changed', object: out, note: 'selector and target ports restored' };
}
