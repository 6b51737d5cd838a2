import { describe, expect, it } from 'vitest';
import { TimeWindowMax } from '../../../autoscaler/aggregation/windowed-max.js';

/** An even whole-second epoch time: 2026-01-01 is 1767225600 s, so T0 starts a 2 s bucket. */
const T0 = Date.UTC(2026, 0, 1);
const s = (sec: number): number => T0 + sec * 1000;

interface Case {
  name: string;
  delaySec: number;
  records: [atSec: number, value: number][];
  want: number;
}

describe('TimeWindowMax (§c6 scale-down delay window)', () => {
  const cases: Case[] = [
    { name: '§c6 empty window reads 0', delaySec: 10, records: [], want: 0 },
    // 10 s / 2 s = 5 buckets: 5 at index 0 is still there at index 4 (t = 8: 4 − 0 < 5)
    { name: '§c6 the maximum holds within the window', delaySec: 10, records: [[0, 5], [2, 3], [8, 3]], want: 5 },
    // at t = 10 the index is 5: 5 − 0 ≥ 5 → 5 expires, leaving 3
    { name: '§c6 an entry expires when currentIndex − entryIndex ≥ #buckets', delaySec: 10, records: [[0, 5], [2, 3], [10, 3]], want: 3 },
    // a newer larger value replaces older smaller ones
    { name: '§c6 a newer larger value wins at once', delaySec: 10, records: [[0, 5], [2, 9]], want: 9 },
    // 0 s and 1 s share bucket floor(unixSeconds / 2); the bucket keeps 7
    { name: '§c6 max per 2 s bucket (same bucket keeps the larger value)', delaySec: 10, records: [[0, 2], [1, 7], [1.5, 4]], want: 7 },
    // 9 at index 1 (t = 3), 1 at index 6 (t = 12): 6 − 1 = 5 ≥ 5 → 9 expired
    { name: '§c6 bucket index is floor(unixSeconds / 2)', delaySec: 10, records: [[3, 9], [12, 1]], want: 1 },
    // 9 at index 1 (t = 3), 1 at index 5 (t = 11): 5 − 1 = 4 < 5 → 9 kept
    { name: '§c6 bucket index is floor(unixSeconds / 2), still inside', delaySec: 10, records: [[3, 9], [11, 1]], want: 9 },
    // delay 3 s → ceil(3/2) = 2 buckets: 6 at index 0 expires at index 2 (t = 4)
    { name: '§c6 #buckets = ceil(delay / 2 s)', delaySec: 3, records: [[0, 6], [4, 1]], want: 1 },
    { name: '§c6 #buckets = ceil(delay / 2 s), still inside', delaySec: 3, records: [[0, 6], [2, 1]], want: 6 },
    // a descending staircase: after 8 expires, 6 (index 1) is the max
    { name: '§c6 second-largest takes over when the largest expires', delaySec: 10, records: [[0, 8], [2, 6], [4, 4], [10, 2]], want: 6 },
  ];

  it.each(cases)('$name', ({ delaySec, records, want }) => {
    const w = new TimeWindowMax(delaySec * 1000);
    for (const [at, v] of records) w.record(s(at), v);
    expect(w.current()).toBe(want);
  });

  it('§c6 size is ceil(delay / 2 s)', () => {
    expect(new TimeWindowMax(3000).size).toBe(2);
    expect(new TimeWindowMax(60_000).size).toBe(30);
  });
});
