import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
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
    { name: 'time going backwards', stdin: bad((d) => ((d as Doc).steps[0]!.atSeconds = 5)), want: 'steps[1].atSeconds: expected steps in time order' },
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
