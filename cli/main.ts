/** `tide`: one executable whose subcommands are the components and tools (docs/architecture.md, "One CLI"). */
import type { CliIo, CommandRun } from './io.js';
import { runCommand } from './run-command.js';

interface CommandEntry {
  summary: string;
  load: () => Promise<{ run: CommandRun }>;
}

/** Every subcommand, loaded lazily so `tide replay` never pays for the proxy's imports. */
export const COMMANDS: Record<string, CommandEntry> = {
  up: { summary: 'run the whole data plane on this machine (local backend)', load: () => import('./up.js') },
  logs: { summary: "print (and follow with -f) a service's replica logs from tide up", load: () => import('./logs.js') },
  'queue-proxy': { summary: 'run the queue-proxy sidecar (Knative environment variables)', load: () => import('./queue-proxy.js') },
  activator: { summary: 'run the activator', load: () => import('./activator.js') },
  autoscaler: { summary: 'run the autoscaler (KPA)', load: () => import('./autoscaler.js') },
  validate: { summary: 'check autoscaling annotations in Kubernetes YAML', load: () => import('./validate.js') },
  simulate: { summary: 'replay a traffic trace through the real autoscaler on a virtual clock', load: () => import('./simulate.js') },
  load: { summary: 'run a load scenario (the k6 scripts in loadtest/) with k6 semantics, without k6', load: () => import('./load.js') },
  replay: { summary: 'feed recorded window averages into the decider and print each decision', load: () => import('./replay.js') },
  inject: { summary: "add the queue-proxy to Kubernetes YAML's Deployments and prepare their Services", load: () => import('./inject.js') },
  uninject: { summary: 'remove what tide inject added', load: () => import('./inject.js').then((m) => ({ run: m.runUninject })) },
  webhook: { summary: 'run the mutating admission webhook that injects the queue-proxy', load: () => import('./webhook.js') },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: tide <command> [flags]\n\ncommands:\n${lines.join('\n')}\n\nRun 'tide <command> --help' for a command's flags.\n`;
}

/** Runs `tide` with `argv` (without node and the script) and resolves to the exit code. Never throws. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    const { packageRoot } = await import('../common/paths.js');
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(`${packageRoot()}/package.json`, 'utf8')) as { version: string };
    io.stdout.write(`tide ${pkg.version}\n`);
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    io.stderr.write(`tide: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  return runCommand(name, entry.load, rest, io);
}
