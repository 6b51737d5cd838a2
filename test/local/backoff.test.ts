/** Crash restart backoff: doubling from the base, capped (Kubernetes CrashLoopBackOff shape, shorter). */
import { describe, expect, it } from 'vitest';
import { RESTART_BASE_MS, RESTART_MAX_MS, restartBackoffMs } from '../../local/backoff.js';

describe('restartBackoffMs', () => {
  it.each([
    { restarts: 0, want: RESTART_BASE_MS },
    { restarts: 1, want: RESTART_BASE_MS * 2 },
    { restarts: 3, want: RESTART_BASE_MS * 8 },
    { restarts: 100, want: RESTART_MAX_MS },
    { restarts: -1, want: RESTART_BASE_MS },
  ])('after $restarts restarts waits $want ms', ({ restarts, want }) => {
    expect(restartBackoffMs(restarts)).toBe(Math.min(want, RESTART_MAX_MS));
  });
  it('never exceeds the cap and never shrinks', () => {
    let prev = 0;
    for (let i = 0; i < 50; i++) {
      const d = restartBackoffMs(i);
      expect(d).toBeGreaterThanOrEqual(prev);
      expect(d).toBeLessThanOrEqual(RESTART_MAX_MS);
      prev = d;
    }
  });
});
