import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseReplayInput, replay, type ReplayDecision } from '../../cli/replay.js';
import { runTide } from '../support/cli.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/replay/panic.json', import.meta.url));

const SPEC = {
  metric: 'concurrency',
  targetValue: 10,
  totalValue: 100,
  targetBurstCapacity: 211,
  panicThreshold: 2,
  maxScaleUpRate: 1000,
  maxScaleDownRate: 2,
  stableWindowSeconds: 60,
  scaleDownDelaySeconds: 0,
  activationScale: 1,
  reachable: true,
};

const dir = mkdtempSync(join(tmpdir(), 'tide-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function lines(stdout: string): unknown[] {
  return stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown);
}

describe('tide replay', () => {
  it('§c5 replays the example file: panic entry, hold, invalid step, exit after the stable window', async () => {
    const r = await runTide(['replay', '-f', EXAMPLE]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([
      // 1 ready, S = P = 5: ceil(5/10) = 1; EBC = floor(100 − 211 − 5) = −116
      { atSeconds: 0, valid: true, desiredPods: 1, excessBurstCapacity: -116, inPanic: false },
      // dP = ceil(35/10) = 4, 4/1 ≥ 2 → panic; max(1, 1, 4) = 4; EBC = floor(100 − 211 − 35) = −146
      { atSeconds: 2, valid: true, desiredPods: 4, excessBurstCapacity: -146, inPanic: true },
      // dP = 3, 3/4 < 2 but panic lasts until 2 + 60 s; held at 4; EBC = floor(400 − 211 − 30) = 159
      { atSeconds: 4, valid: true, desiredPods: 4, excessBurstCapacity: 159, inPanic: true },
      // ds = dp = 2, never scale down in panic → 4; EBC = floor(400 − 211 − 12) = 177
      { atSeconds: 6, valid: true, desiredPods: 4, excessBurstCapacity: 177, inPanic: true },
      // null observations: invalid, last decision repeated, nothing changes
      { atSeconds: 8, valid: false, desiredPods: 4, excessBurstCapacity: 177, inPanic: true },
      // 2 + 60 = 62 s < 64 s → leave panic; ceil(15/10) = 2, floor(4/2) = 2 → 2; EBC = floor(400 − 211 − 10) = 179
      { atSeconds: 64, valid: true, desiredPods: 2, excessBurstCapacity: 179, inPanic: false },
      { atSeconds: 68, valid: true, desiredPods: 2, excessBurstCapacity: 179, inPanic: false },
    ]);
  });

  it.each([
    { name: 'reads stdin with -f -', args: ['replay', '-f', '-'] },
    { name: 'reads stdin without -f', args: ['replay'] },
  ])('$name', async ({ args }) => {
    const input = {
      spec: SPEC,
      readyPodsAtStart: 3,
      steps: [
        // starts in panic with maxPanicPods = 3: ds = max(0, floor(3/2) = 1) = 1 → held at 3; EBC = floor(300 − 211) = 89
        { atSeconds: 0, readyPods: 3, observedStable: 0, observedPanic: 0 },
        // 0 + 60 s < 61 s → leave panic → 1
        { atSeconds: 61, readyPods: 3, observedStable: 0, observedPanic: 0 },
      ],
    };
    const r = await runTide(args, { stdin: JSON.stringify(input) });
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([
      { atSeconds: 0, valid: true, desiredPods: 3, excessBurstCapacity: 89, inPanic: true },
      { atSeconds: 61, valid: true, desiredPods: 1, excessBurstCapacity: 89, inPanic: false },
    ]);
  });

  it('a step spec replaces the spec from that step on; the decider is kept', async () => {
    const input = {
      spec: { ...SPEC, panicThreshold: 10 },
      readyPodsAtStart: 0,
      steps: [
        // ceil(50/10) = 5
        { atSeconds: 0, readyPods: 5, observedStable: 50, observedPanic: 50 },
        // target 5: ceil(50/5) = 10; TBC 0 → EBC 0
        { atSeconds: 2, readyPods: 5, observedStable: 50, observedPanic: 50, spec: { ...SPEC, panicThreshold: 10, targetValue: 5, targetBurstCapacity: 0 } },
        // still target 5
        { atSeconds: 4, readyPods: 10, observedStable: 50, observedPanic: 50 },
      ],
    };
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(input));
    const r = await runTide(['replay', '-f', 'spec.json'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([
      // EBC = floor(500 − 211 − 50) = 239
      { atSeconds: 0, valid: true, desiredPods: 5, excessBurstCapacity: 239, inPanic: false },
      { atSeconds: 2, valid: true, desiredPods: 10, excessBurstCapacity: 0, inPanic: false },
      { atSeconds: 4, valid: true, desiredPods: 10, excessBurstCapacity: 0, inPanic: false },
    ]);
  });

  it('prints usage with --help', async () => {
    const r = await runTide(['replay', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: tide replay');
    expect(r.stdout).toContain('observedStable');
  });

  const bad = (patch: (doc: Record<string, unknown>) => void): string => {
    const doc: Record<string, unknown> = {
      spec: { ...SPEC },
      readyPodsAtStart: 1,
      steps: [
        { atSeconds: 0, readyPods: 1, observedStable: 1, observedPanic: 1 },
        { atSeconds: 2, readyPods: 1, observedStable: 1, observedPanic: 1 },
      ],
    };
    patch(doc);
    return JSON.stringify(doc);
  };
  type Doc = Record<string, unknown> & { spec: Record<string, unknown>; steps: Record<string, unknown>[] };

  it.each([
    { name: 'malformed JSON', stdin: '{"spec": ', want: 'not valid JSON' },
    { name: 'not an object', stdin: '[1, 2]', want: 'input: expected a JSON object, got an array' },
    { name: 'missing field', stdin: bad((d) => delete (d as Doc).spec.targetValue), want: 'spec.targetValue: expected a number > 0, got missing' },
    { name: 'ill-typed field', stdin: bad((d) => ((d as Doc).spec.reachable = 'yes')), want: 'spec.reachable: expected true or false' },
    { name: 'negative ready pods', stdin: bad((d) => ((d as Doc).steps[1]!.readyPods = -1)), want: 'steps[1].readyPods: expected a number >= 0' },
    { name: 'fractional ready pods at start', stdin: bad((d) => (d.readyPodsAtStart = 1.5)), want: 'readyPodsAtStart: expected a number >= 0 (a whole number)' },
    { name: 'unknown metric', stdin: bad((d) => ((d as Doc).spec.metric = 'cpu')), want: 'spec.metric: expected "concurrency" or "rps", got the string "cpu"' },
    { name: 'bad TBC', stdin: bad((d) => ((d as Doc).spec.targetBurstCapacity = -2)), want: 'spec.targetBurstCapacity: expected a number >= 0 or exactly -1' },
    { name: 'negative observation', stdin: bad((d) => ((d as Doc).steps[0]!.observedPanic = -3)), want: 'steps[0].observedPanic: expected a number >= 0 or null' },
    { name: 'negative time', stdin: bad((d) => ((d as Doc).steps[1]!.atSeconds = -0.5)), want: 'steps[1].atSeconds: expected a number >= 0' },
    { name: 'negative stable window', stdin: bad((d) => ((d as Doc).spec.stableWindowSeconds = -1)), want: 'spec.stableWindowSeconds: expected a number >= 0, got number -1' },
    { name: 'stable window not a number', stdin: bad((d) => ((d as Doc).spec.stableWindowSeconds = '60s')), want: 'spec.stableWindowSeconds: expected a number >= 0, got the string "60s"' },
    { name: 'bad step spec', stdin: bad((d) => ((d as Doc).steps[1]!.spec = { ...SPEC, maxScaleDownRate: 0 })), want: 'steps[1].spec.maxScaleDownRate: expected a number > 0' },
    { name: 'steps not an array', stdin: bad((d) => (d.steps = {})), want: 'steps: expected an array, got an object' },
  ])('bad input ($name) names the field and exits 2 without a stack trace', async ({ stdin, want }) => {
    const r = await runTide(['replay', '-f', '-'], { stdin });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(want);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a missing file exits 2 naming it', async () => {
    const r = await runTide(['replay', '-f', 'nope.json'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot read nope.json: ENOENT');
  });

  it('an unknown flag exits 2', async () => {
    const r = await runTide(['replay', '--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--frobnicate');
  });
});

type StepIn = { atSeconds: number; readyPods: number; observedStable: number; observedPanic: number };
const step = (atSeconds: number, readyPods: number, observedStable: number, observedPanic: number): StepIn => ({ atSeconds, readyPods, observedStable, observedPanic });
const out = (atSeconds: number, desiredPods: number, excessBurstCapacity: number, inPanic: boolean): ReplayDecision => ({ atSeconds, valid: true, desiredPods, excessBurstCapacity, inPanic });

/** Parses and replays a document in-process (the same functions the CLI runs). */
function decide(spec: Record<string, unknown>, readyPodsAtStart: number, steps: StepIn[]): { decisions: ReplayDecision[]; warnings: string[] } {
  const input = parseReplayInput({ spec, readyPodsAtStart, steps });
  return { decisions: replay(input), warnings: input.warnings };
}

// Knative's Scale(now) (pkg/autoscaler/scaling/autoscaler.go) leaves panic when `panicTime + StableWindow < now` and
// the tick is under the threshold; with StableWindow 0 that is the first later tick under it (docs/knative-parity.md §c5).
describe('stableWindowSeconds: 0 (Knative accepts a zero StableWindow)', () => {
  // Target 10, total 100, TBC 211, threshold 2, down rate 2. One pod at start, so no start panic; maxPanicPods starts at 1.
  const steps = [
    // dS = ceil(10/10) = 1, dP = ceil(30/10) = 3; 3/1 ≥ 2 → panic from 0 s; max(maxPanicPods 1, ds 1, dp 3) = 3.
    // EBC = floor(1·100 − 211 − 30) = −141
    step(0, 1, 10, 30),
    // Same time, under the threshold (dP = 1, 1/1 < 2): 0 + window < 0 is false for any window → still panic, held at 3.
    // EBC = floor(100 − 211 − 10) = −121
    step(0, 1, 10, 10),
    // 2 s later, under (dP = ceil(20/10) = 2, 2/3 < 2). Window 0: 0 + 0 < 2 → panic ends; ds = clamp(1, floor(3/2) = 1, …) = 1.
    // Window 60: 0 + 60 < 2 is false → panic goes on; max(maxPanicPods 3, ds 1, dp 2) = 3. EBC = floor(300 − 211 − 20) = 69
    step(2, 3, 10, 20),
  ];
  it.each([
    { name: 'window 0: the panic ends at the first later step under the threshold', window: 0, last: out(2, 1, 69, false) },
    { name: 'window 60: the same step is still in panic', window: 60, last: out(2, 3, 69, true) },
    { name: 'window absent: the 60 s default', window: undefined, last: out(2, 3, 69, true) },
  ])('$name', ({ window, last }) => {
    const spec: Record<string, unknown> = { ...SPEC, stableWindowSeconds: window };
    if (window === undefined) delete spec.stableWindowSeconds;
    const { decisions, warnings } = decide(spec, 1, steps);
    expect(decisions).toEqual([out(0, 3, -141, true), out(0, 3, -121, true), last]);
    expect(warnings).toEqual([]);
  });

  it('a step spec may set the window to 0 too', () => {
    const input = parseReplayInput({ spec: SPEC, readyPodsAtStart: 1, steps: [{ ...step(0, 1, 0, 0), spec: { ...SPEC, stableWindowSeconds: 0 } }] });
    expect(input.steps[0]!.spec!.stableWindowMs).toBe(0);
    expect(input.spec.stableWindowMs).toBe(60_000);
  });
});

describe('a step earlier than the one before it is computed for its own time, as Knative computes Scale(now)', () => {
  it('panic: an earlier step over the threshold stamps the panic with its own (earlier) time', () => {
    // Target 10, total 100, TBC 211, threshold 2, down rate 2, window 60 s; one pod at start.
    const { decisions, warnings } = decide(SPEC, 1, [
      // dP = 3, 3/1 ≥ 2 → panic from 100 s; 3 pods. EBC = floor(100 − 211 − 30) = −141
      step(100, 1, 10, 30),
      // dP = 1, 1/3 < 2 and 100 + 60 < 170 → panic ends; ds = max(1, floor(3/2) = 1) = 1. EBC = floor(300 − 211 − 10) = 79
      step(170, 3, 10, 10),
      // Back to 150 s: dP = ceil(60/10) = 6, 6/3 ≥ 2 → panic from 150 s; max(0, 1, 6) = 6. EBC = floor(300 − 211 − 60) = 29
      step(150, 3, 10, 60),
      // 150 + 60 = 210 < 200 is false → still panic, held at 6 (a panic stamped at 170 would last to 230).
      // EBC = floor(600 − 211 − 10) = 379
      step(200, 6, 10, 10),
      // 210 < 211 → panic ends; ds = max(1, floor(6/2) = 3) = 3
      step(211, 6, 10, 10),
    ]);
    expect(decisions).toEqual([out(100, 3, -141, true), out(170, 1, 79, false), out(150, 6, 29, true), out(200, 6, 379, true), out(211, 3, 379, false)]);
    expect(warnings).toEqual(["steps[2].atSeconds: 150 is earlier than the step before it (170); computed for that time, as Knative's decider would"]);
  });

  it('scale-down delay: an earlier step records into its own 2 s bucket of the sliding maximum', () => {
    // Delay 10 s = 5 buckets of 2 s (index = floor(t / 2)); threshold 100 never panics; TBC 0 → EBC 0; 0 ready → R = 1,
    // so maxDown = floor(1/2) = 0 and ds = ceil(S/10).
    const spec = { ...SPEC, targetBurstCapacity: 0, panicThreshold: 100, scaleDownDelaySeconds: 10 };
    const { decisions, warnings } = decide(spec, 0, [
      step(20, 0, 40, 40), // ds 4 at bucket 10 → maxima [(10,4)] → 4
      step(24, 0, 20, 20), // ds 2 at bucket 12 → [(10,4),(12,2)] → 4
      step(22, 0, 30, 30), // back to bucket 11: 3 drops (12,2) → [(10,4),(11,3)] → 4
      step(30, 0, 0, 0), //   bucket 15: 15 − 10 ≥ 5 expires (10,4) → [(11,3),(15,0)] → 3, the earlier step's value
      step(32, 0, 0, 0), //   bucket 16: (15,0) replaced, 16 − 11 ≥ 5 expires (11,3) → [(16,0)] → 0
    ]);
    expect(decisions.map((d) => d.desiredPods)).toEqual([4, 4, 4, 3, 0]);
    expect(warnings).toEqual(["steps[2].atSeconds: 22 is earlier than the step before it (24); computed for that time, as Knative's decider would"]);
  });

  it('the CLI prints the decisions, exits 0, and writes one warning line naming the step', async () => {
    const input = { spec: SPEC, readyPodsAtStart: 1, steps: [step(10, 1, 10, 10), step(4, 1, 10, 10), step(2, 1, 10, 10)] };
    const r = await runTide(['replay'], { stdin: JSON.stringify(input) });
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toHaveLength(3);
    expect(r.stderr.split('\n').filter((l) => l !== '')).toEqual([
      "tide replay: warning: steps[1].atSeconds: 4 is earlier than the step before it (10); computed for that time, as Knative's decider would",
      "tide replay: warning: steps[2].atSeconds: 2 is earlier than the step before it (4); computed for that time, as Knative's decider would",
    ]);
  });
});
