/** Parsers and printers that behave like Go's strconv, time.ParseDuration and fmt %v, so Tide's messages read like Knative's. */
import { formatGoDuration, parseGoDuration } from '../../common/duration.js';

/** Result of parsing one value the way a Go function would: the value, or Go's error text. */
export type GoParse<T> = { ok: true; value: T } | { ok: false; error: string };

const DECIMAL_FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const DECIMAL_INT = /^[+-]?\d+$/;

/**
 * `strconv.ParseFloat(s, 64)` for decimal text. Unlike Go, `NaN` and `Inf` are refused: Knative accepts them and then
 * every range check passes (NaN < 1 is false), which is never what a user meant.
 */
export function parseGoFloat(s: string): GoParse<number> {
  if (!DECIMAL_FLOAT.test(s)) return { ok: false, error: `strconv.ParseFloat: parsing ${JSON.stringify(s)}: invalid syntax` };
  const value = Number(s);
  if (!Number.isFinite(value)) return { ok: false, error: `strconv.ParseFloat: parsing ${JSON.stringify(s)}: value out of range` };
  return { ok: true, value };
}

/** `strconv.ParseInt(s, 10, bits)`: an integer with an optional sign, no spaces, within the signed range of `bits`. */
export function parseGoInt(s: string, bits: 32 | 64): GoParse<number> & { outOfRange?: boolean } {
  if (!DECIMAL_INT.test(s)) return { ok: false, error: `strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax` };
  const big = BigInt(s);
  const limit = 1n << BigInt(bits - 1);
  if (big < -limit || big > limit - 1n) {
    return { ok: false, outOfRange: true, error: `strconv.ParseInt: parsing ${JSON.stringify(s)}: value out of range` };
  }
  // int64 values beyond 2^53 lose precision here; no Knative knob is meaningful at that size.
  return { ok: true, value: Number(big) };
}

const GO_BOOLS: Record<string, boolean> = {
  '1': true, t: true, T: true, TRUE: true, true: true, True: true,
  '0': false, f: false, F: false, FALSE: false, false: false, False: false,
};

/** `strconv.ParseBool`: 1, t, T, TRUE, true, True and their false counterparts. */
export function parseGoBool(s: string): GoParse<boolean> {
  const value = GO_BOOLS[s];
  return value === undefined ? { ok: false, error: `strconv.ParseBool: parsing ${JSON.stringify(s)}: invalid syntax` } : { ok: true, value };
}

/**
 * `time.ParseDuration`, in milliseconds rounded to whole nanoseconds (Go's resolution), so `0.1m` is exactly 6000 ms
 * and whole-second checks are exact. Surrounding spaces are an error, as in Go.
 */
export function parseGoDurationMs(s: string): GoParse<number> {
  const ms = s === s.trim() ? parseGoDuration(s) : undefined;
  if (ms === undefined) return { ok: false, error: `time: invalid duration ${JSON.stringify(s)}` };
  return { ok: true, value: Math.round(ms * 1e6) / 1e6 };
}

/** True when a duration in ms is a whole number of seconds (Go: `d.Round(time.Second) == d`). */
export function isWholeSeconds(ms: number): boolean {
  return Math.round(ms * 1e6) % 1e9 === 0;
}

/** Go's `%v` of a time.Duration (`1h0m0s`, `6s`, `-1s`). */
export function goDuration(ms: number): string {
  return formatGoDuration(ms);
}

/**
 * Go's `%v` (= `%g` with the shortest digits) of a float64: `1`, `0.7`, `100000`, `1e+06`, `1.5e-05`.
 * strconv uses the exponent form when the decimal exponent is below -4 or at least 6 (it fixes the precision at 6
 * for that decision when printing the shortest digits), so 1234567.0 prints as `1.234567e+06`.
 */
export function goFloat(x: number): string {
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : x > 0 ? '+Inf' : '-Inf';
  // Shortest round-trip digits and the decimal exponent (JavaScript and Go agree on the shortest digits).
  const [mantissa = '', expText = '0'] = Math.abs(x).toExponential().split('e');
  const exp = Number(expText);
  const neg = x < 0 ? '-' : '';
  if (exp < -4 || exp >= 6) {
    const e = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : `${Math.abs(exp)}`;
    return `${neg}${mantissa}e${exp < 0 ? '-' : '+'}${e}`;
  }
  return neg + Math.abs(x).toString();
}

/** Go's `%f`: six decimals. */
export function goFixed(x: number): string {
  return x.toFixed(6);
}
