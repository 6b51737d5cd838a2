/**
 * The 1,000-Deployment cluster of `npm run bench kube`, seeded inside the fake API server's process (`seed`, no HTTP):
 * what a namespace of injected workloads looks like once Tide has settled, so the autoscaler finds nothing to fix when
 * it starts. Per Deployment `i` (namespace `default`):
 * - the Deployment and its Service as `tide inject` makes them (kubernetes/inject/workload.ts), the Deployment
 *   annotated with a concurrency target of 10, and half of those with pods with target-burst-capacity 0
 *   (`servesDirect`);
 * - the private Service the autoscaler would create (buildPrivateService, kubernetes/logic/switch.ts);
 * - ready pods as the EndpointSlice controller lists them for the private Service, one slice per pod: 60 % of the
 *   Deployments at zero, 30 % at one pod, 5 % at two and 5 % at three (`podsOf`); pod `j` of Deployment `i` has
 *   IP 10.(j+1).(i>>8).(i&255), which the bench's scraper reads back;
 * - the switch EndpointSlice as the autoscaler writes it (buildSwitchSlices): the pods for those in serve mode, else
 *   the two activators, whose own slice is seeded in `tide-system`.
 * Pods are not created as objects: the autoscaler reads EndpointSlices only.
 */
import type { FakeApiServer, KubeObject as FakeObject } from '../../test/support/kube/fake-apiserver.js';
import { injectDeployment, prepareService, type JsonObject } from '../../kubernetes/inject/workload.js';
import { buildPrivateService, buildSwitchSlices, servingPort, targetsOf } from '../../kubernetes/logic/switch.js';
import {
  ACTIVATOR_SERVICE,
  LABEL_SERVICE_NAME,
  PRIVATE_PORTS,
  SYSTEM_NAMESPACE,
  ownerRef,
  privateServiceName,
  type Deployment,
  type EndpointSlice,
  type Service,
} from '../../kubernetes/objects.js';
import { podIp, podsOf, seededName, servesDirect, type Seeded } from './kube-scale-names.js';


const SLICE_CONTROLLER = 'endpointslice-controller.k8s.io';
const NAMESPACE = 'default';

function changed(o: ReturnType<typeof injectDeployment>): JsonObject {
  if (o.kind !== 'changed') throw new Error(`bench seed: ${o.kind === 'error' ? o.message : o.reason}`);
  return o.object;
}

export function seedManagedDeployments(fake: FakeApiServer, n: number): Seeded {
  const t0 = performance.now();
  const seed = <T>(o: object): T => fake.seed([o as FakeObject])[0] as unknown as T;
  const activators = seed<EndpointSlice>({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${ACTIVATOR_SERVICE}-0`, namespace: SYSTEM_NAMESPACE, labels: { [LABEL_SERVICE_NAME]: ACTIVATOR_SERVICE, 'endpointslice.kubernetes.io/managed-by': SLICE_CONTROLLER } },
    addressType: 'IPv4',
    endpoints: ['10.0.0.10', '10.0.0.11'].map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
    ports: [{ name: 'http', port: PRIVATE_PORTS.http.targetPort, protocol: 'TCP' }],
  });
  const activatorTargets = targetsOf([activators]).filter((t) => t.ready);
  const out: Seeded = { deployments: 0, services: 0, slices: 1, pods: 0, atZero: 0, ms: 0 };
  for (let i = 0; i < n; i++) {
    const name = seededName(i);
    const replicas = podsOf(i);
    const deployment = seed<Deployment>(
      changed(
        injectDeployment(
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            metadata: { name, namespace: NAMESPACE, labels: { app: name }, annotations: { 'autoscaling.knative.dev/target': '10', ...(servesDirect(i) ? { 'autoscaling.knative.dev/target-burst-capacity': '0' } : {}) } },
            spec: {
              replicas,
              selector: { matchLabels: { app: name } },
              template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'example/app:1', ports: [{ name: 'http', containerPort: 8080 }] }] } },
            },
          },
          { image: 'ghcr.io/tide-dev/tide:bench', version: 'bench' },
        ),
      ),
    );
    const service = seed<Service>(
      changed(prepareService({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NAMESPACE }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } }, name)),
    );
    const priv = seed<Service>(buildPrivateService(service, deployment, { app: name }));
    const podSlices: EndpointSlice[] = [];
    for (let j = 0; j < replicas; j++) {
      const pod = `${name}-5d8f7c9b6-${String(j).padStart(5, 'x')}`;
      podSlices.push(
        seed<EndpointSlice>({
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: {
            name: `${priv.metadata.name}-${pod}`,
            namespace: NAMESPACE,
            labels: { [LABEL_SERVICE_NAME]: privateServiceName(name), 'endpointslice.kubernetes.io/managed-by': SLICE_CONTROLLER },
            ownerReferences: [ownerRef('Service', 'v1', priv)],
          },
          addressType: 'IPv4',
          endpoints: [
            {
              addresses: [podIp(i, j)],
              conditions: { ready: true, serving: true, terminating: false },
              nodeName: 'node-1',
              targetRef: { kind: 'Pod', namespace: NAMESPACE, name: pod },
            },
          ],
          ports: Object.values(PRIVATE_PORTS).map((p) => ({ name: p.name, port: p.targetPort, protocol: 'TCP' })),
        }),
      );
    }
    const targets = servesDirect(i) ? targetsOf(podSlices).filter((t) => t.ready) : activatorTargets;
    for (const s of buildSwitchSlices(service, targets.map((t) => ({ ip: t.ip, name: t.name, port: servingPort(t) })))) seed(s);
    out.deployments++;
    out.services += 2;
    out.slices += podSlices.length + 1;
    out.pods += replicas;
    if (replicas === 0) out.atZero++;
  }
  out.ms = Math.round(performance.now() - t0);
  return out;
}
