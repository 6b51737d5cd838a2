import { describe, expect, it } from 'vitest';
import { assignPods, revisionCapacity, sortAddresses, UNLIMITED_CAPACITY } from '../../../activator/logic/capacity.js';

const pods = (n: number): string[] => Array.from({ length: n }, (_, i) => `p${i}`);

describe('§b3 assignment of pods to activators (sorted pods, index, remainder rule)', () => {
  it.each([
    { name: 'index −1 → all pods', n: 5, activators: 3, index: -1, want: [0, 1, 2, 3, 4] },
    { name: 'one activator → all pods', n: 5, activators: 1, index: 0, want: [0, 1, 2, 3, 4] },
    { name: 'one pod → that pod', n: 1, activators: 3, index: 2, want: [0] },
    { name: 'no pods → none', n: 0, activators: 3, index: 1, want: [] },
    { name: 'more activators than pods: index mod pods (0)', n: 2, activators: 5, index: 0, want: [0] },
    { name: 'more activators than pods: index mod pods (3)', n: 2, activators: 5, index: 3, want: [1] },
    { name: 'more activators than pods: index mod pods (4)', n: 3, activators: 5, index: 4, want: [1] },
    { name: 'even split 6/3 index 0', n: 6, activators: 3, index: 0, want: [0, 1] },
    { name: 'even split 6/3 index 2', n: 6, activators: 3, index: 2, want: [4, 5] },
    { name: '7 pods / 3 activators: k=2, r=1 → index 0 gets the tail pod 6', n: 7, activators: 3, index: 0, want: [0, 1, 6] },
    { name: '7 pods / 3 activators: index 1', n: 7, activators: 3, index: 1, want: [2, 3] },
    { name: '7 pods / 3 activators: index 2', n: 7, activators: 3, index: 2, want: [4, 5] },
    { name: '8 pods / 3 activators: r=2 → index 1 gets pod 7', n: 8, activators: 3, index: 1, want: [2, 3, 7] },
    { name: '8 pods / 3 activators: index 2 no remainder', n: 8, activators: 3, index: 2, want: [4, 5] },
    { name: '3 pods / 3 activators: one each', n: 3, activators: 3, index: 1, want: [1] },
    { name: '5 pods / 2 activators: index 0 → 0,1,4', n: 5, activators: 2, index: 0, want: [0, 1, 4] },
  ])('$name', ({ n, activators, index, want }) => {
    expect(assignPods(pods(n), index, activators)).toEqual(want.map((i) => `p${i}`));
  });

  it('every pod is assigned exactly once when activators ≤ pods', () => {
    for (let n = 1; n <= 12; n++) {
      for (let a = 1; a <= n; a++) {
        const all = Array.from({ length: a }, (_, i) => assignPods(pods(n), i, a)).flat();
        expect([...all].sort()).toEqual([...pods(n)].sort());
      }
    }
  });

  it('sorts pods by address string', () => {
    const sorted = sortAddresses([{ address: '10.0.0.2:8012' }, { address: '10.0.0.10:8012' }, { address: '10.0.0.1:8012' }]);
    // Plain string order, as Go's sort.Strings: ':' (0x3a) sorts after '0' (0x30).
    expect(sorted.map((p) => p.address)).toEqual(['10.0.0.10:8012', '10.0.0.1:8012', '10.0.0.2:8012']);
  });
});

describe('§b3 revision capacity', () => {
  it.each([
    { cc: 1, trackers: 0, want: 0 },
    { cc: 0, trackers: 0, want: 0 },
    { cc: 0, trackers: 1, want: UNLIMITED_CAPACITY },
    { cc: 1, trackers: 3, want: 3 },
    { cc: 10, trackers: 4, want: 40 },
  ])('CC $cc with $trackers trackers → $want', ({ cc, trackers, want }) => {
    expect(revisionCapacity(cc, trackers)).toBe(want);
  });
});
