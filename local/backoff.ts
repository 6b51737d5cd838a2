/** Restart backoff for crashed replicas: Kubernetes' CrashLoopBackOff shape (doubling, capped), scaled down for a laptop. */

/** First restart delay. Kubernetes starts at 10 s; locally a crash should be visible but not slow a demo down. */
export const RESTART_BASE_MS = 250;
/** Cap (Kubernetes: 5 min). */
export const RESTART_MAX_MS = 8_000;

/**
 * Delay before restart number `restartsSoFar + 1`: base × 2^restartsSoFar, capped.
 * @example restartBackoffMs(0) === 250; restartBackoffMs(3) === 2000; restartBackoffMs(10) === 8000
 */
export function restartBackoffMs(restartsSoFar: number, baseMs = RESTART_BASE_MS, maxMs = RESTART_MAX_MS): number {
  const n = Math.max(0, Math.floor(restartsSoFar));
  // 2^n overflows to Infinity for large n; min() keeps the cap.
  return Math.min(maxMs, baseMs * 2 ** Math.min(n, 30));
}
