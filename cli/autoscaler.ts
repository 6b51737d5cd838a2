/** `tide autoscaler`: the KPA autoscaler with its stats receiver and live dashboard (autoscaler/README.md). */
import { resolve } from 'node:path';
import { UsageError, type CliIo } from './io.js';

const HELP = `usage: tide autoscaler [--backend local|kubernetes] [--stats-port 8080] [--http-port 9090] [--host ADDR] [--config FILE]

Runs Knative's KPA autoscaler: it receives the activator's demand (gRPC, --stats-port), scrapes each pod's
queue-proxy every second, decides every 2 s and sets replicas and the serve/proxy routing mode. It serves a live
dashboard at / and Prometheus metrics at /metrics on --http-port (also /api/revisions, /api/events, /healthz).

  --backend local|kubernetes  where replicas live (default: kubernetes inside a cluster, else local).
                              kubernetes is not available in this version.
  --stats-port N              gRPC stats receiver for activators (default 8080; 0 = any free port)
  --http-port N               dashboard and /metrics (default 9090; 0 = any free port)
  --host ADDR                 bind address (default 127.0.0.1)
  --config FILE               config-autoscaler as a ConfigMap or a plain map (YAML or JSON); default Knative's

With --backend local on its own there is nothing to scale: local replicas are processes that \`tide up\` starts,
and \`tide up\` runs this autoscaler in-process. Use \`tide up\` to see scaling; run this to look at the dashboard
or to receive stats from a separately started activator.
`;

export interface AutoscalerFlags {
  backend: 'local' | 'kubernetes';
  statsPort: number;
  httpPort: number;
  host: string;
  config: string | undefined;
}

function portFlag(name: string, v: string | undefined): number {
  if (v === undefined || !/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new UsageError(`${name}: expected a port number (0 = any free port), got ${JSON.stringify(v ?? '')}`);
  return Number(v);
}

/** Parses the flags; throws UsageError naming the flag. */
export function parseAutoscalerFlags(argv: string[], env: CliIo['env']): AutoscalerFlags {
  const out: AutoscalerFlags = {
    backend: env['KUBERNETES_SERVICE_HOST'] ? 'kubernetes' : 'local',
    statsPort: 8080,
    httpPort: 9090,
    host: '127.0.0.1',
    config: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const value = (): string | undefined => (a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : argv[++i]);
    switch (name) {
      case '--backend': {
        const v = value();
        if (v !== 'local' && v !== 'kubernetes') throw new UsageError(`--backend: expected local or kubernetes, got ${JSON.stringify(v ?? '')}`);
        out.backend = v;
        break;
      }
      case '--stats-port':
        out.statsPort = portFlag('--stats-port', value());
        break;
      case '--http-port':
        out.httpPort = portFlag('--http-port', value());
        break;
      case '--host': {
        const v = value();
        if (!v) throw new UsageError('--host: expected an address');
        out.host = v;
        break;
      }
      case '--config': {
        const v = value();
        if (!v) throw new UsageError('--config: expected a file name');
        out.config = v;
        break;
      }
      default:
        throw new UsageError(`unknown flag ${JSON.stringify(a)}\n\n${HELP}`);
    }
  }
  return out;
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
