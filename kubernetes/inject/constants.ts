/**
 * Names shared by `tide inject`, the webhook and the manifests: the queue-proxy container, its ports (Knative's names
 * and numbers, pkg/reconciler/revision/resources/queue.go), the `tide.dev/*` keys and the image.
 */
import { DEFAULTS as QP } from '../../proxy/config.js';

/**
 * The image every component runs, set here once; `manifests/kustomization.yaml`'s `images:` entry carries the same
 * name and tag (test/manifests/manifests.test.ts checks it), and `tide inject --image` overrides it.
 */
export const DEFAULT_IMAGE = 'ghcr.io/tide-dev/tide:0.1.0';

/** The sidecar's container name, as Knative's. */
export const QUEUE_PROXY_NAME = 'queue-proxy';

/** The queue-proxy's container ports, Knative's names (resources/queue.go) and numbers (proxy/config.ts DEFAULTS). */
export const QUEUE_PORTS = {
  /** HTTP/1.1 and h2c from clients (Knative `queue-port`, 8012). */
  serving: { name: 'queue-port', containerPort: QP.servingPort },
  /** `/wait-for-drain` for the app's preStop hook (Knative `http-queueadm`, 8022). */
  admin: { name: 'http-queueadm', containerPort: QP.adminPort },
  /** The autoscaler's stats scrape (Knative `http-autometric`, 9090). */
  stats: { name: 'http-autometric', containerPort: QP.statsPort },
  /** Prometheus text (Knative `http-usermetric`, 9091). */
  metrics: { name: 'http-usermetric', containerPort: QP.metricsPort },
} as const;

/** Ports the app may not use: the queue-proxy listens on them in the same network namespace. */
export const RESERVED_PORTS: ReadonlySet<number> = new Set(Object.values(QUEUE_PORTS).map((p) => p.containerPort));

/** The queue-proxy's admin path the app's preStop hook calls (proxy/app.ts WAIT_FOR_DRAIN_PATH). */
export const WAIT_FOR_DRAIN_PATH = '/wait-for-drain';

/** How long the queue-proxy waits with no new request before it stops (proxy/config.ts, Knative's fixed 30 s). */
export const DRAIN_QUIET_SECONDS = QP.drainQuietSeconds;

/** Port names on the app container that say "this is the serving port", as Knative's (http1, h2c) plus plain http. */
export const SERVING_PORT_NAMES: readonly string[] = ['http', 'http1', 'h2c'];

/** `tide.dev/*` keys written or read by injection (the scaling knobs live in autoscaler/config/annotations.ts). */
export const KEYS = {
  /** Label on a Deployment (and its prepared Service): Tide scales and routes it. */
  managed: 'tide.dev/managed',
  /** Annotation on an injected Deployment: the Tide version that injected it (the idempotency marker). */
  injected: 'tide.dev/injected',
  /** Annotation on an injected Deployment: JSON of the pod fields injection changed, for `tide uninject`. */
  originalPod: 'tide.dev/original-pod',
  /** Annotation on a Deployment or Pod: put the queue-proxy in initContainers with restartPolicy Always. */
  nativeSidecar: 'tide.dev/native-sidecar',
  /** Namespace label `enabled`, or workload annotation `"true"` / `"false"`: what the webhook injects. */
  inject: 'tide.dev/inject',
  /** Annotation on a prepared Service: its selector before injection (JSON object text). */
  originalSelector: 'tide.dev/original-selector',
  /** Annotation on a prepared Service: each port's targetPort before injection (JSON, port name or number → targetPort). */
  originalTargetPorts: 'tide.dev/original-target-ports',
  /** Annotation on a prepared Service: the Deployment whose pods it fronts. */
  deployment: 'tide.dev/deployment',
} as const;

/** Tide's own namespace: never injected. */
export const SYSTEM_NAMESPACE = 'tide-system';
