/** Names and shares of the 1,000-Deployment cluster (bench/children/kube-seed.ts), shared with the autoscaler child. */

/** Ready pods of Deployment `i`: 60 % none, 30 % one, 5 % two, 5 % three. */
export function podsOf(i: number): number {
  const r = i % 20;
  return r < 12 ? 0 : r < 18 ? 1 : r === 18 ? 2 : 3;
}

/**
 * Whether Deployment `i` takes the activator out of its path once it has pods (target-burst-capacity 0: serve mode):
 * half of those with pods. The rest keep Knative's default burst capacity (211), which their few pods never cover,
 * so their switch stays on the activator (proxy mode), as Knative's would.
 */
export const servesDirect = (i: number): boolean => podsOf(i) > 0 && i % 2 === 0;

/** Deployment `i`'s name (its Service has the same). */
export const seededName = (i: number): string => `app-${String(i).padStart(4, '0')}`;

/** Pod `j` of Deployment `i`'s IP; `seededIndex` reads `i` back from it. */
export const podIp = (i: number, j: number): string => `10.${j + 1}.${i >> 8}.${i & 255}`;

export function seededIndex(ip: string): number {
  const [, , hi = '0', lo = '0'] = ip.split('.');
  return Number(hi) * 256 + Number(lo);
}

/** What bench/children/kube-seed.ts seeded (sent over IPC by bench/children/kube-apiserver.ts). */
export interface Seeded {
  deployments: number;
  /** User Services plus private Services. */
  services: number;
  /** Pod slices, switch slices and the activators' slice. */
  slices: number;
  pods: number;
  atZero: number;
  ms: number;
}
