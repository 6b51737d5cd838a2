/**
 * Issue 12, test 2: leader election with a Lease. Two autoscaler replicas against the fake API server: the leader is
 * killed mid-ramp, the follower (which kept scraping) takes over within the lease duration, and every write is made
 * by the Lease's holder of the moment, so no two writers ever write in the same term. Plus the elector on a fake
 * clock: a leader that cannot renew stops counting as leader at its renew deadline, before anyone may take over.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../common/logger.js';
import type { KubeApi } from '../../kubernetes/client.js';
import { LeaderElector } from '../../kubernetes/leader.js';
import type { Lease } from '../../kubernetes/objects.js';
import { FakeClock } from '../support/fake-clock.js';
import { eventually, leaderOf, managedDeployment, preparedService, startRig, SYSTEM_NS, type Rig } from './backend-helpers.js';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

interface Write {
  identity: string;
  method: string;
  path: string;
  holder: string | undefined;
  term: number | undefined;
}

const LEASE = { durationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 400 };

describe('kubernetes backend: leader failover', () => {
  it('the follower takes over within the lease duration when the leader dies mid-ramp; only the holder ever writes', async () => {
    const writes: Write[] = [];
    const ref: { fake?: Rig['fake'] } = {};
    const record = (identity: string, method: string, path: string): void => {
      if (path.includes('/leases')) return;
      const lease = ref.fake?.get('coordination.k8s.io/v1', 'Lease', SYSTEM_NS, 'tide-autoscaler') as unknown as Lease | undefined;
      writes.push({ identity, method, path, holder: lease?.spec?.holderIdentity ?? undefined, term: lease?.spec?.leaseTransitions ?? undefined });
    };
    const wrapApi = (api: KubeApi, identity: string): KubeApi => ({
      ...api,
      create: (p, b) => (record(identity, 'POST', p), api.create(p, b)),
      replace: (p, b) => (record(identity, 'PUT', p), api.replace(p, b)),
      patch: (p, b, t) => (record(identity, 'PATCH', p), api.patch(p, b, t)),
      delete: (p) => (record(identity, 'DELETE', p), api.delete(p)),
    });
    rig = await startRig({ autoscalers: 2, startDelayMs: 200, lease: LEASE, wrapApi });
    const r = rig;
    ref.fake = r.fake;
    const replicas = (): number => (r.fake.get('apps/v1', 'Deployment', 'default', 'ha')?.['spec'] as { replicas?: number }).replicas ?? -1;
    const setMin = (n: number): void => {
      const d = r.fake.get('apps/v1', 'Deployment', 'default', 'ha')!;
      r.fake.apply({ ...d, metadata: { ...d.metadata, annotations: { ...d.metadata.annotations, 'autoscaling.knative.dev/min-scale': String(n) } } });
    };
    r.fake.apply(managedDeployment('ha', { annotations: { 'autoscaling.knative.dev/min-scale': '1' } }));
    r.fake.apply(preparedService('ha', 'ha'));

    await eventually('one leader', () => leaderOf(r.autoscalers) !== undefined);
    await eventually('ramp step 1', () => replicas() === 1, 15_000);
    setMin(2);
    await eventually('ramp step 2', () => replicas() === 2, 15_000);
    const leader = leaderOf(r.autoscalers)!;
    const follower = r.autoscalers.find((a) => a !== leader)!;
    // The follower kept collecting: it knows the pods and has scraped them.
    await eventually('follower scraped the pods', () => {
      const rev = follower.autoscaler.snapshot().revisions.find((x) => x.revision === 'ha');
      return rev !== undefined && rev.pods.filter((p) => p.ready).length === 2 && rev.lastScrape?.ok === true;
    });
    expect(follower.elector.isLeader()).toBe(false);

    // Kill the leader (no Lease hand-over) mid-ramp, and ask for more.
    const killedAt = Date.now();
    await leader.close({ release: false });
    setMin(4);
    const tookOverMs = await eventually('the follower leads', () => follower.elector.isLeader(), 10_000);
    expect(tookOverMs).toBeLessThanOrEqual(LEASE.durationMs + LEASE.retryPeriodMs + 1000);
    await eventually('the new leader finishes the ramp', () => replicas() === 4, 15_000);
    expect(Date.now() - killedAt).toBeLessThan(15_000);

    // Every write was made by the Lease's holder at that moment; each term has one writer.
    expect(writes.length).toBeGreaterThan(0);
    for (const w of writes) expect(w).toEqual({ ...w, holder: w.identity });
    const byTerm = new Map<number | undefined, Set<string>>();
    for (const w of writes) byTerm.set(w.term, (byTerm.get(w.term) ?? new Set()).add(w.identity));
    for (const ids of byTerm.values()) expect(ids.size).toBe(1);
    // Both wrote: the first leader before it died, the follower after it took over.
    expect(new Set(writes.map((w) => w.identity)).size).toBe(2);
  }, 60_000);
});

/** An in-memory Lease endpoint whose calls can be made to hang (an API server that stopped answering). */
function leaseApi(): { api: KubeApi; hang: boolean } {
  let lease: Lease | undefined;
  let rv = 0;
  const state = { hang: false } as { api: KubeApi; hang: boolean };
  const never = new Promise<never>(() => {});
  const notFound = Object.assign(new Error('not found'), { status: 404 });
  state.api = {
    server: 'memory',
    list: () => Promise.reject(new Error('unused')),
    watch: () => Promise.reject(new Error('unused')),
    get: <T,>() => (state.hang ? never : lease ? Promise.resolve(structuredClone(lease) as T) : Promise.reject(Object.assign(notFound, { name: 'KubeApiError' }))),
    create: <T,>(_p: string, b: unknown) => {
      if (state.hang) return never;
      lease = { ...(b as Lease), metadata: { ...(b as Lease).metadata, resourceVersion: String(++rv) } };
      return Promise.resolve(structuredClone(lease) as T);
    },
    replace: <T,>(_p: string, b: unknown) => {
      if (state.hang) return never;
      lease = { ...(b as Lease), metadata: { ...(b as Lease).metadata, resourceVersion: String(++rv) } };
      return Promise.resolve(structuredClone(lease) as T);
    },
    patch: () => Promise.reject(new Error('unused')),
    delete: () => Promise.reject(new Error('unused')),
  };
  return state;
}

describe('LeaderElector on a fake clock', () => {
  it('a leader that cannot renew stops leading at its renew deadline, before the lease expires for others', async () => {
    const clock = new FakeClock();
    const mem = leaseApi();
    const { KubeApiError } = await import('../../kubernetes/client.js');
    // 404 as the client reports it.
    const get = mem.api.get.bind(mem.api);
    mem.api = { ...mem.api, get: <T,>(p: string) => get<T>(p).catch((e: unknown) => Promise.reject((e as { status?: number }).status === 404 ? new KubeApiError(404, 'NotFound', 'not found') : (e as Error))) };
    const changes: boolean[] = [];
    const a = new LeaderElector({ api: mem.api, namespace: 'tide-system', name: 'l', identity: 'a', clock, logger: silentLogger(), ...{ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 }, onChange: (l) => changes.push(l) });
    a.start();
    await new Promise((x) => setImmediate(x));
    await new Promise((x) => setImmediate(x));
    expect(a.isLeader()).toBe(true);
    expect(changes).toEqual([true]);
    // The API server stops answering: renewals hang.
    mem.hang = true;
    clock.advance(9_999);
    expect(a.isLeader()).toBe(true);
    clock.advance(1);
    expect(a.isLeader()).toBe(false);
    expect(changes).toEqual([true, false]);

    // A second candidate sees the lease unchanged and may take it only after the full lease duration.
    mem.hang = false;
    const b = new LeaderElector({ api: mem.api, namespace: 'tide-system', name: 'l', identity: 'b', clock, logger: silentLogger(), leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 });
    b.start();
    for (let t = 0; t < 14_000; t += 2000) {
      await new Promise((x) => setImmediate(x));
      expect(b.isLeader()).toBe(false);
      clock.advance(2000);
    }
    for (let i = 0; i < 3 && !b.isLeader(); i++) {
      clock.advance(2000);
      await new Promise((x) => setImmediate(x));
      await new Promise((x) => setImmediate(x));
    }
    expect(b.isLeader()).toBe(true);
    expect(b.term).toBe(1);
    await a.stop(false);
    await b.stop(false);
  });
});
