import { describe, expect, it } from 'vitest';
import { firstAvailable, policyFor, powerOfTwoChoices, roundRobin, type PolicyTracker } from '../../../activator/logic/lb-policy.js';
import { seededRandom } from '../../support/seeded-random.js';

/** A tracker with `cap` slots (Infinity = CC 0). */
class FakeTracker implements PolicyTracker {
  inFlight = 0;
  constructor(
    readonly id: string,
    readonly cap = Infinity,
  ) {}
  tryAcquire() {
    if (this.inFlight >= this.cap) return undefined;
    this.inFlight++;
    let done = false;
    return () => {
      if (!done) {
        done = true;
        this.inFlight--;
      }
    };
  }
}

function trackers(n: number, cap = Infinity): FakeTracker[] {
  return Array.from({ length: n }, (_, i) => new FakeTracker(`p${i}`, cap));
}

describe('§b3 power of two choices (CC = 0)', () => {
  it('picks the less loaded of two distinct random pods', () => {
    // Script the random source: first pick index 0, second draw 0 → skips over 0 → index 1.
    const seq = [0.0, 0.0, 0.9];
    const pick = powerOfTwoChoices<FakeTracker>(() => seq.shift() ?? 0);
    const ts = trackers(3);
    ts[0]!.inFlight = 5;
    ts[1]!.inFlight = 2;
    expect(pick(ts)?.tracker.id).toBe('p1');
  });

  it('never picks the same pod twice for one choice, and a tie is a coin flip', () => {
    const ts = trackers(2);
    const heads = powerOfTwoChoices<FakeTracker>((() => {
      const s = [0.0, 0.0, 0.2];
      return () => s.shift() ?? 0;
    })());
    const tails = powerOfTwoChoices<FakeTracker>((() => {
      const s = [0.0, 0.0, 0.7];
      return () => s.shift() ?? 0;
    })());
    // First index 0, second forced to 1; tie at 0 in flight: coin < 0.5 → second (p1), else first (p0).
    expect(heads(ts)?.tracker.id).toBe('p1');
    ts.forEach((t) => (t.inFlight = 0));
    expect(tails(ts)?.tracker.id).toBe('p0');
  });

  it('spreads a seeded burst so that no pod is more than a few requests above the mean', () => {
    const ts = trackers(10);
    const pick = powerOfTwoChoices<FakeTracker>(seededRandom(42));
    for (let i = 0; i < 1000; i++) expect(pick(ts)).toBeDefined();
    const loads = ts.map((t) => t.inFlight);
    expect(loads.reduce((a, b) => a + b, 0)).toBe(1000);
    // Two choices keeps the max load within log log n of the mean (100); one random choice would be ~+30.
    expect(Math.max(...loads) - 100).toBeLessThanOrEqual(3);
  });

  it('with one pod uses it, with none returns undefined', () => {
    const pick = powerOfTwoChoices<FakeTracker>(seededRandom(1));
    expect(pick(trackers(1))?.tracker.id).toBe('p0');
    expect(pick([])).toBeUndefined();
  });
});

describe('§b3 first available (CC ≤ 3)', () => {
  it('fills pods in address order and skips full ones', () => {
    const ts = trackers(3, 2);
    const pick = firstAvailable<FakeTracker>();
    const got = Array.from({ length: 6 }, () => pick(ts)?.tracker.id);
    expect(got).toEqual(['p0', 'p0', 'p1', 'p1', 'p2', 'p2']);
    expect(pick(ts)).toBeUndefined();
  });

  it('a released slot on an earlier pod is taken first', () => {
    const ts = trackers(2, 1);
    const pick = firstAvailable<FakeTracker>();
    const a = pick(ts)!;
    pick(ts);
    a.release();
    expect(pick(ts)?.tracker.id).toBe('p0');
  });
});

describe('§b3 round robin (CC > 3)', () => {
  it('rotates from a remembered index', () => {
    const ts = trackers(3, 10);
    const pick = roundRobin<FakeTracker>();
    expect(Array.from({ length: 5 }, () => pick(ts)?.tracker.id)).toEqual(['p0', 'p1', 'p2', 'p0', 'p1']);
  });

  it('skips full trackers and returns undefined when all are full', () => {
    const ts = trackers(3, 4);
    ts[1]!.inFlight = 4;
    const pick = roundRobin<FakeTracker>();
    expect(Array.from({ length: 4 }, () => pick(ts)?.tracker.id)).toEqual(['p0', 'p2', 'p0', 'p2']);
    ts[0]!.inFlight = 4;
    ts[2]!.inFlight = 4;
    expect(pick(ts)).toBeUndefined();
  });
});

describe('§b3 policy choice by containerConcurrency', () => {
  it.each([
    { cc: 0, kind: 'two choices ignores capacity', cap: Infinity },
    { cc: 1, kind: 'first available', cap: 1 },
    { cc: 3, kind: 'first available', cap: 3 },
    { cc: 4, kind: 'round robin', cap: 4 },
    { cc: 100, kind: 'round robin', cap: 100 },
  ])('CC $cc → $kind', ({ cc, cap }) => {
    const pick = policyFor<FakeTracker>(cc, seededRandom(7));
    const ts = trackers(3, cap);
    const first = pick(ts)!.tracker.id;
    const second = pick(ts)!.tracker.id;
    if (cc === 0) expect(ts.reduce((a, t) => a + t.inFlight, 0)).toBe(2);
    else if (cc <= 3) expect([first, second]).toEqual(cap === 1 ? ['p0', 'p1'] : ['p0', 'p0']);
    else expect([first, second]).toEqual(['p0', 'p1']);
  });
});
