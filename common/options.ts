/**
 * Checks the options object a constructor or builder takes, as `tide validate` checks annotations: every key known,
 * every value of its kind, all problems reported at once in one ConfigError that names each option. An option set to
 * `undefined` counts as absent.
 */
import { ConfigError, type ConfigProblem } from './errors.js';

/** Returns what is wrong with a value, or undefined if it is acceptable. */
export type OptionCheck = (value: unknown) => string | undefined;

const show = (v: unknown): string => (typeof v === 'function' ? 'a function' : typeof v === 'bigint' ? `${v}n` : (JSON.stringify(v) ?? String(v)));

/** The kinds of option values Tide's constructors take. */
export const option = {
  /** An integer ≥ 0 (a time in ms where 0 means off, a byte limit where 0 means none, ...). */
  nonNegativeInt: (v: unknown) => (Number.isSafeInteger(v) && (v as number) >= 0 ? undefined : `expected an integer >= 0, got ${show(v)}`),
  /** An integer ≥ 1. */
  positiveInt: (v: unknown) => (Number.isSafeInteger(v) && (v as number) >= 1 ? undefined : `expected an integer >= 1, got ${show(v)}`),
  /** A finite number ≥ 0 (a timestamp, a ratio). */
  nonNegativeNumber: (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? undefined : `expected a number >= 0, got ${show(v)}`),
  string: (v: unknown) => (typeof v === 'string' ? undefined : `expected a string, got ${show(v)}`),
  boolean: (v: unknown) => (typeof v === 'boolean' ? undefined : `expected a boolean, got ${show(v)}`),
  function: (v: unknown) => (typeof v === 'function' ? undefined : `expected a function, got ${show(v)}`),
  /** A non-null object (a clock, a logger, nested options). */
  object: (v: unknown) => (typeof v === 'object' && v !== null ? undefined : `expected an object, got ${show(v)}`),
  /** One of the given strings. */
  oneOf:
    (...values: readonly string[]): OptionCheck =>
    (v) =>
      typeof v === 'string' && values.includes(v) ? undefined : `expected one of ${values.join(', ')}, got ${show(v)}`,
} as const satisfies Record<string, OptionCheck | ((...a: string[]) => OptionCheck)>;

/**
 * Throws one ConfigError (`source: key: problem; ...`) if `options` has a key `spec` does not list or a value its check
 * refuses. `required` keys must be present.
 */
export function checkOptions(source: string, options: object, spec: Readonly<Record<string, OptionCheck>>, required: readonly string[] = []): void {
  const problems: ConfigProblem[] = [];
  const values = options as Record<string, unknown>;
  for (const key of Object.keys(values)) {
    const check = Object.hasOwn(spec, key) ? spec[key] : undefined;
    if (check === undefined) {
      problems.push({ key, message: 'unknown option' });
      continue;
    }
    const value = values[key];
    if (value === undefined) continue;
    const problem = check(value);
    if (problem !== undefined) problems.push({ key, message: problem });
  }
  for (const key of required) if (values[key] === undefined) problems.push({ key, message: 'required' });
  if (problems.length > 0) throw new ConfigError(source, problems);
}
