/**
 * Conformance: every scenario of Knative's decider tests (pkg/autoscaler/scaling/autoscaler_test.go at 98e5ef90),
 * written as a `tide replay` input with the decisions Knative expects, is run through the real `tide` binary.
 * The vectors and the Knative test each one stands for are listed in test/conformance/README.md.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runTide } from '../support/cli.js';

const VECTOR_DIR = fileURLToPath(new URL('./vectors/', import.meta.url));
const README = fileURLToPath(new URL('./README.md', import.meta.url));
/** Non-integral numbers (times such as 0.5 s) are compared to this tolerance; everything else exactly. */
const FLOAT_TOLERANCE = 1e-6;
const OUTPUT_KEYS = ['atSeconds', 'valid', 'desiredPods', 'excessBurstCapacity', 'inPanic'] as const;

interface Vector {
  description: string;
  knative: string[];
  steps: unknown[];
  expected: Record<string, unknown>[];
}

const files = readdirSync(VECTOR_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();
const vectors = files.map((file) => ({ file, path: join(VECTOR_DIR, file), vector: JSON.parse(readFileSync(join(VECTOR_DIR, file), 'utf8')) as Vector }));

/** Indexes of the steps whose time is earlier than the step before them. */
function backwardSteps(steps: unknown[]): number[] {
  const at = steps.map((s) => (s as { atSeconds: number }).atSeconds);
  return at.flatMap((t, i) => (i > 0 && t < at[i - 1]! ? [i] : []));
}

function same(want: unknown, got: unknown): boolean {
  if (typeof want === 'number' && typeof got === 'number' && !(Number.isInteger(want) && Number.isInteger(got))) {
    return Math.abs(want - got) <= FLOAT_TOLERANCE;
  }
  return Object.is(want, got);
}

/** Every difference between the expected and the printed lines, one readable string each. */
function differences(expected: Record<string, unknown>[], stdout: string): string[] {
  const got = stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const out: string[] = [];
  if (got.length !== expected.length) out.push(`${got.length} output lines, expected ${expected.length}`);
  expected.forEach((want, i) => {
    const line = got[i];
    if (line === undefined) return;
    const keys = new Set([...Object.keys(want), ...Object.keys(line)]);
    for (const key of keys) {
      if (!same(want[key], line[key])) out.push(`step ${i} (atSeconds ${String(want.atSeconds)}): ${key} expected ${JSON.stringify(want[key])}, got ${JSON.stringify(line[key])}`);
    }
  });
  return out;
}

describe('conformance vectors are well formed', () => {
  it('there is a vector for each covered Knative scenario', () => {
    expect(files.length).toBeGreaterThanOrEqual(30);
  });

  it.each(vectors)('$file: one expected line per step, each with exactly the output keys', ({ vector }) => {
    expect(vector.description.length).toBeGreaterThan(0);
    expect(Array.isArray(vector.knative)).toBe(true);
    expect(vector.expected).toHaveLength(vector.steps.length);
    for (const line of vector.expected) expect(Object.keys(line).sort()).toEqual([...OUTPUT_KEYS].sort());
  });

  it('the README lists every vector and every Knative test it names', () => {
    const readme = readFileSync(README, 'utf8');
    for (const { file, vector } of vectors) {
      expect(readme, file).toContain(`\`${file}\``);
      for (const name of vector.knative) expect(readme, `${file}: ${name}`).toContain(name);
    }
  });
});

// One `tide` process per vector, a few at a time (vitest's default maxConcurrency is 5).
describe.concurrent('§c5/§c6 tide replay matches Knative autoscaler_test.go', () => {
  it.each(vectors)('$file', async ({ path, vector }) => {
    const r = await runTide(['replay', '-f', path]);
    // A step earlier than the one before it is replayed for its own time, with one warning line naming it.
    expect(r.stderr.split('\n').filter((l) => l !== '')).toEqual(backwardSteps(vector.steps).map((i): unknown => expect.stringContaining(`steps[${i}].atSeconds`)));
    expect(r.code).toBe(0);
    expect(differences(vector.expected, r.stdout)).toEqual([]);
  });
});
