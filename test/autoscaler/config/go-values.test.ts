import { describe, expect, it } from 'vitest';
import { goFloat, isWholeSeconds, parseGoBool, parseGoDurationMs, parseGoFloat, parseGoInt } from '../../../autoscaler/config/go-values.js';

describe('Go value parsing (strconv, time.ParseDuration)', () => {
  it.each([
    ['1', 1],
    ['0.7', 0.7],
    ['-1', -1],
    ['+2.5', 2.5],
    ['.5', 0.5],
    ['1e3', 1000],
    ['5.', 5],
  ])('ParseFloat accepts %j', (s, want) => expect(parseGoFloat(s)).toEqual({ ok: true, value: want }));

  it.each(['', ' 1', '1 ', 'abc', '1,5', '0x10', 'NaN', 'Inf', '1e999'])('ParseFloat refuses %j', (s) => expect(parseGoFloat(s).ok).toBe(false));

  it('ParseFloat error text is Go\'s', () => {
    expect(parseGoFloat('abc')).toEqual({ ok: false, error: 'strconv.ParseFloat: parsing "abc": invalid syntax' });
  });

  it.each([
    ['0', 32, 0],
    ['+7', 32, 7],
    ['-3', 32, -3],
    ['2147483647', 32, 2147483647],
    ['-2147483648', 32, -2147483648],
    ['2147483648', 64, 2147483648],
  ] as const)('ParseInt accepts %j (%d bits)', (s, bits, want) => expect(parseGoInt(s, bits)).toEqual({ ok: true, value: want }));

  it.each([
    ['2147483648', 32, true],
    ['-2147483649', 32, true],
    ['9223372036854775808', 64, true],
    ['1.0', 32, false],
    ['1e3', 32, false],
    [' 1', 32, false],
    ['', 32, false],
  ] as const)('ParseInt refuses %j (%d bits, out of range: %s)', (s, bits, outOfRange) => {
    const r = parseGoInt(s, bits);
    expect(r.ok).toBe(false);
    expect(r.outOfRange === true).toBe(outOfRange);
  });

  it.each([
    ['true', true], ['True', true], ['TRUE', true], ['t', true], ['1', true],
    ['false', false], ['F', false], ['0', false],
  ])('ParseBool %j', (s, want) => expect(parseGoBool(s)).toEqual({ ok: true, value: want }));
  it.each(['yes', 'no', 'tRuE', ''])('ParseBool refuses %j', (s) => expect(parseGoBool(s).ok).toBe(false));

  it.each([
    ['60s', 60_000],
    ['1m30s', 90_000],
    ['0.1m', 6000],
    ['1.5h', 5_400_000],
    ['0', 0],
    ['-1s', -1000],
  ])('ParseDuration %j', (s, ms) => expect(parseGoDurationMs(s)).toEqual({ ok: true, value: ms }));
  it.each(['60', ' 60s', '60s ', '1 m', 'abc'])('ParseDuration refuses %j', (s) =>
    expect(parseGoDurationMs(s)).toEqual({ ok: false, error: `time: invalid duration ${JSON.stringify(s)}` }));

  it.each([
    [60_000, true],
    [6000.000000000001, true], // float noise below a nanosecond
    [1500, false],
    [1000.001, false], // 1 µs off
    [0, true],
  ])('whole seconds: %d ms → %s', (ms, want) => expect(isWholeSeconds(ms)).toBe(want));

  it.each([
    [1, '1'],
    [0.7, '0.7'],
    [0.01, '0.01'],
    [100000, '100000'],
    [1000000, '1e+06'],
    [1234567, '1.234567e+06'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [-2.5, '-2.5'],
  ])('%%v of %d is %s', (x, want) => expect(goFloat(x)).toBe(want));
});
