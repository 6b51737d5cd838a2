/** The four informers both the autoscaler backend and the activator's sources follow (docs/kubernetes.md). */
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { paths, type KubeApi } from './client.js';
import { Informer } from './informer.js';
import { ACTIVATOR_SERVICE, LABEL_SERVICE_NAME, MANAGED_SELECTOR, TIDE_SLICES, type Deployment, type EndpointSlice, type Service } from './objects.js';

export interface WatchedObjects {
  /** Managed Deployments (label `tide.dev/managed=true`). */
  readonly deployments: Informer<Deployment>;
  /** Prepared Services (same label). */
  readonly services: Informer<Service>;
  /** The private Services' slices and the switch slices Tide writes. */
  readonly slices: Informer<EndpointSlice>;
  /** The activators' own slices, in Tide's namespace. */
  readonly activatorSlices: Informer<EndpointSlice>;
}

export function watchedObjects(o: { api: KubeApi; clock: Clock; logger: Logger; namespace: string | undefined; systemNamespace: string }): WatchedObjects {
  const common = { api: o.api, clock: o.clock, logger: o.logger };
  return {
    deployments: new Informer<Deployment>({ ...common, name: 'deployments', path: paths.deployments(o.namespace), query: { labelSelector: MANAGED_SELECTOR } }),
    services: new Informer<Service>({ ...common, name: 'services', path: paths.services(o.namespace), query: { labelSelector: MANAGED_SELECTOR } }),
    slices: new Informer<EndpointSlice>({ ...common, ...TIDE_SLICES, path: paths.endpointSlices(o.namespace) }),
    activatorSlices: new Informer<EndpointSlice>({
      ...common,
      name: 'activator-endpointslices',
      path: paths.endpointSlices(o.systemNamespace),
      query: { labelSelector: `${LABEL_SERVICE_NAME}=${ACTIVATOR_SERVICE}` },
    }),
  };
}
