import { describe, expect, it } from 'vitest';
import { Breaker } from '../../common/breaker.js';
import { ConfigError, hasCode } from '../../common/errors.js';

describe('Breaker (docs/knative-parity.md §a4)', () => {
  it('§a4 total slots = depth + capacity: CC=1 depth=10 admits 11, the 12th fails at once', async () => {
    const b = new Breaker({ queueDepth: 10, maxConcurrency: 1, initialCapacity: 1 });
    const first = await b.acquire();
    const waiting = Array.from({ length: 10 }, () => b.acquire());
    expect(b.inFlight).toBe(11);
    expect(b.waiting).toBe(10);
    const err = await b.acquire().catch((e: unknown) => e);
    expect(hasCode(err, 'QUEUE_FULL')).toBe(true);
    expect((err as Error).message).toBe('pending request queue full');
    first();
    const second = await waiting[0]!;
    expect(b.active).toBe(1);
    second();
    for (const w of waiting.slice(1)) (await w)();
    expect(b.inFlight).toBe(0);
  });

  it('§a4 a waiter whose signal aborts leaves the queue and frees its admission slot', async () => {
    const b = new Breaker({ queueDepth: 1, maxConcurrency: 1, initialCapacity: 1 });
    const held = await b.acquire();
    const ac = new AbortController();
    const p = b.acquire(ac.signal);
    ac.abort(new Error('gone'));
    await expect(p).rejects.toThrow('gone');
    expect(b.inFlight).toBe(1);
    held();
    expect(b.inFlight).toBe(0);
  });

  it('§a4 raising capacity wakes waiters; capacity 0 with depth 1 and max 1 lets 2 wait', async () => {
    const b = new Breaker({ queueDepth: 1, maxConcurrency: 1, initialCapacity: 0 });
    const a = b.acquire();
    const c = b.acquire();
    expect(b.waiting).toBe(2);
    await expect(b.acquire()).rejects.toThrow('pending request queue full');
    b.updateConcurrency(1);
    (await a)();
    (await c)();
    expect(b.inFlight).toBe(0);
  });

  it('tryAcquire never waits and never jumps the queue; release is idempotent', () => {
    const b = new Breaker({ queueDepth: 5, maxConcurrency: 2, initialCapacity: 2 });
    const r1 = b.tryAcquire()!;
    const r2 = b.tryAcquire()!;
    expect(b.tryAcquire()).toBeUndefined();
    r1();
    r1();
    expect(b.active).toBe(1);
    r2();
    expect(b.inFlight).toBe(0);
  });

  it.each([
    { name: 'depth 0', opts: { queueDepth: 0, maxConcurrency: 1, initialCapacity: 1 }, key: 'queueDepth' },
    { name: 'negative max', opts: { queueDepth: 1, maxConcurrency: -1, initialCapacity: 0 }, key: 'maxConcurrency' },
    { name: 'initial over max', opts: { queueDepth: 1, maxConcurrency: 1, initialCapacity: 2 }, key: 'initialCapacity' },
  ])('§a4 constructor rejects $name, naming the option', ({ opts, key }) => {
    const err = (() => {
      try {
        new Breaker(opts);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.key)).toContain(key);
  });
});
