/** `tide autoscaler`: the KPA autoscaler with its stats receiver and live dashboard (autoscaler/README.md). */
import { resolve } from 'node:path';
import { parseFlags, portFlag } from './flags.js';
import { UsageError, type CliIo } from './io.js';

const HELP = `usage: tide autoscaler [--backend local|kubernetes] [--stats-port 8080] [--http-port 9095] [--host ADDR] [--config FILE]

Runs Knative's KPA autoscaler: it receives the activator's demand (gRPC, --stats-port), scrapes each pod's
queue-proxy every second, decides every 2 s and sets replicas and the serve/proxy routing mode. It serves a live
dashboard at / and Prometheus metrics at /metrics on --http-port (also /api/revisions, /api/events, /healthz).

  --backend local|kubernetes  where replicas live (default: kubernetes inside a cluster, else local).
                              kubernetes is not available in this version.
  --stats-port N              gRPC stats receiver for activators (default 8080; 0 = any free port)
  --http-port N               dashboard and /metrics (default 9095, clear of a queue-proxy's 9090; 0 = any free port)
  --host ADDR                 bind address (default 127.0.0.1)
  --config FILE               config-autoscaler as a ConfigMap or a plain map (YAML or JSON); default Knative's

With --backend local on its own there is nothing to scale: local replicas are processes that \`tide up\` starts,
and \`tide up\` runs this autoscaler in-process. Use \`tide up\` to see scaling; run this to look at the dashboard
or to receive stats from a separately started activator.
`;

/** Default ports. The HTTP port is 9095, not 9090, so it never collides with a queue-proxy's stats port on one host. */
export const DEFAULT_STATS_PORT = 8080;
export const DEFAULT_HTTP_PORT = 9095;

export interface AutoscalerFlags {
  backend: 'local' | 'kubernetes';
  statsPort: number;
  httpPort: number;
  host: string;
  config: string | undefined;
}

/** Parses the flags; throws UsageError naming the flag. */
export function parseAutoscalerFlags(argv: string[], env: CliIo['env']): AutoscalerFlags {
  const { values } = parseFlags(
    argv,
    {
      backend: { type: 'string' },
      'stats-port': { type: 'string' },
      'http-port': { type: 'string' },
      host: { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    HELP,
  );
  const backend = values.backend ?? (env['KUBERNETES_SERVICE_HOST'] ? 'kubernetes' : 'local');
  if (backend !== 'local' && backend !== 'kubernetes') throw new UsageError(`--backend: expected local or kubernetes, got ${JSON.stringify(backend)}`);
  if (values.host === '') throw new UsageError('--host: expected an address');
  if (values.config === '') throw new UsageError('--config: expected a file name');
  return {
    backend,
    statsPort: portFlag('stats-port', values['stats-port'], DEFAULT_STATS_PORT),
    httpPort: portFlag('http-port', values['http-port'], DEFAULT_HTTP_PORT),
    host: values.host ?? '127.0.0.1',
    config: values.config,
  };
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(HELP);
    return 0;
  }
  const flags = parseAutoscalerFlags(argv, io.env);
  if (flags.backend === 'kubernetes') {
    io.stderr.write(
      'tide autoscaler: --backend kubernetes is not available in this version of Tide.\n' +
        'Use --backend local (or `tide up` to run the whole data plane on this machine).\n',
    );
    return 2;
  }
  const [{ startStandaloneAutoscaler, readAutoscalerConfigFile }, { createLogger }] = await Promise.all([
    import('../autoscaler/main.js'),
    import('../common/logger.js'),
  ]);
  const config = flags.config === undefined ? undefined : await readAutoscalerConfigFile(resolve(io.cwd, flags.config));
  const logger = createLogger('autoscaler', io.env['TIDE_LOG_LEVEL'] ?? 'info');
  const running = await startStandaloneAutoscaler({
    host: flags.host,
    statsPort: flags.statsPort,
    httpPort: flags.httpPort,
    logger,
    ...(config ? { config } : {}),
  });
  io.stdout.write(
    `tide autoscaler (local backend)\n` +
      `  stats (gRPC): ${running.servers.statsAddress}\n` +
      `  dashboard:    ${running.servers.dashboardUrl}\n` +
      `  metrics:      ${running.servers.dashboardUrl}metrics\n` +
      'Nothing to scale on its own: `tide up` runs the whole data plane with this autoscaler in it.\n',
  );
  await new Promise<void>((done) => {
    const stop = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'shutting down');
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      done();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  await running.close();
  logger.flush();
  return 0;
}
