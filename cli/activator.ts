/** `tide activator`: the activator, standalone, with a static revisions/endpoints file (activator/README.md). */
import { resolve } from 'node:path';
import { parseFlags, portFlag } from './flags.js';
import { kubeFlags } from './autoscaler.js';
import { UsageError, untilStopSignal, type CliIo } from './io.js';

const HELP = `usage: tide activator --config FILE [--autoscaler HOST:PORT] [--port 8012] [--metrics-port 9090] [--host 0.0.0.0]
       tide activator --backend kubernetes [--kubeconfig FILE] [--context NAME] [--namespace NS]
                      [--system-namespace tide-system] [--autoscaler HOST:PORT] [--port 8012] ...

Buffers requests for revisions without capacity, load-balances them over the pods by their concurrency, and reports
demand to the autoscaler. With --config (the static backend), FILE (YAML or JSON) lists the revisions with their
hosts, containerConcurrency, timeouts and endpoints; see activator/README.md. With --backend kubernetes, revisions
are the Deployments labelled tide.dev/managed=true, their pods come from EndpointSlices, and this activator's share
of each revision's capacity from its place ($POD_IP) among the tide-activator endpoints (docs/kubernetes.md).
Logs JSON lines to stderr; on SIGTERM readiness fails, and after the drain delay (activator.drainDelayMs, default
45 s) it stops accepting, finishes what it holds and exits 0.

  --backend static|kubernetes  where revisions come from (default: static with --config; kubernetes inside a
                          cluster without --config)
  --config FILE           static revisions and endpoints (static backend)
  --kubeconfig FILE       kubernetes: this kubeconfig (default: in-cluster, else $KUBECONFIG or ~/.kube/config)
  --context NAME          kubernetes: the kubeconfig context
  --namespace NS          kubernetes: only revisions in NS (default: every namespace)
  --system-namespace NS   kubernetes: Tide's namespace (default tide-system, or $TIDE_SYSTEM_NAMESPACE)
  --autoscaler HOST:PORT  the autoscaler's stats endpoint (gRPC); static: without it demand stats are dropped;
                          kubernetes: default tide-autoscaler.<system-namespace>.svc:8080
  --port N                serving port, HTTP/1.1 and h2c (default 8012)
  --metrics-port N        Prometheus /metrics port (default 9090; 0 = off)
  --host ADDR             bind address (default 0.0.0.0)
`;

export interface ActivatorFlags {
  backend: 'static' | 'kubernetes';
  /** '' with the kubernetes backend. */
  config: string;
  kubeconfig: string | undefined;
  context: string | undefined;
  namespace: string | undefined;
  systemNamespace: string;
  autoscaler: string | undefined;
  port: number;
  metricsPort: number;
  host: string;
}

/** Parses the flags; throws UsageError naming the flag. */
export function parseActivatorFlags(argv: string[], env: CliIo['env'] = {}): ActivatorFlags {
  const { values } = parseFlags(
    argv,
    {
      backend: { type: 'string' },
      config: { type: 'string' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string' },
      'system-namespace': { type: 'string' },
      autoscaler: { type: 'string' },
      port: { type: 'string' },
      'metrics-port': { type: 'string' },
      host: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    HELP,
  );
  const backend = values.backend ?? (values.config === undefined && env['KUBERNETES_SERVICE_HOST'] ? 'kubernetes' : 'static');
  if (backend !== 'static' && backend !== 'kubernetes') throw new UsageError(`--backend: expected static or kubernetes, got ${JSON.stringify(backend)}`);
  const kube = kubeFlags(values, env);
  if (backend === 'static') {
    if (!values.config) throw new UsageError(`--config FILE is required\n\n${HELP}`);
    for (const f of ['kubeconfig', 'context', 'namespace', 'system-namespace'] as const) {
      if (values[f] !== undefined) throw new UsageError(`--${f} needs --backend kubernetes`);
    }
  } else if (values.config !== undefined) {
    throw new UsageError('--config is for the static backend; --backend kubernetes reads revisions from the cluster');
  }
  const autoscaler = values.autoscaler ?? (backend === 'kubernetes' ? `tide-autoscaler.${kube.systemNamespace}.svc:8080` : undefined);
  if (autoscaler !== undefined && !/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(autoscaler)) {
    throw new UsageError(`--autoscaler: expected HOST:PORT, got ${JSON.stringify(autoscaler)}`);
  }
  if (values.host === '') throw new UsageError('--host: expected an address');
  return {
    backend,
    config: values.config ?? '',
    ...kube,
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
  const flags = parseActivatorFlags(argv, io.env);
  if (flags.backend === 'kubernetes') return runKubernetes(flags, io);
  const { runActivator } = await import('../activator/main.js');
  const { createLogger } = await import('../common/logger.js');
  return runActivator(
    { configFile: flags.config, autoscaler: flags.autoscaler, host: flags.host, port: flags.port, metricsPort: flags.metricsPort, cwd: io.cwd },
    createLogger('activator', io.env['TIDE_LOG_LEVEL'] ?? 'info'),
  );
}

async function runKubernetes(flags: ActivatorFlags, io: CliIo): Promise<number> {
  const [{ connectKube, connectionFromEnv, describeConnectError }, { startKubeActivator }, { createLogger }] = await Promise.all([
    import('../kubernetes/client.js'),
    import('../kubernetes/activator-main.js'),
    import('../common/logger.js'),
  ]);
  let conn;
  try {
    conn = await connectKube(connectionFromEnv(io.env, { kubeconfig: flags.kubeconfig === undefined ? undefined : resolve(io.cwd, flags.kubeconfig), context: flags.context }));
  } catch (err) {
    io.stderr.write(`tide activator: ${describeConnectError(err)}\n`);
    return 1;
  }
  const logger = createLogger('activator', io.env['TIDE_LOG_LEVEL'] ?? 'info');
  const running = await startKubeActivator({
    api: conn.api,
    namespace: flags.namespace,
    systemNamespace: flags.systemNamespace,
    podIp: io.env['POD_IP'],
    autoscaler: flags.autoscaler!,
    host: flags.host,
    port: flags.port,
    metricsPort: flags.metricsPort,
    logger,
  });
  await untilStopSignal(logger);
  await running.shutdown();
  return 0;
}
