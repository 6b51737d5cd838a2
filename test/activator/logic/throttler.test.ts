import { describe, expect, it } from 'vitest';
import { RevisionThrottler, type Slot } from '../../../activator/logic/throttler.js';
import { seededRandom } from '../../support/seeded-random.js';

const pod = (n: number) => ({ name: `pod-${n}`, address: `10.0.0.${n}:8012` });
const flush = () => new Promise<void>((r) => setImmediate(r));

describe('§b3 revision throttler', () => {
  it('holds requests at zero and releases them as pods appear, never over CC per pod', async () => {
    const th = new RevisionThrottler({ containerConcurrency: 1, random: seededRandom(1) });
    const got: Slot[] = [];
    const pending = Array.from({ length: 5 }, () => th.acquire().then((s) => got.push(s)));
    await flush();
    expect(got).toHaveLength(0);
    expect(th.waiting).toBe(5);
    th.setPods([pod(1), pod(2)]);
    await flush();
    expect(got.map((s) => s.tracker.name).sort()).toEqual(['pod-1', 'pod-2']);
    expect(th.capacity).toBe(2);
    // Releasing one slot lets exactly one more through, to the freed pod.
    got[0]!.release();
    await flush();
    expect(got).toHaveLength(3);
    expect(got[2]!.tracker.name).toBe(got[0]!.tracker.name);
    for (const s of th.assigned) expect(s.inFlight).toBeLessThanOrEqual(1);
    th.setPods([pod(1), pod(2), pod(3)]);
    await flush();
    expect(got).toHaveLength(4);
    for (const s of got) s.release();
    await Promise.all(pending);
    expect(got).toHaveLength(5);
  });

  it('a pod that stays keeps its in-flight count across updates, so it never exceeds CC', async () => {
    const th = new RevisionThrottler({ containerConcurrency: 2, random: seededRandom(1) });
    th.setPods([pod(1)]);
    const a = await th.acquire();
    const b = await th.acquire();
    th.setPods([pod(1), pod(2)]); // capacity 4, but pod-1 is full
    const c = await th.acquire();
    expect(c.tracker.name).toBe('pod-2');
    expect(th.tracker('10.0.0.1:8012')?.inFlight).toBe(2);
    [a, b, c].forEach((s) => s.release());
  });

  it('a removed pod takes no new requests; its in-flight request finishes and frees capacity', async () => {
    const th = new RevisionThrottler({ containerConcurrency: 1, random: seededRandom(1) });
    th.setPods([pod(1)]);
    const a = await th.acquire();
    th.setPods([pod(2)]);
    // Breaker: capacity 1, but a's slot is still held → the next request waits until a ends.
    let b: Slot | undefined;
    void th.acquire().then((s) => (b = s));
    await flush();
    expect(b).toBeUndefined();
    a.release();
    await flush();
    expect(b?.tracker.name).toBe('pod-2');
    b?.release();
  });

  it('an aborted wait rejects with the reason and leaves nothing behind', async () => {
    const th = new RevisionThrottler({ containerConcurrency: 1, random: seededRandom(1) });
    const ac = new AbortController();
    const p = th.acquire(ac.signal);
    ac.abort(new Error('deadline'));
    await expect(p).rejects.toThrow('deadline');
    expect(th.waiting).toBe(0);
  });

  it('CC = 0: every waiter is released together as soon as one pod exists (infinite breaker)', async () => {
    const th = new RevisionThrottler({ containerConcurrency: 0, random: seededRandom(3) });
    const all = Promise.all(Array.from({ length: 50 }, () => th.acquire()));
    await flush();
    th.setPods([pod(1), pod(2)]);
    const slots = await all;
    expect(slots).toHaveLength(50);
    const per = th.assigned.map((t) => t.inFlight);
    expect(per.reduce((x, y) => x + y, 0)).toBe(50);
    slots.forEach((s) => s.release());
  });

  it('§b3 with 2 activators, index 1 uses only its share of the pods', async () => {
    const th = new RevisionThrottler({ containerConcurrency: 1, random: seededRandom(1), activatorIndex: 1, numActivators: 2 });
    th.setPods([pod(4), pod(3), pod(2), pod(1)]);
    expect(th.assigned.map((t) => t.name)).toEqual(['pod-3', 'pod-4']);
    expect(th.capacity).toBe(2);
    th.setActivatorAssignment(-1, 2);
    expect(th.capacity).toBe(4);
    const s = await th.acquire();
    expect(s.tracker.name).toBe('pod-1');
    s.release();
  });
});
