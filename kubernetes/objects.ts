/** The few fields of Kubernetes objects the backend reads and writes, and the names it uses (docs/kubernetes.md). */

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  uid?: string;
  generation?: number;
  deletionTimestamp?: string;
  ownerReferences?: OwnerReference[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

export interface Deployment extends KubeObject {
  spec?: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> };
    template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } };
  };
  status?: { replicas?: number; readyReplicas?: number };
}

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
  appProtocol?: string;
}

export interface Service extends KubeObject {
  spec?: { selector?: Record<string, string>; ports?: ServicePort[]; type?: string; clusterIP?: string };
}

export interface EndpointConditions {
  ready?: boolean | null;
  serving?: boolean | null;
  terminating?: boolean | null;
}

export interface SliceEndpoint {
  addresses: string[];
  conditions?: EndpointConditions;
  targetRef?: { kind?: string; name?: string; namespace?: string; uid?: string };
  nodeName?: string;
}

export interface SlicePort {
  name?: string;
  port?: number;
  protocol?: string;
  appProtocol?: string;
}

export interface EndpointSlice extends KubeObject {
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  endpoints?: SliceEndpoint[] | null;
  ports?: SlicePort[] | null;
}

export interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number | null;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number | null;
  };
}

/** `namespace/name` (cluster-scoped: `name`). */
export function objectKey(namespace: string | undefined, name: string): string {
  return namespace === undefined || namespace === '' ? name : `${namespace}/${name}`;
}

// ---- names and labels shared with `tide inject` (docs/kubernetes.md) ------------------------------------------------

export const LABEL_MANAGED = 'tide.dev/managed';
export const LABEL_DEPLOYMENT = 'tide.dev/deployment';
export const ANNOTATION_DEPLOYMENT = 'tide.dev/deployment';
export const ANNOTATION_ORIGINAL_SELECTOR = 'tide.dev/original-selector';
export const ANNOTATION_ORIGINAL_TARGET_PORTS = 'tide.dev/original-target-ports';
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
/** `managed-by` of the EndpointSlices the autoscaler writes for a user's Service. */
export const MANAGED_BY_TIDE = 'tide.dev/autoscaler';
export const MANAGED_SELECTOR = `${LABEL_MANAGED}=true`;

/** The private Service (pods' own endpoints) of user Service `service`. */
export const privateServiceName = (service: string): string => `${service}-private`;
/** The EndpointSlice Tide writes for user Service `service`. */
export const switchSliceName = (service: string): string => `${service}-tide`;

/** Ports of the private Service: queue-proxy serving, user metrics, and stats. */
export const QUEUE_SERVING_PORT = 8012;
export const QUEUE_USER_METRICS_PORT = 9091;
export const QUEUE_STATS_PORT = 9090;
export const PRIVATE_PORTS = {
  http: { name: 'http', port: 80, targetPort: QUEUE_SERVING_PORT },
  usermetric: { name: 'http-usermetric', port: QUEUE_USER_METRICS_PORT, targetPort: QUEUE_USER_METRICS_PORT },
  stats: { name: 'tide-stats', port: QUEUE_STATS_PORT, targetPort: QUEUE_STATS_PORT },
} as const;

/** Tide's own namespace and objects. */
export const SYSTEM_NAMESPACE = 'tide-system';
export const ACTIVATOR_SERVICE = 'tide-activator';
export const AUTOSCALER_LEASE = 'tide-autoscaler';
export const AUTOSCALER_SERVICE = 'tide-autoscaler';
export const AUTOSCALER_STATS_PORT = 8080;

export function isManaged(obj: KubeObject): boolean {
  return obj.metadata.labels?.[LABEL_MANAGED] === 'true' && obj.metadata.deletionTimestamp === undefined;
}

export function ownerRef(kind: string, apiVersion: string, obj: KubeObject): OwnerReference {
  return { apiVersion, kind, name: obj.metadata.name, uid: obj.metadata.uid ?? '', controller: true, blockOwnerDeletion: false };
}

/**
 * The EndpointSlices the backend follows: those of private Services (written by Kubernetes' controller, which need
 * not copy our labels) and those Tide writes. Selected by `kubernetes.io/service-name` existing, filtered by name.
 */
export const TIDE_SLICES = {
  name: 'endpointslices',
  query: { labelSelector: LABEL_SERVICE_NAME },
  filter: (o: KubeObject): boolean => o.metadata.labels?.[LABEL_MANAGED_BY] === MANAGED_BY_TIDE || (o.metadata.labels?.[LABEL_SERVICE_NAME] ?? '').endsWith('-private'),
} as const;
