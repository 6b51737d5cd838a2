/** Which pods this activator may use and how many requests the revision may have in flight (docs/knative-parity.md §b3). */

/** Knative's largest breaker capacity (2^31 − 1), used as "unlimited" at CC = 0. */
export const UNLIMITED_CAPACITY = 2_147_483_647;

/**
 * Orders addresses the way Knative sorts pod trackers (`IP:port` as strings). The assignment below is by position in
 * this order, so every activator replica computes the same slices from the same endpoint set.
 */
export function sortAddresses<T extends { address: string }>(pods: readonly T[]): T[] {
  return [...pods].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/**
 * §b3 assignment (CC > 0) of `sortedPods` to the activator at `index` among `numActivators`:
 * - index −1 (not yet in the public endpoints), ≤ 1 pod or a single activator → all pods;
 * - more activators than pods → the one pod `index mod pods`;
 * - else the slice [index·k, index·k + k) with k = ⌊pods / activators⌋, plus, for index < r where
 *   r = pods mod activators, the tail pod number `activators·k + index` (the remainder goes one each to the first r).
 * Example: 7 pods, 3 activators → k = 2, r = 1: index 0 gets pods 0,1,6; index 1 gets 2,3; index 2 gets 4,5.
 */
export function assignPods<T>(sortedPods: readonly T[], index: number, numActivators: number): T[] {
  const pods = sortedPods.length;
  if (index < 0 || pods <= 1 || numActivators <= 1) return [...sortedPods];
  if (numActivators > pods) return [sortedPods[index % pods]!];
  const k = Math.floor(pods / numActivators);
  const out = sortedPods.slice(index * k, index * k + k);
  const r = pods % numActivators;
  if (index < r) out.push(sortedPods[numActivators * k + index]!);
  return out;
}

/**
 * §b3 revision capacity from pod trackers: CC × assigned trackers for CC > 0; at CC = 0, "unlimited" as soon as any
 * tracker exists (the infinite breaker opens) and 0 otherwise. No trackers → 0, so requests wait.
 */
export function revisionCapacity(containerConcurrency: number, assignedTrackers: number): number {
  if (assignedTrackers <= 0) return 0;
  if (containerConcurrency === 0) return UNLIMITED_CAPACITY;
  return Math.min(UNLIMITED_CAPACITY, containerConcurrency * assignedTrackers);
}
