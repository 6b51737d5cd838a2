import { describe, expect, it } from 'vitest';
import { formatGoDuration, parseGoDuration } from '../../common/duration.js';

describe('Go durations', () => {
  it.each([
    ['60s', 60_000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['250ms', 250],
    ['0', 0],
    ['-2s', -2000],
    ['1h2m3s4ms', 3_723_004],
  ])('parses %s', (text, ms) => expect(parseGoDuration(text)).toBe(ms));

  it.each(['', '60', 's', '1x', '1m 30s', 'abc', '--1s'])('rejects %j', (text) => expect(parseGoDuration(text)).toBeUndefined());

  it.each([
    [90_000, '1m30s'],
    [0, '0s'],
    [500, '500ms'],
    [3_600_000, '1h0m0s'],
  ])('formats %d as %s', (ms, text) => expect(formatGoDuration(ms)).toBe(text));
});
