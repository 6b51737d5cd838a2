/**
 * Reliability case 13: with the Kubernetes backend against the fake API server, the API server is unreachable for
 * 10 s under load. Traffic keeps flowing (the activator and the pods serve from their last known state: informers
 * keep their caches, the switch's EndpointSlices stay as written), the leader stops writing when it cannot renew its
 * Lease, and once the API server is back everything converges: informers re-watch or re-list, the Lease is taken
 * again and a scaling change made during the outage is applied. Bounded: 20 clients for about 22 s.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { callService, eventually, managedDeployment, preparedService, startRig, type Rig } from '../kube/backend-helpers.js';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const CLIENTS = 20;
const BEFORE_MS = 4000;
const DOWN_MS = 10_000;
const AFTER_MS = 8000;

describe('reliability: API server down under load (kubernetes backend)', () => {
  it('loses no request while the API server is unreachable for 10 s, and converges after', async () => {
    rig = await startRig({ startDelayMs: 200, podDelayMs: 20 });
    const r = rig;
    const replicas = (): number => (r.fake.get('apps/v1', 'Deployment', 'default', 'web')?.['spec'] as { replicas?: number }).replicas ?? -1;
    // Knative's default burst capacity keeps the activator in the path: it serves from its cached endpoints.
    r.fake.apply(managedDeployment('web', { annotations: { 'autoscaling.knative.dev/min-scale': '2', 'tide.dev/container-concurrency': '10' } }));
    r.fake.apply(preparedService('web', 'web'));
    await eventually('2 pods ready behind the activator', () => replicas() === 2 && (r.activator.app.revisionState('default', 'web')?.healthyPods ?? 0) === 2, 20_000);

    const counts = { sent: 0, ok: 0, byCause: {} as Record<string, number>, duringOutage: { sent: 0, ok: 0 } };
    let down = false;
    let running = true;
    const client = async (): Promise<void> => {
      while (running) {
        const inOutage = down;
        counts.sent++;
        if (inOutage) counts.duringOutage.sent++;
        const res = await callService(r.fake, 'default', 'web', 10_000);
        if (res.status === 200) {
          counts.ok++;
          if (inOutage) counts.duringOutage.ok++;
        } else {
          const cause = res.status === 0 ? `transport:${res.error ?? 'unknown'}` : `http:${res.status}`;
          counts.byCause[cause] = (counts.byCause[cause] ?? 0) + 1;
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, () => client());

    await new Promise((x) => setTimeout(x, BEFORE_MS));
    const leader = r.autoscalers[0]!;
    expect(leader.elector.isLeader()).toBe(true);
    r.fake.faults.setDown(true);
    down = true;
    const downAt = Date.now();
    // A scaling change made while the API server is unreachable (written straight into its store).
    const d = r.fake.get('apps/v1', 'Deployment', 'default', 'web')!;
    r.fake.apply({ ...d, metadata: { ...d.metadata, annotations: { ...d.metadata.annotations, 'autoscaling.knative.dev/min-scale': '3' } } });
    await eventually('the leader stops leading when it cannot renew', () => !leader.elector.isLeader(), DOWN_MS);
    const stoppedLeadingAfterMs = Date.now() - downAt;
    const writesDuring = r.fake.requests.filter((q) => q.method !== 'GET' && q.atMs >= downAt).length;
    await new Promise((x) => setTimeout(x, Math.max(0, DOWN_MS - (Date.now() - downAt))));
    r.fake.faults.setDown(false);
    down = false;
    const upAt = Date.now();

    const convergedAfterMs = await eventually(
      // At least min-scale (the load may ask for more), and the activator sees every pod.
      'converged: min-scale 3 applied and every pod seen by the activator',
      () => replicas() >= 3 && (r.activator.app.revisionState('default', 'web')?.healthyPods ?? 0) === replicas(),
      30_000,
    );
    await new Promise((x) => setTimeout(x, Math.max(0, AFTER_MS - (Date.now() - upAt))));
    running = false;
    await Promise.all(clients);

    const failed = counts.sent - counts.ok;
    console.log(
      `[reliability 13] API server down ${DOWN_MS} ms under ${CLIENTS} clients: sent ${counts.sent}, succeeded ${counts.ok}, failed ${failed}` +
        ` ${JSON.stringify(counts.byCause)}; during the outage sent ${counts.duringOutage.sent}, succeeded ${counts.duringOutage.ok};` +
        ` leader stopped writing after ${stoppedLeadingAfterMs} ms; API writes accepted during the outage ${writesDuring};` +
        ` converged ${convergedAfterMs} ms after the API server came back`,
    );
    expect(counts.byCause).toEqual({});
    expect(failed).toBe(0);
    expect(counts.duringOutage.ok).toBeGreaterThan(CLIENTS * 10);
    expect(writesDuring).toBe(0);
    expect(r.autoscalers[0]!.backend.health().every((h) => h.synced)).toBe(true);
    await eventually('leading again', () => leader.elector.isLeader(), 10_000);
  }, 90_000);
});
