/**
 * Conformance of the metric windows with Knative's own tests (knative/serving 98e5ef90,
 * pkg/autoscaler/aggregation/bucketing_test.go, aggregation/max/timewindow_test.go and max/window_test.go). `tide replay` takes window
 * averages, so these scenarios drive `createWindow` / `TimeWindowMax` directly, with Knative's inputs and expected
 * averages. Where Knative checks a bucket sum (it reads the buckets directly), the average that sum implies under the
 * §c3 rules is checked instead and the comment says so.
 */
import { describe, expect, it } from 'vitest';
import { createWindow, roundToDigits, smoothingCoefficient, WeightedWindow } from '../../autoscaler/aggregation/bucketing.js';
import { TimeWindowMax } from '../../autoscaler/aggregation/windowed-max.js';

/** Knative's tests start from `time.Now()`: a time inside a second. 2026-01-01 is a multiple of 1, 2 and 3 s. */
const ALIGNED = Date.UTC(2026, 0, 1);
const NOW = ALIGNED + 123;
const sec = (base: number, s: number): number => base + Math.round(s * 1000);

/** Knative's coefficient definition, computed here independently: max(1 − (1 − 0.9999)^(1/n), 0.2). */
const knativeCoefficient = (buckets: number): number => Math.max(1 - Math.pow(1 - 0.9999, 1 / buckets), 0.2);

type Op = { record: [atSec: number, value: number] } | { read: number; want: number } | { resize: number; atSec: number };

/** Runs record / read / resize operations on a fresh window; returns [what, got, want] per read. */
function drive(windowSec: number, granularitySec: number, base: number, ops: Op[]): [string, number, number][] {
  const w = createWindow('linear', windowSec * 1000, granularitySec * 1000);
  const reads: [string, number, number][] = [];
  for (const op of ops) {
    if ('record' in op) w.record(sec(base, op.record[0]), op.record[1]);
    else if ('resize' in op) w.resize(op.resize * 1000, sec(base, op.atSec));
    else reads.push([`read at +${op.read}s`, w.average(sec(base, op.read)), op.want]);
  }
  return reads;
}

describe('§c3 linear window: Knative bucketing_test.go', () => {
  const cases: { name: string; windowSec: number; granularitySec: number; base: number; ops: Op[] }[] = [
    {
      name: 'TestTimedFloat64BucketsWindowAverage',
      windowSec: 5,
      granularitySec: 1,
      base: NOW,
      ops: [
        { record: [0, 1] },
        { read: 0, want: 1 }, // one bucket since the first write, not 1/5
        { record: [1, 2] },
        { record: [2, 3] },
        { record: [3, 4] },
        { record: [4, 5] },
        { read: 4, want: 15 / 5 },
        { read: 3.6, want: 15 / 5 }, // reading behind the last write
        { read: 6, want: (15 - 1 - 2) / (5 - 2) }, // short hole: two stale buckets dropped
        { read: 10, want: 0 }, // nothing for a whole window
        { record: [6, 91] },
        { read: 6, want: (15 - 1 - 2 + 91) / 5 },
        { record: [60, 1984] }, // a minute later: everything resets
        { read: 60, want: 1984 },
        { record: [57, 4] }, // out of order, inside the window: moves the first write back
        { read: 60, want: (4 + 1984) / 4 },
        { record: [61, 5] },
        { read: 61, want: (4 + 1984 + 5) / 5 },
        { record: [58, 10] },
        { read: 61, want: (4 + 10 + 1984 + 5) / 5 },
        { record: [55, 10] }, // older than a window: ignored
        { read: 61, want: (4 + 10 + 1984 + 5) / 5 },
        { record: [56, 10] }, // exactly a window old: ignored
        { read: 61, want: (4 + 10 + 1984 + 5) / 5 },
        { record: [66, 10] }, // a gap of exactly one window resets
        { read: 66, want: 10 },
      ],
    },
    {
      name: 'TestDescendingRecord',
      windowSec: 5,
      granularitySec: 1,
      base: NOW,
      ops: [...[8, 7, 6, 5, 4, 3, 2, 1, 0].map((s): Op => ({ record: [s, 5] })), { read: 5, want: 5 }],
    },
    {
      // Knative checks the sum 15, then the sum 7 after a write at +8 s; the average reads that sum over 5 buckets.
      name: 'TestTimedFloat64BucketsHoles',
      windowSec: 5,
      granularitySec: 1,
      base: NOW,
      ops: [...[0, 1, 2, 3, 4].map((s): Op => ({ record: [s, s + 1] })), { read: 4, want: 15 / 5 }, { record: [8, 2] }, { read: 8, want: 7 / 5 }],
    },
    {
      // Knative checks the bucket sum 100 over five written seconds: average 100 / 5.
      name: 'TestTimedFloat64BucketsManyReps',
      windowSec: 60,
      granularitySec: 1,
      base: ALIGNED,
      ops: [...[1, 2, 3, 4, 5].flatMap((s) => [0, 1, 2, 3, 4].map((t): Op => ({ record: [s, s - 1 + t] }))), { read: 5, want: 100 / 5 }],
    },
    {
      name: 'TestTimedFloat64BucketsManyRepsWithNonMonotonicalOrder',
      windowSec: 60,
      granularitySec: 1,
      base: ALIGNED,
      ops: [...[0, 3, 2, 1, 4].flatMap((s, p) => [0, 1, 2, 3, 4].map((t): Op => ({ record: [s, p + t] }))), { read: 4, want: 100 / 5 }],
    },
    {
      // Knative checks the per-bucket sums 11, 1, 1 (1 s buckets, 2 min window); the average is 13 over 4 seconds.
      name: 'TestTimedFloat64BucketsSimple (granularity = 1s)',
      windowSec: 120,
      granularitySec: 1,
      base: ALIGNED,
      ops: [{ record: [0, 1] }, { record: [0.1, 10] }, { record: [1, 1] }, { record: [3, 1] }, { read: 3, want: 13 / 4 }],
    },
    {
      // Knative checks the sums 12 and 1 in 5 s buckets; the average is 13 over 2 buckets.
      name: 'TestTimedFloat64BucketsSimple (granularity = 5s)',
      windowSec: 120,
      granularitySec: 5,
      base: ALIGNED,
      ops: [{ record: [0, 1] }, { record: [3, 11] }, { record: [6, 1] }, { read: 6, want: 13 / 2 }],
    },
    {
      name: 'TestTimedFloat64BucketsResizeWindow',
      windowSec: 5,
      granularitySec: 1,
      base: NOW,
      ops: [
        ...[0, 1, 2, 3, 4, 5].map((s): Op => ({ record: [s, s + 1] })),
        { read: 5, want: (2 + 3 + 4 + 5 + 6) / 5 }, // the first second rolled out
        { resize: 10, atSec: 5 },
        { read: 5, want: (2 + 3 + 4 + 5 + 6) / 5 }, // at most 5 buckets of data
        { record: [6, 7] },
        { read: 6, want: roundToDigits((2 + 3 + 4 + 5 + 6 + 7) / 6, 6) },
        { resize: 4, atSec: 6 }, // the two oldest buckets go
        { read: 6, want: (4 + 5 + 6 + 7) / 4 },
        { resize: 4, atSec: 6 }, // same size: nothing changes
        { read: 6, want: (4 + 5 + 6 + 7) / 4 },
      ],
    },
    {
      // ceil(5/3) = 2 buckets. Knative checks sums: 4+5+6 and 7 (the 10+2+3 bucket reused), then +42, then 42+7
      // after shrinking. The averages follow from the first write Knative sets on resize (§c3).
      name: 'TestTimedFloat64BucketsWindowUpdate3sGranularity',
      windowSec: 5,
      granularitySec: 3,
      base: ALIGNED,
      ops: [
        { record: [0, 10] },
        { record: [1, 2] },
        { record: [2, 3] },
        { record: [3, 4] },
        { record: [4, 5] },
        { record: [5, 6] },
        { record: [6, 7] },
        { read: 6, want: (4 + 5 + 6 + 7) / 2 },
        { resize: 10, atSec: 6 }, // 4 buckets; first write = last write − 1 bucket
        { read: 6, want: (4 + 5 + 6 + 7) / 2 },
        { record: [9.3, 42] },
        { read: 9, want: roundToDigits((4 + 5 + 6 + 7 + 42) / 3, 6) },
        { resize: 4, atSec: 9 }, // 2 buckets: 7 and 42 stay
        { read: 9, want: (42 + 7) / 2 },
      ],
    },
  ];

  it.each(cases)('$name', ({ windowSec, granularitySec, base, ops }) => {
    for (const [what, got, want] of drive(windowSec, granularitySec, base, ops)) expect(got, what).toBe(want);
  });

  it('TestTimedFloat64BucketsSimple (empty): a new window is empty', () => {
    expect(createWindow('linear', 120_000).isEmpty(ALIGNED)).toBe(true);
  });

  // Knative: resizing a window whose data is older than the window resets the first write to the zero time; the
  // zero first write then counts as "the whole window" (lastWrite − zero time saturates), so a value recorded into
  // the last write's bucket afterwards is averaged over all buckets.
  it('TestTimedFloat64BucketsWindowUpdateNoOp: a stale resize forgets the first write', () => {
    const w = createWindow('linear', 5000);
    w.record(NOW, 19.82);
    w.resize(10_000, sec(NOW, 60));
    expect(w.average(NOW)).toBe(0);
    w.record(NOW, 20);
    expect(w.average(NOW)).toBe(20 / 10);
  });
});

describe('§c3 weighted-exponential window: Knative bucketing_test.go', () => {
  it.each([
    { buckets: 100, want: 0.2 },
    { buckets: 60, want: 0.2 },
    { buckets: 40, want: 0.20567 },
    { buckets: 6, want: 0.78456 },
  ])('TestComputeDecayMultiplier: $buckets buckets → $want', ({ buckets, want }) => {
    expect(Math.abs(smoothingCoefficient(buckets) - want)).toBeLessThan(1e-5);
  });

  it('TestTimedFloat64BucketsWeightedAverage', () => {
    const w = createWindow('weighted-exponential', 5000);
    const m = knativeCoefficient(5);
    w.record(NOW, 2);
    let want = 2 * m;
    expect(w.average(NOW)).toBeCloseTo(want, 12);
    want *= 1 - m; // one second later, no write: everything ages by one
    expect(w.average(sec(NOW, 1))).toBeCloseTo(want, 12);
    w.record(sec(NOW, 1), 2);
    want += 2 * m;
    expect(w.average(sec(NOW, 1))).toBeCloseTo(want, 12);
    for (let i = 0; i < 5; i++) w.record(sec(NOW, 2 + i), i + 2);
    want = 6 * m + 5 * m * (1 - m) + 4 * m * (1 - m) ** 2 + 3 * m * (1 - m) ** 3 + 2 * m * (1 - m) ** 4;
    expect(w.average(sec(NOW, 6))).toBeCloseTo(want, 12);
    expect(w.average(sec(NOW, 16))).toBe(0);
  });

  it('TestWeightedFloat64BucketsResizeWindow', () => {
    const w = createWindow('weighted-exponential', 5000) as WeightedWindow;
    expect(w.coefficient).toBeCloseTo(knativeCoefficient(5), 12);
    for (let i = 0; i < 6; i++) w.record(sec(NOW, i), i + 1);
    expect(roundToDigits(w.average(sec(NOW, 5)), 3)).toBe(5.812);
    w.resize(10_000, sec(NOW, 5));
    expect(w.coefficient).toBeCloseTo(knativeCoefficient(10), 12);
  });

  it.each([
    { digits: 6, value: 3.6e-17, want: 0 },
    { digits: 3, value: -3.6e-17, want: 0 },
    { digits: 3, value: 0.0004, want: 0 },
    { digits: 3, value: 1.2345, want: 1.235 },
    { digits: 4, value: 1.2345, want: 1.2345 },
    { digits: 6, value: 12345, want: 12345 },
  ])('TestRoundToNDigits: $value to $digits digits → $want', ({ digits, value, want }) => {
    // + 0: Knative's `!=` treats −0 and 0 as equal.
    expect(roundToDigits(value, digits) + 0).toBe(want);
  });
});

describe('§c6 scale-down-delay window: Knative timewindow_test.go (5 s window, 1 s buckets)', () => {
  it.each([
    { name: 'single value', values: [[0, 5]], want: 5 },
    { name: 'two values in same second', values: [[0, 6], [0.5, 5]], want: 6 },
    { name: 'two values', values: [[0, 5], [1, 8]], want: 8 },
    { name: 'time gap', values: [[0, 5], [6, 4]], want: 4 },
  ] as { name: string; values: [number, number][]; want: number }[])('TestTimedWindowMax: $name', ({ values, want }) => {
    const w = new TimeWindowMax(5000, 1000);
    // Knative's "same second" pair starts at time.Now(); start inside a second so both land in one bucket.
    for (const [at, v] of values) w.record(sec(ALIGNED + 100, at), v);
    expect(w.current()).toBe(want);
  });
});

describe('§c6 sliding maximum: Knative window_test.go (5 buckets, index i recorded at i × 2 s)', () => {
  const gaps = (i: number): number => (i >= 3 ? i + 3 : i);
  const same = (): number => 1;
  it.each([
    { name: 'single value', values: [1], want: [1] },
    { name: 'ascending values', values: [1, 2], want: [1, 2] },
    { name: 'descending values', values: [2, 1], want: [2, 2] },
    { name: 'up, down, up', values: [1, 2, 1], want: [1, 2, 2] },
    { name: 'windowing out', values: [5, 6, 5, 5, 5, 5, 5], want: [5, 6, 6, 6, 6, 6, 5] },
    { name: 'windowing out with gaps', values: [6, 5, 2, 1], index: gaps, want: [6, 6, 6, 2] },
    { name: 'windowing out 2', values: [5, 6, 5, 7, 5, 5, 1], want: [5, 6, 6, 7, 7, 7, 7] },
    { name: 'windowing out 3', values: [5, 8, 5, 7, 5, 5], want: [5, 8, 8, 8, 8, 8] },
    { name: 'windowing out 4', values: [5, 8, 5, 7, 5, 5, 1], want: [5, 8, 8, 8, 8, 8, 7] },
    { name: 'windowing out 5', values: [5, 8, 5, 7, 5, 5, 1, 4, 4, 4], want: [5, 8, 8, 8, 8, 8, 7, 7, 5, 5] },
    { name: 'windowing out 6', values: [5, 8, 5, 7, 5, 5, 1, 4, 4, 4, 4], want: [5, 8, 8, 8, 8, 8, 7, 7, 5, 5, 4] },
    { name: 'windowing out 7', values: [5, 8, 5, 7, 5, 5, 1, 4, 4, 4, 4, 9], want: [5, 8, 8, 8, 8, 8, 7, 7, 5, 5, 4, 9] },
    {
      name: 'windowing out 8',
      values: [5, 8, 5, 7, 5, 5, 1, 4, 4, 4, 4, 9, 3, 4, 2, 1, 0],
      want: [5, 8, 8, 8, 8, 8, 7, 7, 5, 5, 4, 9, 9, 9, 9, 9, 4],
    },
    { name: 'multiple with same index, ascending', values: [1, 2, 3, 4, 5, 6, 7], index: same, want: [1, 2, 3, 4, 5, 6, 7] },
    { name: 'multiple with same index, descending', values: [7, 6, 5, 4, 3, 2, 1], index: same, want: [7, 7, 7, 7, 7, 7, 7] },
  ] as { name: string; values: number[]; index?: (i: number) => number; want: number[] }[])('TestWindowMax: $name', ({ values, index, want }) => {
    const w = new TimeWindowMax(10_000, 2000);
    const at = index ?? ((i: number): number => i);
    const current = values.map((v, i) => {
      w.record(ALIGNED + at(i) * 2000, v);
      return w.current();
    });
    expect(current).toEqual(want);
  });
});
