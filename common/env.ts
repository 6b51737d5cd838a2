/** Typed readers for environment variables that collect every problem, naming the variable, into one ConfigError. */
import { ConfigError, type ConfigProblem } from './errors.js';
import { parseGoDuration } from './duration.js';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads variables from one environment and remembers every problem, so a component can report
 * all of them at once. Call `done()` at the end: it throws a ConfigError if anything was wrong.
 */
export class EnvReader {
  readonly #env: Env;
  readonly #source: string;
  readonly problems: ConfigProblem[] = [];

  constructor(env: Env, source = 'environment') {
    this.#env = env;
    this.#source = source;
  }

  #raw(key: string): string | undefined {
    const v = this.#env[key];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  problem(key: string, message: string): void {
    this.problems.push({ key, message });
  }

  /** A string; if `required` and missing, a problem is recorded and '' returned. */
  string(key: string, fallback?: string): string {
    const v = this.#raw(key);
    if (v !== undefined) return v;
    if (fallback === undefined) {
      this.problem(key, 'is required but not set');
      return '';
    }
    return fallback;
  }

  optionalString(key: string): string | undefined {
    return this.#raw(key);
  }

  /** An integer in [min, max]; without a fallback the variable is required. */
  int(key: string, opts: { fallback?: number; min?: number; max?: number } = {}): number {
    return this.#number(key, opts, true);
  }

  /** A finite number in [min, max]; without a fallback the variable is required. */
  number(key: string, opts: { fallback?: number; min?: number; max?: number } = {}): number {
    return this.#number(key, opts, false);
  }

  #number(key: string, opts: { fallback?: number; min?: number; max?: number }, integer: boolean): number {
    const v = this.#raw(key);
    if (v === undefined) {
      if (opts.fallback === undefined) {
        this.problem(key, 'is required but not set');
        return 0;
      }
      return opts.fallback;
    }
    const n = Number(v);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) {
      this.problem(key, `invalid value ${JSON.stringify(v)}: expected ${integer ? 'an integer' : 'a number'}`);
      return opts.fallback ?? 0;
    }
    const { min = -Infinity, max = Infinity } = opts;
    if (n < min || n > max) {
      this.problem(key, `expected ${min} <= ${n} <= ${max}`);
      return opts.fallback ?? 0;
    }
    return n;
  }

  /** `true`/`false` (also 1/0, yes/no). */
  bool(key: string, fallback: boolean): boolean {
    const v = this.#raw(key);
    if (v === undefined) return fallback;
    const l = v.toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(l)) return true;
    if (['false', '0', 'no', 'off'].includes(l)) return false;
    this.problem(key, `invalid value ${JSON.stringify(v)}: expected true or false`);
    return fallback;
  }

  /** A Go duration (`30s`, `1m`) or a bare number of seconds, returned in milliseconds. */
  durationMs(key: string, fallbackMs: number, opts: { minMs?: number; maxMs?: number } = {}): number {
    const v = this.#raw(key);
    if (v === undefined) return fallbackMs;
    const ms = /^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : parseGoDuration(v);
    if (ms === undefined) {
      this.problem(key, `invalid duration ${JSON.stringify(v)}: expected e.g. 30s, 1m30s, or seconds`);
      return fallbackMs;
    }
    const { minMs = 0, maxMs = Infinity } = opts;
    if (ms < minMs || ms > maxMs) {
      this.problem(key, `expected ${minMs}ms <= ${ms}ms <= ${maxMs}ms`);
      return fallbackMs;
    }
    return ms;
  }

  /** Throws one ConfigError listing every problem, if there were any. */
  done(): void {
    if (this.problems.length > 0) throw new ConfigError(this.#source, this.problems);
  }
}
