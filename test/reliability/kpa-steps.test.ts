/**
 * Reliability case 12: steady KPA behaviour. Knative's autoscale harness (test/e2e/autoscale.go, TestAutoscaleUpCountPods)
 * holds concurrency at pods × target for 90 s a step: 6 → 12 → 18 → 24 at target 6 (utilisation 70%: 4.2 per pod).
 * Here the real windows, decider and scaler run on the simulator's virtual clock (autoscaler/simulate/), pods taking
 * 2 s to start. After each step settles the ready pods stay in Knative's band [want − 1, ceil(want × 1.1)]; while a
 * step runs they never exceed what the formula allows for the load seen so far; and they never dip while load rises.
 */
import { describe, expect, it } from 'vitest';
import { resolveRevisionSpec } from '../../autoscaler/config/annotations.js';
import { parseAutoscalerConfig } from '../../autoscaler/config/autoscaler-config.js';
import { simulate } from '../../autoscaler/simulate/simulator.js';
import { parseTrace, toWorkload } from '../../autoscaler/simulate/trace.js';
import { printFigures } from './support.js';

const STEPS = [6, 12, 18, 24];
const STEP_SECONDS = 90;
const PER_POD = 6 * 0.7;

describe('reliability 12: KPA under load steps', () => {
  it('6 → 12 → 18 → 24 concurrency at target 6: replicas within the formula at every step, then back to zero', () => {
    const rows = ['second,concurrency'];
    STEPS.forEach((c, i) => {
      for (let s = 0; s < STEP_SECONDS; s++) rows.push(`${i * STEP_SECONDS + s},${c}`);
    });
    const end = STEPS.length * STEP_SECONDS;
    for (let s = 0; s < 120; s++) rows.push(`${end + s},0`);
    const trace = parseTrace(rows.join('\n'), 'steps.csv');
    const { config } = parseAutoscalerConfig({});
    const { spec, problems } = resolveRevisionSpec({ 'autoscaling.knative.dev/target': '6' }, config);
    expect(problems).toEqual([]);
    if (trace.format !== 'concurrency') throw new Error('a concurrency trace expected');
    const result = simulate(toWorkload(trace, 1), { spec, podStartSeconds: 2, initialPods: 1, load: trace.values });
    const tl = result.timeline;

    const settled: number[] = [];
    const violations: string[] = [];
    let maxSoFar = 0;
    STEPS.forEach((c, i) => {
      const want = Math.ceil(c / PER_POD);
      for (let s = i * STEP_SECONDS; s < (i + 1) * STEP_SECONDS; s++) {
        const row = tl[s]!;
        maxSoFar = Math.max(maxSoFar, c);
        // Never more than the formula allows for the most load seen (panic doubles nothing beyond that).
        if (row.ready > Math.ceil(maxSoFar / PER_POD)) violations.push(`t=${s}: ${row.ready} ready > ceil(${maxSoFar}/${PER_POD})`);
        if (s > 0 && row.ready < tl[s - 1]!.ready) violations.push(`t=${s}: ready dipped ${tl[s - 1]!.ready} → ${row.ready} while load rose`);
        // Settled: the last 30 s of the step are in Knative's band.
        if (s >= (i + 1) * STEP_SECONDS - 30 && (row.ready < want - 1 || row.ready > Math.ceil(want * 1.1))) violations.push(`t=${s}: ${row.ready} ready outside [${want - 1}, ${Math.ceil(want * 1.1)}]`);
      }
      settled.push(tl[(i + 1) * STEP_SECONDS - 1]!.ready);
    });
    const zeroAt = tl.findIndex((r, s) => s >= end && r.ready === 0);
    printFigures('12 (KPA steps)', { sent: 0, succeeded: 0, failed: {}, steps: STEPS, settledReady: settled, formula: STEPS.map((c) => Math.ceil(c / PER_POD)), panicSeconds: tl.filter((r) => r.inPanic).length, zeroSecondsAfterLoad: zeroAt - end });
    expect(violations).toEqual([]);
    expect(settled).toEqual(STEPS.map((c) => Math.ceil(c / PER_POD)));
    // Stable window 60 s + scale-to-zero grace 30 s (+ a tick), as Knative's defaults give.
    expect(zeroAt - end).toBeGreaterThan(0);
    expect(zeroAt - end).toBeLessThanOrEqual(60 + 30 + 4);
  });
});
