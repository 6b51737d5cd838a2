/** LocalBackend: ScaleTarget (desired replicas → processes), EndpointsSource and RevisionSource for the activator. */
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../common/clock.js';
import { silentLogger } from '../../common/logger.js';
import type { EndpointsUpdate } from '../../activator/endpoints.js';
import { LocalBackend, hostsFor, normaliseHost } from '../../local/backend.js';
import { probeQueueProxy } from '../../local/http/probe.js';
import { alive, fakeLaunch, fakeService, tempDir, waitFor } from './support.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** `prepareDelayMs(name)`: extra time that replica's preparation takes (ports found out of order). */
function makeBackend(prepareDelayMs: (name: string) => number = () => 0) {
  const tmp = tempDir();
  const scales: [number, number][] = [];
  const backend = new LocalBackend({ clock: systemClock, logger: silentLogger(), probe: probeQueueProxy, readyProbeMs: 200, onScale: (_n, _r, from, to) => scales.push([from, to]) });
  cleanups.push(tmp.remove, () => backend.stopAll(2000), () => backend.killAll());
  const service = fakeService({ name: 'hello' });
  backend.addRevision({
    info: { namespace: 'default', revision: 'hello', hosts: hostsFor('default', 'hello'), containerConcurrency: 0, timeoutSeconds: 300, responseStartTimeoutSeconds: 0, idleTimeoutSeconds: 0 },
    gracePeriodMs: 2000,
    prepare: async (name) => {
      const delay = prepareDelayMs(name);
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      return fakeLaunch(service, name, tmp.dir);
    },
  });
  const updates: EndpointsUpdate[] = [];
  cleanups.push(backend.subscribe((u) => updates.push(u)));
  return { backend, updates, scales };
}

describe('LocalBackend', () => {
  it('starts at zero and tells subscribers the (empty) endpoint set at once', () => {
    const { backend, updates } = makeBackend();
    expect(backend.replicas('default', 'hello')).toBe(0);
    expect(backend.pods('default', 'hello')).toEqual([]);
    expect(updates).toEqual([{ namespace: 'default', revision: 'hello', endpoints: [] }]);
  });

  it('setReplicas(2) starts two replicas; pods and endpoints turn ready; setReplicas(0) stops them all', async () => {
    const { backend, updates, scales } = makeBackend();
    await backend.setReplicas('default', 'hello', 2);
    expect(backend.replicas('default', 'hello')).toBe(2);
    await waitFor(() => backend.pods('default', 'hello').filter((p) => p.ready).length === 2, 8000, 'two ready pods');
    const pods = backend.pods('default', 'hello');
    expect(new Set(pods.map((p) => p.name)).size).toBe(2);
    expect(new Set(pods.map((p) => p.servingAddress)).size).toBe(2);
    for (const p of pods) {
      expect(p.readySinceMs).toBeGreaterThan(0);
      expect(p.statsAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    }
    const last = updates.at(-1)!;
    expect(last.endpoints.map((e) => e.ready)).toEqual([true, true]);
    // Starting replicas were announced not-ready first, so the activator could probe them (§b4).
    expect(updates.some((u) => u.endpoints.some((e) => !e.ready))).toBe(true);

    const pids = backend.replicasOf('default', 'hello').flatMap((r) => [r.pids.app, r.pids.sidecar]);
    await backend.setReplicas('default', 'hello', 0);
    await waitFor(() => backend.pods('default', 'hello').length === 0, 8000, 'no pods');
    expect(updates.at(-1)!.endpoints).toEqual([]);
    await waitFor(() => pids.every((p) => !alive(p)), 2000, 'processes gone');
    expect(scales).toEqual([[0, 2], [2, 0]]);
  });

  it('scaling down drops a replica from the endpoints at once (terminating pods leave the set)', async () => {
    const { backend, updates } = makeBackend();
    await backend.setReplicas('default', 'hello', 2);
    await waitFor(() => backend.pods('default', 'hello').filter((p) => p.ready).length === 2, 8000, 'two ready pods');
    await backend.setReplicas('default', 'hello', 1);
    await waitFor(() => updates.at(-1)!.endpoints.length === 1, 2000, 'one endpoint');
    await waitFor(() => backend.pods('default', 'hello').length === 1, 5000, 'one pod');
    // The newest goes first when all are ready.
    expect(backend.pods('default', 'hello')[0]!.name).toBe('hello-1');
  });

  it('scaling down takes the newest replica even when its preparation finished first', async () => {
    const { backend } = makeBackend((name) => (name === 'hello-1' ? 150 : 0));
    await backend.setReplicas('default', 'hello', 2);
    await waitFor(() => backend.pods('default', 'hello').filter((p) => p.ready).length === 2, 8000, 'two ready pods');
    expect(backend.pods('default', 'hello').map((p) => p.name)).toEqual(['hello-1', 'hello-2']);
    await backend.setReplicas('default', 'hello', 1);
    await waitFor(() => backend.pods('default', 'hello').length === 1, 5000, 'one pod');
    expect(backend.pods('default', 'hello').map((p) => p.name)).toEqual(['hello-1']);
  });

  it('stopAll() stops every replica and refuses to start new ones afterwards', async () => {
    const { backend } = makeBackend();
    await backend.setReplicas('default', 'hello', 1);
    await waitFor(() => backend.pods('default', 'hello').some((p) => p.ready), 8000, 'a ready pod');
    const pids = backend.replicasOf('default', 'hello').flatMap((r) => [r.pids.app, r.pids.sidecar]);
    await backend.stopAll(2000);
    expect(backend.pods('default', 'hello')).toEqual([]);
    expect(pids.some(alive)).toBe(false);
    await backend.setReplicas('default', 'hello', 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(backend.replicasOf('default', 'hello')).toEqual([]);
  });

  it('rejects unknown revisions and bad replica counts; looks revisions up by name and Host', async () => {
    const { backend } = makeBackend();
    await expect(backend.setReplicas('default', 'nope', 1)).rejects.toThrow(/unknown revision/);
    await expect(backend.setReplicas('default', 'hello', -1)).rejects.toThrow(RangeError);
    await expect(backend.setReplicas('default', 'hello', 1.5)).rejects.toThrow(RangeError);
    expect(backend.byName('default', 'hello')?.revision).toBe('hello');
    expect(backend.byName('other', 'hello')).toBeUndefined();
    expect(backend.byHost('hello.localhost')?.revision).toBe('hello');
    expect(backend.byHost('HELLO.localhost:8080')?.revision).toBe('hello');
    expect(backend.byHost('hello.default.svc.cluster.local')?.revision).toBe('hello');
    expect(backend.byHost('other.localhost')).toBeUndefined();
    expect(backend.pods('default', 'nope')).toEqual([]);
    expect(backend.replicas('default', 'nope')).toBe(0);
  });
});

describe('normaliseHost', () => {
  it.each([
    ['hello.localhost', 'hello.localhost'],
    ['Hello.LocalHost:8080', 'hello.localhost'],
    ['hello.localhost.', 'hello.localhost'],
    ['[::1]:8080', '[::1]'],
  ])('%s → %s', (input, want) => {
    expect(normaliseHost(input)).toBe(want);
  });
});

describe('LocalBackend starting many replicas at once', () => {
  it('scale 0 → 6 in one step: every replica gets ports of its own and turns ready (no EADDRINUSE crash loop)', async () => {
    const { backend } = makeBackend();
    await backend.setReplicas('default', 'hello', 6);
    await waitFor(() => backend.pods('default', 'hello').filter((p) => p.ready).length === 6, 15_000, 'six ready pods');
    const pods = backend.pods('default', 'hello');
    const addresses = pods.flatMap((p) => [p.servingAddress, p.statsAddress]);
    expect(new Set(addresses).size).toBe(12);
    // Nobody crashed on the way (a port taken twice makes the second queue-proxy exit and restart).
    expect(backend.replicasOf('default', 'hello').map((r) => r.restarts)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});
