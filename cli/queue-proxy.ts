/** `tide queue-proxy`: the sidecar, configured by Knative's environment variables (proxy/README.md lists them all). */
import { UsageError, type CliIo } from './io.js';

const HELP = `usage: tide queue-proxy

Runs the queue-proxy sidecar. Configured only through the environment (Knative's names, plus TIDE_* settings);
see proxy/README.md. Logs JSON lines to stderr; exits 0 after a clean drain on SIGTERM.
`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(HELP);
    return 0;
  }
  if (argv.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(argv[0])}; configure with environment variables`);
  const { startTrace } = await import('../common/start-trace.js');
  const { runQueueProxy } = await import('../proxy/main.js');
  startTrace.mark('main loaded');
  const { createLogger } = await import('../common/logger.js');
  startTrace.mark('logger loaded');
  return runQueueProxy(io.env, createLogger('queue-proxy', io.env['TIDE_LOG_LEVEL'] ?? 'info'));
}
