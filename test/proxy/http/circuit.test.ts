import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OpossumCircuit, type CircuitState } from '../../../proxy/http/circuit.js';
import { FakeClock } from '../../support/fake-clock.js';

const CONFIG = { enabled: true, errorThresholdPercent: 50, minRequests: 10, windowMs: 10_000, resetMs: 2000 };

let circuit: OpossumCircuit | undefined;
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  circuit?.close();
  circuit = undefined;
  vi.useRealTimers();
});

/** Runs n requests through the circuit, each failing or not; returns how many were admitted. */
async function run(c: OpossumCircuit, n: number, failed: boolean): Promise<number> {
  let admitted = 0;
  for (let i = 0; i < n; i++) {
    const pass = c.enter();
    if (!pass) continue;
    admitted++;
    pass.done(failed);
    await vi.advanceTimersByTimeAsync(0);
  }
  return admitted;
}

describe('app circuit (opossum 10, Tide beyond Knative)', () => {
  it('does not open on the first failure (unlike opossum defaults): needs the minimum volume', async () => {
    circuit = new OpossumCircuit(CONFIG, new FakeClock());
    expect(await run(circuit, 9, true)).toBe(9);
    expect(circuit.state()).toBe('closed');
    expect(await run(circuit, 1, true)).toBe(1);
    expect(circuit.state()).toBe('open');
  });

  it('opens only when the failure rate is above the threshold', async () => {
    circuit = new OpossumCircuit(CONFIG, new FakeClock());
    // 10 successes then failures: at 10 failures of 20 the rate is exactly 50 %, not above.
    await run(circuit, 10, false);
    await run(circuit, 10, true);
    expect(circuit.state()).toBe('closed');
    await run(circuit, 1, true);
    expect(circuit.state()).toBe('open');
  });

  it('fails fast while open with a Retry-After counting down to the trial; exactly one half-open trial; failure reopens', async () => {
    const clock = new FakeClock(Date.now());
    circuit = new OpossumCircuit(CONFIG, clock);
    const states: CircuitState[] = [];
    circuit.onStateChange((s) => states.push(s));
    await run(circuit, 10, true);
    expect(circuit.isRejecting()).toBe(true);
    expect(circuit.enter()).toBeUndefined();
    expect(circuit.retryAfterSeconds()).toBe(2);
    clock.advance(1500);
    expect(circuit.retryAfterSeconds()).toBe(1);
    await vi.advanceTimersByTimeAsync(2000);
    expect(circuit.state()).toBe('half-open');
    expect(circuit.isRejecting()).toBe(false);
    const trial = circuit.enter();
    expect(trial).toBeDefined();
    // While the trial runs, everyone else fails fast.
    expect(circuit.isRejecting()).toBe(true);
    expect(circuit.enter()).toBeUndefined();
    trial!.done(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(circuit.state()).toBe('open');
    expect(states).toEqual(['open', 'half-open', 'open']);
  });

  it('a successful half-open trial closes the circuit', async () => {
    circuit = new OpossumCircuit(CONFIG, new FakeClock());
    await run(circuit, 10, true);
    await vi.advanceTimersByTimeAsync(2000);
    const trial = circuit.enter()!;
    trial.done(false);
    trial.done(true); // idempotent: the second report is ignored
    await vi.advanceTimersByTimeAsync(0);
    expect(circuit.state()).toBe('closed');
    expect(circuit.enter()).toBeDefined();
  });

  it('failures older than the rolling window no longer count', async () => {
    circuit = new OpossumCircuit(CONFIG, new FakeClock());
    await run(circuit, 9, true);
    await vi.advanceTimersByTimeAsync(11_000);
    await run(circuit, 1, true);
    expect(circuit.state()).toBe('closed');
  });
});
