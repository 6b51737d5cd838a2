/**
 * Issue 12, test 1: scale from zero under a burst, end to end against the fake API server and the simulator: the real
 * kube activator holds the burst, the kube autoscaler writes /scale, pods appear after a delay, every request
 * succeeds, the Service switch flips to the pods; idle → zero after the grace period with the switch back on the
 * activator; a new request wakes it again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { callService, eventually, managedDeployment, preparedService, serviceEndpoints, startRig, writesTo, type Rig } from './backend-helpers.js';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const scaleOf = (r: Rig): number => (r.fake.get('apps/v1', 'Deployment', 'default', 'hello')?.['spec'] as { replicas?: number }).replicas ?? -1;

describe('kubernetes backend: scale from zero', () => {
  it('holds a burst at zero, writes /scale, flips the switch to ready pods, scales to zero when idle, and wakes again', async () => {
    rig = await startRig({ startDelayMs: 400 });
    const r = rig;
    const activatorEp = `127.0.0.1:${r.activator.port}`;
    // Target burst capacity 0: the activator leaves the path as soon as pods are ready (Knative's default 211 keeps it in).
    r.fake.apply(managedDeployment('hello', { annotations: { 'tide.dev/container-concurrency': '10', 'autoscaling.knative.dev/target-burst-capacity': '0' } }));
    r.fake.apply(preparedService('hello', 'hello'));

    // The leader creates the private Service and points the switch at the activator.
    await eventually('the switch points at the activator', () => serviceEndpoints(r.fake, 'default', 'hello').join() === activatorEp);
    const priv = r.fake.get('v1', 'Service', 'default', 'hello-private');
    expect(priv?.['spec']).toMatchObject({ selector: { app: 'hello' } });
    expect(scaleOf(r)).toBe(0);

    // A burst at zero: 30 requests held by the activator until pods come.
    const t0 = Date.now();
    const burst = await Promise.all(Array.from({ length: 30 }, () => callService(r.fake, 'default', 'hello')));
    expect(burst.filter((x) => x.status !== 200)).toEqual([]);
    expect(burst.every((x) => x.via === activatorEp)).toBe(true);
    const scaleWrites = writesTo(r.fake, '/deployments/hello/scale');
    expect(scaleWrites.length).toBeGreaterThanOrEqual(1);
    expect(scaleWrites[0]!.atMs - t0).toBeLessThan(3000);
    // No pod ever over its container concurrency.
    for (const p of r.pods.values()) expect(p.maxInFlight).toBeLessThanOrEqual(10);
    // Replicas are written only through /scale, and only on change.
    const values = scaleWrites.map((w) => (w.body as { spec: { replicas: number } }).spec.replicas);
    for (let i = 1; i < values.length; i++) expect(values[i]).not.toBe(values[i - 1]);
    expect(writesTo(r.fake, '/deployments/hello', 'PUT').filter((w) => !w.path.endsWith('/scale'))).toEqual([]);

    // Once pods are ready the switch points at them, not the activator.
    await eventually('the switch points at the pods', () => {
      const eps = serviceEndpoints(r.fake, 'default', 'hello');
      return eps.length > 0 && !eps.includes(activatorEp);
    });
    const direct = await callService(r.fake, 'default', 'hello');
    expect(direct.status).toBe(200);
    expect(direct.via).not.toBe(activatorEp);

    // Idle: scale to zero after the grace period, the switch back on the activator first.
    await eventually('scaled to zero', () => scaleOf(r) === 0, 30_000);
    expect(serviceEndpoints(r.fake, 'default', 'hello')).toEqual([activatorEp]);

    // A new request wakes it again.
    const before = writesTo(r.fake, '/deployments/hello/scale').length;
    const again = await callService(r.fake, 'default', 'hello');
    expect(again.status).toBe(200);
    expect(again.via).toBe(activatorEp);
    expect(writesTo(r.fake, '/deployments/hello/scale').length).toBeGreaterThan(before);
    expect(scaleOf(r)).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
