import { describe, expect, it } from 'vitest';
import { MAX_BATCHES_PER_SECOND, TraceError, parseTrace, toWorkload, type Workload } from '../../../autoscaler/simulate/trace.js';

/** Every batch of a workload as [at, count, duration]. */
function batches(w: Workload): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (const c = w.open(); c.at !== Infinity; c.next()) out.push([c.at, c.count, c.duration]);
  return out;
}

describe('parseTrace formats', () => {
  it('second,concurrency: values by second, unlisted seconds are 0, comments and blank lines skipped', () => {
    const t = parseTrace('# my trace\nsecond,concurrency\n0,5\n\n2,7.5\n# end\n', 'c.csv');
    expect(t.format).toBe('concurrency');
    if (t.format === 'arrivals') throw new Error('unreachable');
    expect([...t.values]).toEqual([5, 0, 7.5]);
  });

  it('second,rps with spaces and CRLF line ends, header case-insensitive', () => {
    const t = parseTrace('Second, RPS\r\n0, 10\r\n1 ,20\r\n', 'r.csv');
    expect(t.format).toBe('rps');
    if (t.format === 'arrivals') throw new Error('unreachable');
    expect([...t.values]).toEqual([10, 20]);
  });

  it('arrival_seconds,duration_seconds: sorted by arrival (stable for ties)', () => {
    const t = parseTrace('arrival_seconds,duration_seconds\n3.5,0.2\n1,2\n1,0.5\n', 'a.csv');
    expect(t.format).toBe('arrivals');
    if (t.format !== 'arrivals') throw new Error('unreachable');
    expect([...t.arrivals]).toEqual([1, 1, 3.5]);
    expect([...t.durations]).toEqual([2, 0.5, 0.2]);
  });
});

describe('parseTrace errors name file:line and the problem', () => {
  it.each([
    { name: 'unknown header', text: 'time,users\n0,1\n', line: 1, problem: 'unknown header "time,users"' },
    { name: 'header only', text: 'second,rps\n', line: 1, problem: 'no data lines' },
    { name: 'three columns', text: 'second,rps\n0,1,2\n', line: 2, problem: 'expected 2 comma-separated values, got 3' },
    { name: 'one column', text: 'second,rps\n0\n', line: 2, problem: 'got 1' },
    { name: 'not a number', text: 'second,rps\n0,ten\n', line: 2, problem: 'rps "ten" is not a number' },
    { name: 'bad second', text: 'second,rps\nx,1\n', line: 2, problem: 'second "x" is not a number' },
    { name: 'negative value', text: 'second,concurrency\n0,-1\n', line: 2, problem: 'concurrency -1 is negative' },
    { name: 'negative second', text: 'second,rps\n-1,1\n', line: 2, problem: 'second -1 is negative' },
    { name: 'fractional second', text: 'second,rps\n0.5,1\n', line: 2, problem: 'second 0.5 is not a whole number' },
    { name: 'seconds out of order', text: 'second,rps\n0,1\n5,1\n3,1\n', line: 4, problem: 'second 3 is not after the previous second 5 (line 3)' },
    { name: 'duplicate second', text: 'second,rps\n# c\n2,1\n2,1\n', line: 4, problem: 'second 2 is not after the previous second 2 (line 3)' },
    { name: 'zero duration', text: 'arrival_seconds,duration_seconds\n1,0\n', line: 2, problem: 'duration_seconds 0 must be greater than 0' },
    { name: 'beyond 7 days', text: 'second,rps\n604800,1\n', line: 2, problem: 'beyond the 7-day limit' },
    { name: 'Infinity is not a number', text: 'second,rps\n0,Infinity\n', line: 2, problem: 'is not a number' },
  ])('$name', ({ text, line, problem }) => {
    let err: unknown;
    try {
      parseTrace(text, 'trace.csv');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TraceError);
    const te = err as TraceError;
    expect(te.line).toBe(line);
    expect(te.message.startsWith(`trace.csv:${line}: `)).toBe(true);
    expect(te.message).toContain(problem);
  });

  it('an empty file has no line to name', () => {
    expect(() => parseTrace('\n# nothing\n', 'e.csv')).toThrow('e.csv: empty trace: no header line');
  });
});

describe('toWorkload', () => {
  it('rps: each second\'s requests arrive at its start when they last ≥ 1 s', () => {
    const w = toWorkload(parseTrace('second,rps\n0,10\n2,4\n', 'r'), 2);
    expect(w.seconds).toBe(3);
    expect(batches(w)).toEqual([
      [0, 10, 2],
      [2, 4, 2],
    ]);
  });

  it('concurrency c with duration d: λ = c/d, spread over the second in ceil(1/d) batches (Little: L = λ·W)', () => {
    // c = 6, d = 0.25 → λ = 24/s in 4 batches of 6 at 0, .25, .5, .75.
    const w = toWorkload(parseTrace('second,concurrency\n0,6\n', 'c'), 0.25);
    expect(batches(w)).toEqual([
      [0, 6, 0.25],
      [0.25, 6, 0.25],
      [0.5, 6, 0.25],
      [0.75, 6, 0.25],
    ]);
  });

  it(`very short requests are spread over at most ${MAX_BATCHES_PER_SECOND} batches a second`, () => {
    const w = toWorkload(parseTrace('second,rps\n0,1000\n', 'r'), 0.001);
    const b = batches(w);
    expect(b).toHaveLength(MAX_BATCHES_PER_SECOND);
    expect(b.reduce((s, x) => s + x[1], 0)).toBeCloseTo(1000, 9);
  });

  it('arrivals: one request per line; length = end of the last request rounded up', () => {
    const w = toWorkload(parseTrace('arrival_seconds,duration_seconds\n0.5,1\n2,1.2\n', 'a'), 1);
    expect(w.seconds).toBe(4);
    expect(batches(w)).toEqual([
      [0.5, 1, 1],
      [2, 1, 1.2],
    ]);
  });

  it('each open() starts a fresh cursor', () => {
    const w = toWorkload(parseTrace('second,rps\n0,1\n1,1\n', 'r'), 1);
    expect(batches(w)).toEqual(batches(w));
  });
});
