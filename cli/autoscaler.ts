/** `tide autoscaler`: the KPA autoscaler with its stats receiver and live dashboard (autoscaler/README.md). */
import { resolve } from 'node:path';
import { parseFlags, portFlag } from './flags.js';
import { UsageError, untilStopSignal, type CliIo } from './io.js';

const HELP = `usage: tide autoscaler [--backend local|kubernetes] [--stats-port 8080] [--http-port 9095] [--host ADDR] [--config FILE]
                       [--kubeconfig FILE] [--context NAME] [--namespace NS] [--system-namespace tide-system]

Runs Knative's KPA autoscaler: it receives the activator's demand (gRPC, --stats-port), scrapes each pod's
queue-proxy every second, decides every 2 s and sets replicas and the serve/proxy routing mode. It serves a live
dashboard at / and Prometheus metrics at /metrics on --http-port (also /api/revisions, /api/events, /healthz).

  --backend local|kubernetes  where replicas live (default: kubernetes inside a cluster, else local).
  --kubeconfig FILE           kubernetes: connect with this kubeconfig (default: in-cluster service account when
                              KUBERNETES_SERVICE_HOST is set, else $KUBECONFIG or ~/.kube/config)
  --context NAME              kubernetes: the kubeconfig context to use (default: its current context)
  --namespace NS              kubernetes: manage Deployments in NS only (default: every namespace)
  --system-namespace NS       kubernetes: Tide's own namespace (Lease, activator Service; default tide-system,
                              or $TIDE_SYSTEM_NAMESPACE)
  --stats-port N              gRPC stats receiver for activators (default 8080; 0 = any free port)
  --http-port N               dashboard and /metrics (default 9095, clear of a queue-proxy's 9090; 0 = any free port)
  --host ADDR                 bind address (default 127.0.0.1; 0.0.0.0 with --backend kubernetes)
  --config FILE               config-autoscaler as a ConfigMap or a plain map (YAML or JSON); default Knative's

With --backend local on its own there is nothing to scale: local replicas are processes that \`tide up\` starts,
and \`tide up\` runs this autoscaler in-process. Use \`tide up\` to see scaling; run this to look at the dashboard
or to receive stats from a separately started activator.

With --backend kubernetes it scales the Deployments labelled tide.dev/managed=true through their /scale subresource
and switches their Services between the activator and the pods (docs/kubernetes.md). Replicas elect a leader with
the Lease tide-autoscaler (identity: $POD_NAME, else the host name); only the leader writes. An unreachable API
server at start is one error line and exit 1.
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
  kubeconfig: string | undefined;
  context: string | undefined;
  namespace: string | undefined;
  systemNamespace: string;
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
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string' },
      'system-namespace': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    HELP,
  );
  const backend = values.backend ?? (env['KUBERNETES_SERVICE_HOST'] ? 'kubernetes' : 'local');
  if (backend !== 'local' && backend !== 'kubernetes') throw new UsageError(`--backend: expected local or kubernetes, got ${JSON.stringify(backend)}`);
  if (values.host === '') throw new UsageError('--host: expected an address');
  if (values.config === '') throw new UsageError('--config: expected a file name');
  const kube = kubeFlags(values, env);
  if (backend === 'local') {
    for (const f of ['kubeconfig', 'context', 'namespace', 'system-namespace'] as const) {
      if (values[f] !== undefined) throw new UsageError(`--${f} needs --backend kubernetes`);
    }
  }
  return {
    backend,
    statsPort: portFlag('stats-port', values['stats-port'], DEFAULT_STATS_PORT),
    httpPort: portFlag('http-port', values['http-port'], DEFAULT_HTTP_PORT),
    host: values.host ?? (backend === 'kubernetes' ? '0.0.0.0' : '127.0.0.1'),
    config: values.config,
    ...kube,
  };
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(HELP);
    return 0;
  }
  const flags = parseAutoscalerFlags(argv, io.env);
  if (flags.backend === 'kubernetes') return runKubernetes(flags, io);
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
  await untilStopSignal(logger);
  await running.close();
  logger.flush();
  return 0;
}

/** `--kubeconfig`, `--context`, `--namespace`, `--system-namespace`, checked (shared with `tide activator`). */
export function kubeFlags(
  values: { kubeconfig?: string | undefined; context?: string | undefined; namespace?: string | undefined; 'system-namespace'?: string | undefined },
  env: CliIo['env'],
): { kubeconfig: string | undefined; context: string | undefined; namespace: string | undefined; systemNamespace: string } {
  const dns = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
  for (const f of ['kubeconfig', 'context'] as const) if (values[f] === '') throw new UsageError(`--${f}: expected a value`);
  if (values.namespace !== undefined && !dns.test(values.namespace)) throw new UsageError(`--namespace: not a namespace name: ${JSON.stringify(values.namespace)}`);
  const systemNamespace = values['system-namespace'] ?? env['TIDE_SYSTEM_NAMESPACE'] ?? 'tide-system';
  if (!dns.test(systemNamespace)) throw new UsageError(`--system-namespace: not a namespace name: ${JSON.stringify(systemNamespace)}`);
  return { kubeconfig: values.kubeconfig, context: values.context, namespace: values.namespace, systemNamespace };
}

async function runKubernetes(flags: AutoscalerFlags, io: CliIo): Promise<number> {
  const [{ connectKube, connectionFromEnv, describeConnectError }, { startKubeAutoscaler }, { readAutoscalerConfigFile }, { createLogger }, { hostname }] = await Promise.all([
    import('../kubernetes/client.js'),
    import('../kubernetes/autoscaler-main.js'),
    import('../autoscaler/main.js'),
    import('../common/logger.js'),
    import('node:os'),
  ]);
  const config = flags.config === undefined ? undefined : await readAutoscalerConfigFile(resolve(io.cwd, flags.config));
  let conn;
  try {
    conn = await connectKube(connectionFromEnv(io.env, { kubeconfig: flags.kubeconfig === undefined ? undefined : resolve(io.cwd, flags.kubeconfig), context: flags.context }));
  } catch (err) {
    io.stderr.write(`tide autoscaler: ${describeConnectError(err)}\n`);
    return 1;
  }
  const logger = createLogger('autoscaler', io.env['TIDE_LOG_LEVEL'] ?? 'info');
  const identity = io.env['POD_NAME'] ?? hostname();
  const running = await startKubeAutoscaler({
    api: conn.api,
    namespace: flags.namespace,
    systemNamespace: flags.systemNamespace,
    identity,
    podIp: io.env['POD_IP'],
    host: flags.host,
    statsPort: flags.statsPort,
    httpPort: flags.httpPort,
    logger,
    ...(config ? { config } : {}),
  });
  io.stdout.write(
    `tide autoscaler (kubernetes backend, API server ${conn.api.server}, ${conn.version})\n` +
      `  namespaces:   ${flags.namespace ?? '(all)'}; lease ${flags.systemNamespace}/tide-autoscaler as ${identity}\n` +
      `  stats (gRPC): ${running.servers.statsAddress}\n` +
      `  dashboard:    ${running.servers.dashboardUrl}\n` +
      `  metrics:      ${running.servers.dashboardUrl}metrics\n`,
  );
  await untilStopSignal(logger);
  await running.close();
  logger.flush();
  return 0;
}
