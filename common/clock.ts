/** Time as an input: logic takes `nowMs`; loops hold a Clock so tests can swap in a fake one. */

/** Cancels a scheduled callback. Calling it twice is harmless. */
export type Cancel = () => void;

/** The one place that reads the wall clock and starts timers. All times are milliseconds. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `fn` once after `ms`. */
  setTimeout(fn: () => void, ms: number): Cancel;
  /** Calls `fn` every `ms` until cancelled. */
  setInterval(fn: () => void, ms: number): Cancel;
}

/** The real clock. Timers are unref'd so a pending timer never keeps a process alive by itself. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
};
