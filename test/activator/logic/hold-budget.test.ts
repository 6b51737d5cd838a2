import { describe, expect, it } from 'vitest';
import { HoldBudget } from '../../../activator/logic/hold-budget.js';

describe('hold bounds (Tide, beyond Knative): per revision, total, body bytes', () => {
  it('refuses past the per-revision bound but admits another revision', () => {
    const b = new HoldBudget({ maxWaitingPerRevision: 2, maxWaitingTotal: 10, maxHeldBodyBytes: 100 });
    expect(typeof b.tryHold('a', 0)).toBe('object');
    expect(typeof b.tryHold('a', 0)).toBe('object');
    expect(b.tryHold('a', 0)).toBe('revision-full');
    expect(typeof b.tryHold('b', 0)).toBe('object');
    expect(b.waiting).toBe(3);
  });

  it('refuses past the total bound', () => {
    const b = new HoldBudget({ maxWaitingPerRevision: 5, maxWaitingTotal: 2, maxHeldBodyBytes: 100 });
    b.tryHold('a', 0);
    b.tryHold('b', 0);
    expect(b.tryHold('c', 0)).toBe('total-full');
  });

  it('refuses a body that would pass the byte bound; bodiless requests still fit', () => {
    const b = new HoldBudget({ maxWaitingPerRevision: 5, maxWaitingTotal: 5, maxHeldBodyBytes: 100 });
    b.tryHold('a', 60);
    expect(b.tryHold('a', 60)).toBe('body-full');
    expect(typeof b.tryHold('a', 0)).toBe('object');
    expect(b.heldBodyBytes).toBe(60);
  });

  it('release gives everything back, once', () => {
    const b = new HoldBudget({ maxWaitingPerRevision: 1, maxWaitingTotal: 1, maxHeldBodyBytes: 10 });
    const t = b.tryHold('a', 10);
    if (typeof t === 'string') throw new Error(t);
    t.release();
    t.release();
    expect(b.waiting).toBe(0);
    expect(b.heldBodyBytes).toBe(0);
    expect(b.waitingFor('a')).toBe(0);
    expect(typeof b.tryHold('a', 10)).toBe('object');
  });
});
