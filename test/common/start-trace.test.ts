import { describe, expect, it } from 'vitest';
import { createStartTrace, writeStartTrace } from '../../common/start-trace.js';

describe('start-up trace (TIDE_START_TRACE)', () => {
  it('records each mark at the clock it is given, rounded to 0.1 ms, in order', () => {
    const times = [12.345, 140.06, 301.99];
    const trace = createStartTrace(true, () => times.shift()!);
    trace.mark('entry');
    trace.mark('main loaded');
    trace.mark('first ready answer');
    expect(trace.report()).toEqual({ entry: 12.3, 'main loaded': 140.1, 'first ready answer': 302 });
    expect(Object.keys(trace.report())).toEqual(['entry', 'main loaded', 'first ready answer']);
  });

  it('a name marked again (a mark on a repeating path) keeps its first time and reads the clock once', () => {
    let reads = 0;
    const trace = createStartTrace(true, () => (++reads) * 10);
    trace.mark('app probed');
    trace.mark('app probed');
    trace.mark('app probed');
    expect(trace.report()).toEqual({ 'app probed': 10 });
    expect(reads).toBe(1);
  });

  it('off, marks neither read the clock nor record anything', () => {
    let reads = 0;
    const trace = createStartTrace(false, () => ++reads);
    trace.mark('entry');
    expect(reads).toBe(0);
    expect(trace.report()).toEqual({});
  });

  it('writes nothing unless TIDE_START_TRACE=1', () => {
    const lines: string[] = [];
    const before = process.env['TIDE_START_TRACE'];
    delete process.env['TIDE_START_TRACE'];
    try {
      writeStartTrace((l) => lines.push(l));
    } finally {
      if (before !== undefined) process.env['TIDE_START_TRACE'] = before;
    }
    expect(lines).toEqual([]);
  });

  it('on, writes one JSON line with Node boot milestones', () => {
    const lines: string[] = [];
    const before = process.env['TIDE_START_TRACE'];
    process.env['TIDE_START_TRACE'] = '1';
    try {
      writeStartTrace((l) => lines.push(l));
    } finally {
      if (before === undefined) delete process.env['TIDE_START_TRACE'];
      else process.env['TIDE_START_TRACE'] = before;
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const { startTrace } = JSON.parse(lines[0]!) as { startTrace: Record<string, number> };
    expect(startTrace['bootstrapComplete']).toBeGreaterThan(0);
    expect(startTrace['v8Start']).toBeLessThanOrEqual(startTrace['bootstrapComplete']!);
  });
});
