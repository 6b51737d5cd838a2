/** Flag parsing shared by the subcommands: `node:util.parseArgs` with errors turned into UsageError naming the flag. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './io.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses `argv` strictly (unknown flags and missing values are usage errors that print `help`).
 * Returns parseArgs' values and positionals.
 */
export function parseFlags<O extends Options>(argv: string[], options: O, help: string, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${help}`);
  }
}

/** A port flag's value: an integer in [0, 65535] (0 = any free port), or `fallback` when the flag is absent. */
export function portFlag(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65_535) throw new UsageError(`--${flag} must be a port number in [0, 65535], got ${JSON.stringify(raw)}`);
  return n;
}
