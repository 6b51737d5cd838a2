import { describe, expect, it } from 'vitest';
import { createWindow, LinearWindow, roundToDigits, smoothingCoefficient, WeightedWindow } from '../../../autoscaler/aggregation/bucketing.js';

/** A whole-second epoch time, so bucket boundaries are at T0 + k s. */
const T0 = Date.UTC(2026, 0, 1);
const s = (sec: number): number => T0 + sec * 1000;

type Write = [atSec: number, value: number];

interface LinearCase {
  name: string;
  windowSec: number;
  writes: Write[];
  readAtSec: number;
  want: number;
}

describe('LinearWindow (§c3 linear average)', () => {
  const cases: LinearCase[] = [
    // 1+2+3 = 6 over buckets 0..2 (3 since first write, inclusive) → 6/min(3,5) = 2
    { name: '§c3 last write at now: total / buckets since first write (partial window)', windowSec: 5, writes: [[0, 1], [1, 2], [2, 3]], readAtSec: 2, want: 2 },
    // writes 1..7 at 0..6, window 5 keeps 3,4,5,6,7 = 25; divisor min(7,5) = 5 → 5
    { name: '§c3 last write at now: divisor capped at #buckets once the window is full', windowSec: 5, writes: [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 6], [6, 7]], readAtSec: 6, want: 5 },
    // writes 1..6 at 0..5 (window 5: buckets 2,3,4,5,6, total 20). Read at 7: Δ = 2 buckets; drop slots of s6, s7
    // (they hold s1 = 2 and s2 = 3) → 15; divisor min(6, 5 − 2) = 3 → 5
    { name: '§c3 last write Δ < window ago: drop buckets after last write, divide by #buckets − Δ', windowSec: 5, writes: [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 6]], readAtSec: 7, want: 5 },
    // one write at 0 (6), read at 3: Δ = 3 < 5, slots 1..3 empty → 6 / min(1, 5 − 3) = 6
    { name: '§c3 last write Δ < window ago: divisor is min(buckets since first write, #buckets − Δ)', windowSec: 5, writes: [[0, 6]], readAtSec: 3, want: 6 },
    // last write Δ = 5 s = window → 0
    { name: '§c3 last write a whole window ago reads 0', windowSec: 5, writes: [[0, 6]], readAtSec: 5, want: 0 },
    // 1/3 = 0.333333…
    { name: '§c3 rounded to 6 decimals (1/3)', windowSec: 5, writes: [[0, 1], [1, 0], [2, 0]], readAtSec: 2, want: 0.333333 },
    // 2/3 = 0.6666666… → 0.666667 (rounded, not truncated)
    { name: '§c3 rounded to 6 decimals (2/3 rounds up)', windowSec: 5, writes: [[0, 2], [1, 0], [2, 0]], readAtSec: 2, want: 0.666667 },
    // 10 at 0, then 4 at 5: gap 5 s ≥ window → reset incl. firstWrite → 4/1
    { name: '§c3 write after a gap ≥ window resets everything including firstWrite', windowSec: 5, writes: [[0, 10], [5, 4]], readAtSec: 5, want: 4 },
    // 10 at 0, 4 at 4: gap < window; buckets 10,0,0,0,4 = 14 / min(5,5) = 2.8
    { name: '§c3 write after a gap < window keeps history (gap counts as zeros)', windowSec: 5, writes: [[0, 10], [4, 4]], readAtSec: 4, want: 2.8 },
    // 1 at 10, then 100 at 5: 5 + 5 = 10 is not after lastWrite 10 → ignored → 1/1
    { name: '§c3 write at lastWrite − window is ignored', windowSec: 5, writes: [[10, 1], [5, 100]], readAtSec: 10, want: 1 },
    // 6 at 10, 3 at 8: inside window, added; firstWrite moves to 8 → 9 / min(3, 5) = 3
    { name: '§c3 out-of-order write inside the window is added and moves firstWrite earlier', windowSec: 5, writes: [[10, 6], [8, 3]], readAtSec: 10, want: 3 },
    // 2 at 0.1 s and 3 at 0.9 s land in one bucket → 5/1
    { name: '§c2 values landing in the same second are summed', windowSec: 5, writes: [[0.1, 2], [0.9, 3]], readAtSec: 0.5, want: 5 },
    // read before the last write (d < 0) uses the "at or after now" rule: 5 / 1
    { name: '§c3 last write after now uses the total', windowSec: 5, writes: [[3, 5]], readAtSec: 1, want: 5 },
    { name: '§c3 never written reads 0', windowSec: 5, writes: [], readAtSec: 0, want: 0 },
  ];

  it.each(cases)('$name', ({ windowSec, writes, readAtSec, want }) => {
    const w = new LinearWindow(windowSec * 1000);
    for (const [at, v] of writes) w.record(s(at), v);
    expect(w.average(s(readAtSec))).toBe(want);
  });

  it.each([
    { name: '§c3 isEmpty: not empty exactly a window after the last write', readAtSec: 5, want: false },
    { name: '§c3 isEmpty: empty more than a window after the last write', readAtSec: 6, want: true },
    { name: '§c3 isEmpty: not empty right after a write', readAtSec: 0, want: false },
  ])('$name', ({ readAtSec, want }) => {
    const w = new LinearWindow(5000);
    w.record(s(0), 1);
    expect(w.isEmpty(s(readAtSec))).toBe(want);
  });

  it('§c3 isEmpty before any write', () => {
    expect(new LinearWindow(5000).isEmpty(s(0))).toBe(true);
  });

  interface ResizeCase {
    name: string;
    fromSec: number;
    toSec: number;
    writes: Write[];
    resizeAtSec: number;
    readAtSec: number;
    want: number;
  }
  const resizes: ResizeCase[] = [
    // 1..5 at 0..4; shrink to 2 s keeps the newest two buckets 4 + 5 = 9; firstWrite = lastWrite − 4 s,
    // so divisor min(5, 2) = 2 → 4.5
    { name: '§c3 resize smaller keeps the newest buckets', fromSec: 5, toSec: 2, writes: [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]], resizeAtSec: 4, readAtSec: 4, want: 4.5 },
    // grow to 10 s: all 5 buckets copied (15), divisor min(5, 10) = 5 → 3
    { name: '§c3 resize larger keeps every bucket', fromSec: 5, toSec: 10, writes: [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]], resizeAtSec: 4, readAtSec: 4, want: 3 },
    // 7 at 0, resized at 6 (> window 5 since last write): data dropped. Read at 6 in the 10 s window: Δ 6 < 10,
    // total 0 → 0 (copied, firstWrite would be 0 − 4 s and it would read 7 / min(5, 10 − 6) = 1.75)
    { name: '§c3 resize after more than a window without data drops the old data', fromSec: 5, toSec: 10, writes: [[0, 7]], resizeAtSec: 6, readAtSec: 6, want: 0 },
  ];
  it.each(resizes)('$name', ({ fromSec, toSec, writes, resizeAtSec, readAtSec, want }) => {
    const w = new LinearWindow(fromSec * 1000);
    for (const [at, v] of writes) w.record(s(at), v);
    w.resize(toSec * 1000, s(resizeAtSec));
    expect(w.average(s(readAtSec))).toBe(want);
  });

  it('§c3 resized window keeps rotating correctly', () => {
    // 1..5 at 0..4, shrink to 2 s (keeps 4, 5), then write 6 at 5: slot of s5 (= slot of s3 in a 2-ring) is cleared
    // before use, leaving 5 + 6 = 11 over min(6, 2) = 2 buckets → 5.5
    const w = new LinearWindow(5000);
    for (let i = 0; i < 5; i++) w.record(s(i), i + 1);
    w.resize(2000, s(4));
    w.record(s(5), 6);
    expect(w.average(s(5))).toBe(5.5);
  });

  it('rejects a non-positive window', () => {
    expect(() => new LinearWindow(0)).toThrow(RangeError);
  });
});

describe('WeightedWindow (§c3 weighted-exponential)', () => {
  it.each([
    // 1 − 0.0001^(1/6) = 1 − 10^(−2/3) = 1 − 0.215443 = 0.784557
    { name: '§c3 coefficient for 6 buckets is 0.78456', buckets: 6, want: 0.78456 },
    // 1 − 10^(−4/60) = 0.1423 < 0.2 → 0.2
    { name: '§c3 coefficient for 60 buckets is floored at 0.2', buckets: 60, want: 0.2 },
    // 1 − 10^(−4) = 0.9999
    { name: '§c3 coefficient for 1 bucket', buckets: 1, want: 0.9999 },
  ])('$name', ({ buckets, want }) => {
    expect(smoothingCoefficient(buckets)).toBeCloseTo(want, 5);
  });

  // m for a 6 s window, from the §c3 formula.
  const m = 1 - Math.pow(0.0001, 1 / 6);
  const q = 1 - m;

  it.each([
    // [10, 10, 5, 5] at 0..3 (newest last), read at 3: Σ b·m·q^age = m(5 + 5q + 10q² + 10q³), no normalisation
    { name: '§c3 weighted sum, newest bucket age 0', readAtSec: 3, want: m * (5 + 5 * q + 10 * q * q + 10 * q * q * q) },
    // read at 5: two empty seconds since the last write age every bucket by 2
    { name: '§c3 empty seconds since the last write count as age', readAtSec: 5, want: m * q * q * (5 + 5 * q + 10 * q * q + 10 * q * q * q) },
    // read at 10: 10 − 3 = 7 s > 6 s window → empty → 0
    { name: '§c3 weighted average of an empty window is 0', readAtSec: 10, want: 0 },
  ])('$name', ({ readAtSec, want }) => {
    const w = new WeightedWindow(6000);
    [10, 10, 5, 5].forEach((v, i) => w.record(s(i), v));
    expect(w.average(s(readAtSec))).toBeCloseTo(want, 12);
  });

  it('§c3 resize recomputes the coefficient', () => {
    const w = new WeightedWindow(6000);
    w.resize(60_000, s(0));
    expect(w.coefficient).toBe(0.2);
  });

  it('createWindow picks the algorithm', () => {
    expect(createWindow('weighted-exponential', 6000)).toBeInstanceOf(WeightedWindow);
    const linear = createWindow('linear', 6000);
    expect(linear).toBeInstanceOf(LinearWindow);
    expect(linear).not.toBeInstanceOf(WeightedWindow);
  });
});

describe('roundToDigits', () => {
  it.each([
    { value: 0.1234565, want: 0.123457 },
    { value: -0.3333335, want: -0.333334 },
    { value: 2, want: 2 },
  ])('rounds $value half away from zero to $want', ({ value, want }) => {
    expect(roundToDigits(value, 6)).toBe(want);
  });
});
