/** Runs one loaded subcommand and turns its errors into exit codes and messages (shared by main.ts and the bundled queue-proxy entry). */
import { ConfigError } from '../common/errors.js';
import { UsageError, type CliIo, type CommandRun } from './io.js';

/** Loads and runs `tide <name>`; resolves to the exit code and never throws. */
export async function runCommand(name: string, load: () => Promise<{ run: CommandRun }>, argv: string[], io: CliIo): Promise<number> {
  try {
    const mod = await load();
    return await mod.run(argv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`tide ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof ConfigError) {
      io.stderr.write(`tide ${name}: invalid configuration:\n${err.problems.map((p) => `  ${p.key}: ${p.message}`).join('\n')}\n`);
      return 2;
    }
    io.stderr.write(`tide ${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}
