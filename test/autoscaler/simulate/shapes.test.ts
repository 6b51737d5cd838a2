import { describe, expect, it } from 'vitest';
import { ShapeError, describeShapes, shapeTrace } from '../../../autoscaler/simulate/shapes.js';

function values(spec: string): number[] {
  const t = shapeTrace(spec);
  if (t.format === 'arrivals') throw new Error('shapes are per-second');
  return [...t.values];
}

describe('built-in shapes', () => {
  it('step: from before `at`, to from `at` on', () => {
    expect(values('step:from=1,to=9,at=2,duration=4')).toEqual([1, 1, 9, 9]);
  });

  it('spike: base outside [at, at+width), peak inside', () => {
    expect(values('spike:base=2,peak=50,at=1,width=2,duration=5')).toEqual([2, 50, 50, 2, 2]);
  });

  it('ramp: linear from start to end, held after', () => {
    // from 0 at t=1 to 30 at t=4: 10 per second.
    expect(values('ramp:from=0,to=30,start=1,end=4,duration=6')).toEqual([0, 0, 10, 20, 30, 30]);
  });

  it('sine: min at phase, max half a period later: min + (max−min)(1−cos(2πt/P))/2', () => {
    const v = values('sine:min=10,max=30,period=4,duration=5');
    // t=0: 10; t=1: 10 + 20·(1−0)/2 = 20; t=2: 30; t=3: 20; t=4: 10.
    expect(v).toEqual([10, 20, 30, 20, 10]);
  });

  it('defaults fill unset parameters (step: 0 → 50 at 60, 600 s)', () => {
    const v = values('step');
    expect(v).toHaveLength(600);
    expect(v[59]).toBe(0);
    expect(v[60]).toBe(50);
  });

  it('metric=rps makes the values requests per second', () => {
    expect(shapeTrace('step:metric=rps,duration=2').format).toBe('rps');
    expect(shapeTrace('step:duration=2').format).toBe('concurrency');
  });

  it.each([
    { spec: 'square', msg: 'unknown shape "square": expected one of step, spike, ramp, sine' },
    { spec: 'step:height=3', msg: 'step: unknown parameter "height"' },
    { spec: 'step:to=lots', msg: 'step: to "lots" is not a number' },
    { spec: 'step:to', msg: 'parameter "to" needs a value' },
    { spec: 'step:duration=0', msg: 'duration must be a whole number of seconds' },
    { spec: 'step:duration=1.5', msg: 'duration must be a whole number of seconds' },
    { spec: 'ramp:start=10,end=5', msg: 'ramp: end (5) must be after start (10)' },
    { spec: 'sine:period=0', msg: 'sine: period must be > 0' },
    { spec: 'step:from=-5,duration=3', msg: 'load at second 0 would be negative' },
    { spec: 'step:metric=qps', msg: 'metric must be concurrency or rps' },
  ])('rejects $spec', ({ spec, msg }) => {
    expect(() => shapeTrace(spec)).toThrow(ShapeError);
    expect(() => shapeTrace(spec)).toThrow(msg);
  });

  it('describeShapes lists every shape with its defaults', () => {
    const d = describeShapes();
    for (const n of ['step', 'spike', 'ramp', 'sine']) expect(d).toContain(`${n}:`);
    expect(d).toContain('period=86400');
  });
});
