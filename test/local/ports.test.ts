/** Free loopback ports for replicas: distinct, bindable, never handed out twice in a row. */
import { describe, expect, it } from 'vitest';
import net from 'node:net';
import { freePorts, isListening } from '../../local/process/ports.js';

function bind(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

describe('freePorts', () => {
  it('returns distinct ports that can be bound, and none of them twice across calls', async () => {
    const a = await freePorts(5);
    const b = await freePorts(5);
    expect(new Set([...a, ...b]).size).toBe(10);
    const servers = await Promise.all(a.map(bind));
    try {
      for (const p of a) expect(await isListening(p)).toBe(true);
    } finally {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
    for (const p of a) expect(await isListening(p)).toBe(false);
  });
});

describe('freePorts called in parallel (several replicas prepared at once)', () => {
  /** A kernel that reuses just-closed ports: each bind(0) gets a pseudo-random number from a small range, a tick later. */
  function reusingKernel(seed: number, range: number): (host: string) => Promise<number> {
    let s = seed;
    return async () => {
      await new Promise((r) => setImmediate(r));
      s = (s * 1103515245 + 12345) % 2147483648;
      return 40_000 + (s % range);
    };
  }

  it('never hands the same port to two concurrent calls, even when the kernel repeats numbers', async () => {
    const bind = reusingKernel(7, 30);
    // Each round is a minute later than the last, so reservations from the round before have expired.
    for (let round = 0; round < 100; round++) {
      const now = 1_000_000_000 + round * 61_000;
      const sets = await Promise.all([0, 1, 2].map(() => freePorts(5, '127.0.0.1', now, bind)));
      const all = sets.flat();
      expect(all).toHaveLength(15);
      expect(new Set(all).size, `round ${round}: ${JSON.stringify(sets)}`).toBe(15);
    }
  });

  it('with the real kernel: many concurrent calls return all-distinct ports', async () => {
    const sets = await Promise.all(Array.from({ length: 8 }, () => freePorts(5)));
    expect(new Set(sets.flat()).size).toBe(40);
  });
});
