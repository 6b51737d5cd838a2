/**
 * E2E (issue 5): under steady load the replica count settles where the KPA formula says (§c5: ceil(observed / target)),
 * within one pod, the activator leaves the path once there is spare capacity (TBC 0: serve mode, §b1), and the service
 * returns to zero after the grace period once the load stops (§c7).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { helloYaml, closedLoopLoad, sleep, upFromYaml, waitFor, type E2E } from './support.js';

const CLIENTS = 12;
const TARGET = 4;
const DELAY_MS = 200;

const YAML = helloYaml({
  delayMs: DELAY_MS,
  timeoutSeconds: 30,
  annotations: { 'initial-scale': 0, target: TARGET, 'target-utilization-percentage': 100, 'target-burst-capacity': 0 },
});

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.stop();
  e2e = undefined;
});

describe('tide up: steady load', () => {
  it(`${CLIENTS} concurrent clients at target ${TARGET} settle at ceil(${CLIENTS}/${TARGET}) ± 1 replicas, then scale to zero after load stops`, async () => {
    e2e = await upFromYaml(YAML);
    const { up, base } = e2e;
    const want = Math.ceil(CLIENTS / TARGET); // §c5 desired = ceil(observed concurrency / target), observed ≈ clients
    const readyCount = (): number => up.backend.pods('default', 'hello').filter((p) => p.ready).length;
    const modes: string[] = [];
    const samples: number[] = [];
    let stopLoad = false;
    const t0 = Date.now();
    const load = closedLoopLoad({ base, host: 'hello.localhost', path: '/', clients: CLIENTS, maxMs: 25_000, until: () => stopLoad });
    // Ramp (panic from zero, then the stable window), then watch it settle.
    await sleep(12_000);
    for (let i = 0; i < 8; i++) {
      samples.push(up.backend.replicas('default', 'hello'));
      modes.push(up.activator.revisionState('default', 'hello')?.mode ?? '?');
      await sleep(500);
    }
    stopLoad = true;
    const replies = await load;
    const loadEnd = Date.now();
    const statuses = new Map<number, number>();
    for (const r of replies) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    console.log(`steady-load: ${replies.length} requests in ${loadEnd - t0} ms, statuses ${JSON.stringify([...statuses])}; desired replicas while settled: ${samples.join(',')} (KPA wants ${want}); activator mode: ${modes.join(',')}`);

    expect(replies.filter((r) => r.status !== 200)).toEqual([]);
    // The ramp from zero usually panics (§c5: 12 in flight on 1 pod at target 4 is dP/R = 3 ≥ 2), but whether a tick
    // sees it depends on where the 1 s panic window falls, so it is reported, not asserted (the decider's own tests do).
    const panicSeconds = up.autoscaler.history().filter((h) => h.revision === 'hello' && h.inPanic).length;
    console.log(`steady-load: ramp ${up.autoscaler.history().slice(0, 10).map((h) => `${h.desired}${h.inPanic ? 'P' : ''}`).join(' ')} (desired per second, P = panic); ${panicSeconds} s in panic`);
    for (const n of samples) expect(Math.abs(n - want)).toBeLessThanOrEqual(1);
    expect(readyCount()).toBeGreaterThanOrEqual(want - 1);
    // TBC 0: with pods ready the activator is out of the path (serve mode, §b1).
    expect(modes.at(-1)).toBe('serve');

    // Load stopped: stable window (6 s) + grace period (2 s), then zero, and back behind the activator.
    await waitFor(() => up.backend.replicas('default', 'hello') === 0 && up.backend.pods('default', 'hello').length === 0, 30_000, 'scale to zero');
    console.log(`steady-load: back at zero ${Date.now() - loadEnd} ms after the load stopped`);
    await waitFor(() => up.activator.revisionState('default', 'hello')?.mode === 'proxy', 5_000, 'proxy mode at zero');
  }, 90_000);
});
