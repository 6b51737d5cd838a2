/** `tide activator`: the activator, standalone, with a static revisions/endpoints file (activator/README.md). */
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

function portFlag(name: string, v: string | undefined, allowZero: boolean): number {
  const n = Number(v);
  if (v === undefined || !/^\d+$/.test(v) || n > 65535 || (!allowZero && n === 0)) {
    throw new UsageError(`${name}: expected a port number${allowZero ? ' (0 = off/ephemeral)' : ''}, got ${JSON.stringify(v ?? '')}`);
  }
  return n;
}

/** Parses the flags; throws UsageError naming the flag. */
export function parseActivatorFlags(argv: string[]): ActivatorFlags {
  const out: ActivatorFlags = { config: '', autoscaler: undefined, port: 8012, metricsPort: 9090, host: '0.0.0.0' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const value = (): string | undefined => (a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : argv[++i]);
    switch (name) {
      case '--config': {
        const v = value();
        if (!v) throw new UsageError('--config: expected a file name');
        out.config = v;
        break;
      }
      case '--autoscaler': {
        const v = value();
        if (!v || !/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(v)) throw new UsageError(`--autoscaler: expected HOST:PORT, got ${JSON.stringify(v ?? '')}`);
        out.autoscaler = v;
        break;
      }
      case '--port':
        out.port = portFlag('--port', value(), true);
        break;
      case '--metrics-port':
        out.metricsPort = portFlag('--metrics-port', value(), true);
        break;
      case '--host': {
        const v = value();
        if (!v) throw new UsageError('--host: expected an address');
        out.host = v;
        break;
      }
      default:
        throw new UsageError(`unknown flag ${JSON.stringify(a)}\n\n${HELP}`);
    }
  }
  if (out.config === '') throw new UsageError(`--config FILE is required\n\n${HELP}`);
  return out;
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
