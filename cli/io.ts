/** What a command may touch: its streams, environment and working folder. Tests pass their own. */
import type { Readable, Writable } from 'node:stream';

export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

/** A subcommand: takes its own arguments (after the name) and resolves to the exit code. */
export type CommandRun = (argv: string[], io: CliIo) => Promise<number>;

/** Thrown for bad flags or input; the CLI prints the message and exits with `exitCode` (default 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(message: string, readonly exitCode = 2) {
    super(message);
  }
}

/** Reads all of a stream (stdin for `-f -`) as UTF-8. */
export async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Resolves at the first SIGTERM or SIGINT, after logging it; the long-running commands (`tide autoscaler`, `tide
 * activator`, `tide webhook`) wait on this and then close what they run.
 */
export function untilStopSignal(logger: { info(fields: object, message: string): void }): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'shutting down');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
