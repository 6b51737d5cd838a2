/** A Clock whose time moves only when a test calls `advance`, firing due timers synchronously and in order. */
import type { Cancel, Clock } from '../../common/clock.js';

interface Timer {
  id: number;
  at: number;
  every: number | undefined;
  fn: () => void;
}

export class FakeClock implements Clock {
  #now: number;
  #timers: Timer[] = [];
  #nextId = 1;

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): Cancel {
    return this.#add(fn, ms, undefined);
  }

  setInterval(fn: () => void, ms: number): Cancel {
    return this.#add(fn, ms, Math.max(1, ms));
  }

  /** Number of pending timers, to assert that nothing leaks. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, running every timer that falls due, in time order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const t = this.#timers[0];
      if (!t || t.at > end) break;
      this.#now = t.at;
      if (t.every === undefined) this.#timers.shift();
      else t.at += t.every;
      t.fn();
    }
    this.#now = end;
  }

  #add(fn: () => void, ms: number, every: number | undefined): Cancel {
    const t: Timer = { id: this.#nextId++, at: this.#now + Math.max(0, ms), every, fn };
    this.#timers.push(t);
    return () => {
      this.#timers = this.#timers.filter((x) => x !== t);
    };
  }
}
