/**
 * Issue 12, test 3: watches dropped, resource versions expired, the API server answering 500 for a while: the
 * autoscaler and the activator recover and converge without a restart (re-watch from the last resourceVersion,
 * re-list on 410, backoff on errors, failed writes retried).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, managedDeployment, preparedService, serviceEndpoints, startRig, type Rig } from './backend-helpers.js';
import type { KubeObject } from '../support/kube/fake-apiserver.js';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const replicasOf = (r: Rig): number => (r.fake.get('apps/v1', 'Deployment', 'default', 'f')?.['spec'] as { replicas?: number }).replicas ?? -1;
function setMinScale(r: Rig, n: number): void {
  const d: KubeObject = r.fake.get('apps/v1', 'Deployment', 'default', 'f')!;
  r.fake.apply({ ...d, metadata: { ...d.metadata, annotations: { ...d.metadata.annotations, 'autoscaling.knative.dev/min-scale': String(n) } } });
}
const health = (r: Rig, name: string) => r.autoscalers[0]!.backend.health().find((h) => h.name === name)!;
/** The activator knows `n` ready pods of `f` (from the private Service's EndpointSlices, probed). */
const activatorPods = (r: Rig): number => r.activator.app.revisionState('default', 'f')?.healthyPods ?? -1;

describe('kubernetes backend: API faults', () => {
  it('recovers from dropped watches, expired resource versions and a run of 500s, and converges', async () => {
    rig = await startRig({ startDelayMs: 100 });
    const r = rig;
    r.fake.apply({ ...managedDeployment('f', { annotations: { 'autoscaling.knative.dev/min-scale': '1' } }) });
    r.fake.apply(preparedService('f', 'f'));
    await eventually('min-scale 1 applied and seen by the activator', () => replicasOf(r) === 1 && activatorPods(r) === 1, 15_000);

    // 1. Every watch ends (and one more time as a reset): everyone re-watches from its last resourceVersion.
    const listsBefore = health(r, 'deployments').lists;
    r.fake.faults.dropWatches();
    r.fake.faults.dropWatches('reset');
    setMinScale(r, 2);
    await eventually('min-scale 2 after dropped watches', () => replicasOf(r) === 2 && activatorPods(r) === 2, 15_000);
    expect(health(r, 'deployments').watchRestarts).toBeGreaterThanOrEqual(1);
    // A resumed watch needs no re-list.
    expect(health(r, 'deployments').lists).toBe(listsBefore);

    // 2. Resource versions expire: 410 Gone → re-list.
    r.fake.faults.expireResourceVersions();
    setMinScale(r, 3);
    await eventually('min-scale 3 after 410', () => replicasOf(r) === 3 && activatorPods(r) === 3, 15_000);
    expect(health(r, 'deployments').lists).toBeGreaterThan(listsBefore);
    expect(r.activator.sources.health().find((h) => h.name === 'deployments')!.lists).toBeGreaterThan(1);

    // 3. A run of 500s on everything (lists, watches, /scale, slices, the Lease) while the watches are cut.
    r.fake.faults.failNext(40, 500);
    r.fake.faults.dropWatches();
    setMinScale(r, 1);
    await eventually('min-scale 1 after 500s', () => replicasOf(r) === 1, 30_000);
    await eventually('activator converged', () => activatorPods(r) === 1, 15_000);
    expect(health(r, 'deployments').errors + health(r, 'services').errors + health(r, 'endpointslices').errors).toBeGreaterThan(0);
    // The switch still points somewhere valid (the activator or ready pods), and every informer watches again.
    expect(serviceEndpoints(r.fake, 'default', 'f').length).toBeGreaterThan(0);
    await eventually('all informers watching', () => r.autoscalers[0]!.backend.health().every((h) => h.synced && h.watching), 15_000);
  }, 90_000);
});
