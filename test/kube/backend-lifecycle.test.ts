/**
 * Issue 12, tests 4 and 5, plus live annotation changes: a bad annotation gives one Event naming the key and the
 * workload keeps scaling with the default; a changed annotation is followed without a restart; a Deployment
 * unlabelled while managed is no longer written to and what Tide created is removed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { callService, eventually, managedDeployment, preparedService, serviceEndpoints, startRig, writesTo, type Rig } from './backend-helpers.js';
import type { RunningKubeAutoscaler } from '../../kubernetes/autoscaler-main.js';
import type { KubeObject } from '../support/kube/fake-apiserver.js';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const replicasOf = (r: Rig, name: string): number => (r.fake.get('apps/v1', 'Deployment', 'default', name)?.['spec'] as { replicas?: number }).replicas ?? -1;
const eventsFor = (r: Rig, name: string): { reason: string; message: string; type: string }[] =>
  r.fake
    .list('v1', 'Event', 'default')
    .filter((e) => (e['involvedObject'] as { name?: string }).name === name)
    .map((e) => ({ reason: e['reason'] as string, message: e['message'] as string, type: e['type'] as string }));

function withAnnotations(obj: KubeObject, annotations: Record<string, string>): KubeObject {
  return { ...obj, metadata: { ...obj.metadata, annotations: { ...obj.metadata.annotations, ...annotations } } };
}

describe('kubernetes backend: annotations', () => {
  it('a bad annotation: one Warning Event naming the key with Knative’s message; scaling goes on with the default; a fix and a live change are followed', async () => {
    rig = await startRig();
    const r = rig;
    r.fake.apply(managedDeployment('bad', { annotations: { 'autoscaling.knative.dev/max-scale': 'plenty', 'autoscaling.knative.dev/target-burst-capacity': '0' } }));
    r.fake.apply(preparedService('bad', 'bad'));
    // A second, healthy workload is unaffected.
    r.fake.apply(managedDeployment('good', { annotations: { 'autoscaling.knative.dev/min-scale': '1' } }));
    r.fake.apply(preparedService('good', 'good'));

    await eventually('the Event', () => eventsFor(r, 'bad').length > 0);
    const [ev, ...more] = eventsFor(r, 'bad');
    expect(more).toEqual([]);
    expect(ev).toEqual({ type: 'Warning', reason: 'InvalidAnnotation', message: 'autoscaling.knative.dev/max-scale: invalid value: plenty; the default applies' });
    expect(eventsFor(r, 'good')).toEqual([]);
    await eventually('good scaled to its min-scale', () => replicasOf(r, 'good') === 1);

    // Scaling goes on with the default (no max): a request at zero scales it up.
    const res = await callService(r.fake, 'default', 'bad');
    expect(res.status).toBe(200);
    expect(replicasOf(r, 'bad')).toBeGreaterThanOrEqual(1);

    // Unrelated updates (status, replicas) do not repeat the Event.
    await new Promise((x) => setTimeout(x, 300));
    expect(eventsFor(r, 'bad')).toHaveLength(1);

    // Live change: a valid min-scale is followed without a restart, and no new Event is written.
    const current = r.fake.get('apps/v1', 'Deployment', 'default', 'bad')!;
    r.fake.apply(withAnnotations(current, { 'autoscaling.knative.dev/max-scale': '5', 'autoscaling.knative.dev/min-scale': '3' }));
    await eventually('min-scale 3 applied through /scale', () => replicasOf(r, 'bad') === 3, 15_000);
    expect(eventsFor(r, 'bad')).toHaveLength(1);
    const spec = r.autoscalers[0]!.autoscaler.snapshot().revisions.find((x) => x.revision === 'bad')!.spec;
    expect([spec.minScale, spec.maxScale]).toEqual([3, 5]);
  }, 60_000);
});

describe('kubernetes backend: unmanage', () => {
  it('a Deployment unlabelled while managed: no more writes to it; its private Service and switch slices are deleted; an Event says so', async () => {
    rig = await startRig();
    const r = rig;
    r.fake.apply(managedDeployment('gone', { annotations: { 'autoscaling.knative.dev/min-scale': '1' } }));
    r.fake.apply(preparedService('gone', 'gone'));
    await eventually('scaled to min-scale and switched', () => replicasOf(r, 'gone') === 1 && r.fake.get('discovery.k8s.io/v1', 'EndpointSlice', 'default', 'gone-tide') !== undefined);
    expect(r.fake.get('v1', 'Service', 'default', 'gone-private')).toBeDefined();

    const d = r.fake.get('apps/v1', 'Deployment', 'default', 'gone')!;
    const labels = { ...d.metadata.labels };
    delete labels['tide.dev/managed'];
    r.fake.apply({ ...d, metadata: { ...d.metadata, labels } });
    const unlabelledAt = Date.now();

    await eventually('private Service and switch slices removed', () =>
      r.fake.get('v1', 'Service', 'default', 'gone-private') === undefined &&
      r.fake.list('discovery.k8s.io/v1', 'EndpointSlice', 'default').every((s) => s.metadata.labels?.['endpointslice.kubernetes.io/managed-by'] !== 'tide.dev/autoscaler'),
    );
    expect(serviceEndpoints(r.fake, 'default', 'gone')).toEqual([]);
    const unmanaged = eventsFor(r, 'gone').filter((e) => e.reason === 'Unmanaged');
    expect(unmanaged).toHaveLength(1);
    expect(unmanaged[0]!.message).toContain('Service gone stays selector-less until `tide uninject`');
    // The user's Service itself is left alone (tide uninject restores it).
    expect(r.fake.get('v1', 'Service', 'default', 'gone')?.metadata.annotations?.['tide.dev/original-selector']).toBe('{"app":"gone"}');
    expect(r.autoscalers[0]!.autoscaler.snapshot().revisions.map((x) => x.revision)).not.toContain('gone');

    // Nothing more is written for it, even when its min-scale would ask for more.
    r.fake.apply(withAnnotations(r.fake.get('apps/v1', 'Deployment', 'default', 'gone')!, { 'autoscaling.knative.dev/min-scale': '4' }));
    await new Promise((x) => setTimeout(x, 3000));
    expect(writesTo(r.fake, '/deployments/gone').filter((w) => w.atMs >= unlabelledAt)).toEqual([]);
    expect(writesTo(r.fake, '/endpointslices', 'PUT').filter((w) => w.path.includes('gone-tide') && w.atMs >= unlabelledAt + 500)).toEqual([]);
    expect(replicasOf(r, 'gone')).toBe(1);
  }, 60_000);
});

describe('kubernetes backend: a new leader', () => {
  /** The first autoscaler stops and releases its Lease; a new replica starts and leads. */
  async function handOver(r: Rig): Promise<RunningKubeAutoscaler> {
    await r.autoscalers[0]!.close({ release: true });
    const next = await r.addAutoscaler('as-1');
    await eventually('the new replica leads', () => next.elector.isLeader(), 10_000);
    return next;
  }

  it('does not write a bad-annotation Event again when the old leader wrote it; a new bad value still gets one', async () => {
    rig = await startRig();
    const r = rig;
    r.fake.apply(managedDeployment('bad', { annotations: { 'autoscaling.knative.dev/max-scale': 'plenty' } }));
    r.fake.apply(preparedService('bad', 'bad'));
    await eventually('the first leader’s Event', () => eventsFor(r, 'bad').length === 1);

    await handOver(r);
    await eventually('the new leader has looked for the Event', () => r.fake.requests.some((q) => q.method === 'GET' && q.path.endsWith('/events') && q.user !== undefined && q.query.get('fieldSelector')?.includes('involvedObject.name=bad') === true));
    await new Promise((x) => setTimeout(x, 300));
    expect(eventsFor(r, 'bad')).toHaveLength(1);

    const current = r.fake.get('apps/v1', 'Deployment', 'default', 'bad')!;
    r.fake.apply(withAnnotations(current, { 'autoscaling.knative.dev/max-scale': 'lots' }));
    await eventually('an Event for the new value', () => eventsFor(r, 'bad').length === 2);
    expect(eventsFor(r, 'bad')[1]!.message).toBe('autoscaling.knative.dev/max-scale: invalid value: lots; the default applies');
  }, 60_000);

  it('keeps a serving switch as written until its own decider chooses: no flip to the activator and back at a start', async () => {
    rig = await startRig();
    const r = rig;
    r.fake.apply(managedDeployment('steady', { annotations: { 'autoscaling.knative.dev/min-scale': '1', 'autoscaling.knative.dev/target-burst-capacity': '0' } }));
    r.fake.apply(preparedService('steady', 'steady'));
    await eventually('serving from its pod', () => replicasOf(r, 'steady') === 1 && r.autoscalers[0]!.backend.switchMode('default', 'steady') === 'serve', 15_000);
    const served = serviceEndpoints(r.fake, 'default', 'steady');
    expect(served.length).toBe(1);

    const restartedAt = Date.now();
    const next = await handOver(r);
    // Two decider ticks (2 s each) and the reconciles of its first listing.
    await new Promise((x) => setTimeout(x, 4500));
    expect(writesTo(r.fake, '/endpointslices').filter((w) => w.atMs >= restartedAt && w.path.includes('steady'))).toEqual([]);
    expect(serviceEndpoints(r.fake, 'default', 'steady')).toEqual(served);
    expect(next.backend.switchMode('default', 'steady')).toBe('serve');
  }, 60_000);
});
