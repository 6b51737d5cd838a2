/** `tide webhook`: the mutating admission webhook that injects the queue-proxy (docs/install.md). */
import { resolve } from 'node:path';
import { DEFAULT_IMAGE } from '../kubernetes/inject/constants.js';
import { parseFlags, portFlag } from './flags.js';
import { kubeFlags } from './autoscaler.js';
import { UsageError, untilStopSignal, type CliIo } from './io.js';

const HELP = `usage: tide webhook [--port 8443] [--host 0.0.0.0] [--image IMAGE] [--system-namespace tide-system]
                    [--service tide-webhook] [--secret tide-webhook-certs] [--webhook-config tide-webhook]
                    [--cert-dir DIR] [--kubeconfig FILE] [--context NAME]

A mutating admission webhook (admission.k8s.io/v1, JSON Patch) that adds the queue-proxy to Deployments and bare
Pods exactly as tide inject does: in namespaces labelled tide.dev/inject=enabled (POST /mutate/namespace; a
workload annotated tide.dev/inject: "false" is left alone) and, elsewhere, to workloads annotated
tide.dev/inject: "true" (POST /mutate/annotated). A workload it cannot inject is admitted unchanged with a warning.
A Service in the same scope is prepared as tide inject prepares it when exactly one Tide Deployment's pods match
its selector; a Service applied before its Deployment is prepared through the API once the Deployment is stored.

Certificates: by default it keeps its own CA and serving certificate in the Secret --secret, puts the CA into every
webhook of the MutatingWebhookConfiguration --webhook-config, checks them every hour and renews them when a third
of their validity is left, serving the new certificate without a restart. Replicas share the Secret. With
--cert-dir, it serves DIR/tls.crt and DIR/tls.key (e.g. a cert-manager Certificate's Secret, with cert-manager's
CA injector filling the caBundle) and reloads them when they change. Either way Service preparation uses the API
(Deployments list, Services list and patch); with --cert-dir and no kubeconfig at all, Services are left unchanged.

  --port N                 HTTPS port (default 8443)
  --host ADDR              bind address (default 0.0.0.0)
  --image IMAGE            the queue-proxy image to inject (default $TIDE_QUEUE_PROXY_IMAGE, else ${DEFAULT_IMAGE})
  --system-namespace NS    Tide's namespace, never mutated; holds the Secret (default tide-system, or $TIDE_SYSTEM_NAMESPACE)
  --service NAME           the webhook's Service, named in the certificate (default tide-webhook)
  --secret NAME            the Secret holding the CA and serving certificate (default tide-webhook-certs)
  --webhook-config NAME    the MutatingWebhookConfiguration to put the CA into (default tide-webhook)
  --cert-dir DIR           serve DIR/tls.crt and DIR/tls.key instead (no Secret, no caBundle writes)
  --kubeconfig FILE        connect with this kubeconfig (default: in-cluster service account, else $KUBECONFIG)
  --context NAME           the kubeconfig context
`;

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export interface WebhookFlags {
  port: number;
  host: string;
  image: string;
  systemNamespace: string;
  service: string;
  secret: string;
  webhookConfig: string;
  certDir: string | undefined;
  kubeconfig: string | undefined;
  context: string | undefined;
}

/** Parses the flags; throws UsageError naming the flag. */
export function parseWebhookFlags(argv: string[], env: CliIo['env']): WebhookFlags {
  const { values } = parseFlags(
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      image: { type: 'string' },
      'system-namespace': { type: 'string' },
      service: { type: 'string' },
      secret: { type: 'string' },
      'webhook-config': { type: 'string' },
      'cert-dir': { type: 'string' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    HELP,
  );
  const kube = kubeFlags(values, env);
  const image = values.image ?? env['TIDE_QUEUE_PROXY_IMAGE'] ?? DEFAULT_IMAGE;
  if (image.trim() === '' || /\s/.test(image)) throw new UsageError(`--image: expected an image reference, got ${JSON.stringify(image)}`);
  for (const flag of ['service', 'secret', 'webhook-config'] as const) {
    const v = values[flag];
    if (v !== undefined && !NAME.test(v)) throw new UsageError(`--${flag}: not a Kubernetes object name: ${JSON.stringify(v)}`);
  }
  if (values.host === '') throw new UsageError('--host: expected an address');
  if (values['cert-dir'] === '') throw new UsageError('--cert-dir: expected a folder');
  return {
    port: portFlag('port', values.port, 8443),
    host: values.host ?? '0.0.0.0',
    image,
    systemNamespace: kube.systemNamespace,
    service: values.service ?? 'tide-webhook',
    secret: values.secret ?? 'tide-webhook-certs',
    webhookConfig: values['webhook-config'] ?? 'tide-webhook',
    certDir: values['cert-dir'],
    kubeconfig: kube.kubeconfig,
    context: kube.context,
  };
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(HELP);
    return 0;
  }
  const flags = parseWebhookFlags(argv, io.env);
  const [{ startWebhook }, { createLogger }, { systemClock }, { fromRoot }, { readFile }] = await Promise.all([
    import('../kubernetes/webhook/main.js'),
    import('../common/logger.js'),
    import('../common/clock.js'),
    import('../common/paths.js'),
    import('node:fs/promises'),
  ]);
  const logger = createLogger('webhook', io.env['TIDE_LOG_LEVEL'] ?? 'info');
  const { version } = JSON.parse(await readFile(fromRoot('package.json'), 'utf8')) as { version: string };

  const { connectKube, connectionFromEnv, createKubeApi, describeConnectError, loadKubeConfig } = await import('../kubernetes/client.js');
  const connection = connectionFromEnv(io.env, { kubeconfig: flags.kubeconfig === undefined ? undefined : resolve(io.cwd, flags.kubeconfig), context: flags.context });
  let certs: import('../kubernetes/webhook/main.js').CertSource;
  let api: import('../kubernetes/client.js').KubeApi | undefined;
  if (flags.certDir !== undefined) {
    certs = { kind: 'files', dir: resolve(io.cwd, flags.certDir) };
    // The certificates need no API here; Services do. Connect lazily, and without a configuration serve anyway.
    try {
      api = createKubeApi(loadKubeConfig(connection).kc);
    } catch (err) {
      logger.warn({ err: describeConnectError(err) }, 'no Kubernetes API: Services are admitted unchanged (not prepared for Tide)');
    }
  } else {
    const [{ CertKeeper }, { serviceDnsNames }] = await Promise.all([import('../kubernetes/webhook/cert-keeper.js'), import('../kubernetes/webhook/certs.js')]);
    try {
      api = (await connectKube(connection)).api;
    } catch (err) {
      io.stderr.write(`tide webhook: ${describeConnectError(err)}\n`);
      return 1;
    }
    certs = {
      kind: 'keeper',
      keeper: new CertKeeper({ api, namespace: flags.systemNamespace, secretName: flags.secret, webhookConfigName: flags.webhookConfig, dnsNames: serviceDnsNames(flags.service, flags.systemNamespace) }),
    };
  }

  // The clock's timers do not hold the process open; this does, until the server listens (or forever after).
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const running = await startWebhook({
    host: flags.host,
    port: flags.port,
    certs,
    admission: { image: flags.image, version, systemNamespace: flags.systemNamespace },
    clock: systemClock,
    logger,
    ...(api === undefined ? {} : { services: { api } }),
  });
  clearInterval(keepAlive);
  await untilStopSignal(logger);
  await running.close();
  return 0;
}
