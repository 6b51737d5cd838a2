import { describe, expect, it } from 'vitest';
import { Drainer } from '../../proxy/drainer.js';
import { FakeClock } from '../support/fake-clock.js';

async function settled(p: Promise<void>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await Promise.resolve();
  await Promise.resolve();
  return done;
}

describe('Drainer (§a7)', () => {
  it('§a7 drain finishes after the quiet period with no request', async () => {
    const clock = new FakeClock();
    const d = new Drainer(clock, 30_000);
    expect(d.isDraining).toBe(false);
    const p = d.drain();
    expect(d.isDraining).toBe(true);
    clock.advance(29_999);
    expect(await settled(p)).toBe(false);
    clock.advance(1);
    expect(await settled(p)).toBe(true);
    expect(d.isFinished).toBe(true);
    expect(d.isDraining).toBe(true);
  });

  it('§a7 each request during the drain restarts the 30 s timer', async () => {
    const clock = new FakeClock();
    const d = new Drainer(clock, 30_000);
    const p = d.drain();
    clock.advance(20_000);
    d.requestSeen();
    clock.advance(20_000);
    d.requestSeen();
    clock.advance(29_000);
    expect(await settled(p)).toBe(false);
    clock.advance(1000);
    expect(await settled(p)).toBe(true);
  });

  it('§a7 requests before any drain start no timer; a second drain() joins the first', async () => {
    const clock = new FakeClock();
    const d = new Drainer(clock, 1000);
    d.requestSeen();
    expect(clock.pending).toBe(0);
    const a = d.drain();
    clock.advance(500);
    const b = d.drain();
    expect(b).toBe(a);
    clock.advance(500);
    expect(await settled(b)).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it('§a7 reset() releases waiters and makes health checks pass again', async () => {
    const clock = new FakeClock();
    const d = new Drainer(clock, 30_000);
    const p = d.drain();
    d.reset();
    expect(await settled(p)).toBe(true);
    expect(d.isDraining).toBe(false);
    expect(d.isFinished).toBe(false);
    expect(clock.pending).toBe(0);
    // A later drain starts over.
    const q = d.drain();
    expect(q).not.toBe(p);
    expect(d.isDraining).toBe(true);
  });

  it('§a7 requests after the drain finished do not restart it', async () => {
    const clock = new FakeClock();
    const d = new Drainer(clock, 100);
    const p = d.drain();
    clock.advance(100);
    d.requestSeen();
    expect(clock.pending).toBe(0);
    expect(await settled(p)).toBe(true);
  });
});
