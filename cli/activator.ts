/** `tide activator`: the activator, standalone, with a static revisions/endpoints file (activator/README.md). */
import { parseFlags, portFlag } from './flags.js';
import { UsageError, type CliIo } from './io.js';

const HELP = `usage: tide activator --config FILE [--autoscaler HOST:PORT] [--port 8012] [--metrics-port 9090] [--host 0.0.0.0]

Buffers requests for revisions without capacity, load-balances them over the pods by their concurrency, and reports
demand to the autoscaler. FILE (YAML or JSON) lists the revisions with their hosts, containerConcurrency, timeouts
and endpoints; see activator/README.md. Logs JSON lines to stderr; on SIGTERM readiness fails, and after the drain
delay (activator.drainDelayMs, default 45 s) it stops accepting, finishes what it holds and exits 0.

  --config FILE           static revisions and endpoints (required)
  --autoscaler HOST:PORT  the autoscaler's stats endpoint (gRPC); without it demand stats are dropped
  --port N                serving port, HTTP/1.1 and h2c (default 8012)
  --metrics-port N        Prometheus /metrics port (default 9090; 0 = off)
  --host ADDR             bind address (default 0.0.0.0)
`;

export interface ActivatorFlags {
  config: string;
  autoscaler: string | undefined;
  port: number;
  metricsPort: number;
  host: string;
}

/** Parses the flags; throws UsageError naming the flag. */
export function parseActivatorFlags(argv: string[]): ActivatorFlags {
  const { values } = parseFlags(
    argv,
    {
      config: { type: 'string' },
      autoscaler: { type: 'string' },
      port: { type: 'string' },
      'metrics-port': { type: 'string' },
      host: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    HELP,
  );
  if (!values.config) throw new UsageError(`--config FILE is required\n\n${HELP}`);
  const autoscaler = values.autoscaler;
  if (autoscaler !== undefined && !/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(autoscaler)) {
    throw new UsageError(`--autoscaler: expected HOST:PORT, got ${JSON.stringify(autoscaler)}`);
  }
  if (values.host === '') throw new UsageError('--host: expected an address');
  return {
    config: values.config,
    autoscaler,
    port: portFlag('port', values.port, 8012),
    metricsPort: portFlag('metrics-port', values['metrics-port'], 9090),
    host: values.host ?? '0.0.0.0',
  };
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(HELP);
    return 0;
  }
  const flags = parseActivatorFlags(argv);
  const { runActivator } = await import('../activator/main.js');
  const { createLogger } = await import('../common/logger.js');
  return runActivator(
    { configFile: flags.config, autoscaler: flags.autoscaler, host: flags.host, port: flags.port, metricsPort: flags.metricsPort, cwd: io.cwd },
    createLogger('activator', io.env['TIDE_LOG_LEVEL'] ?? 'info'),
  );
}
