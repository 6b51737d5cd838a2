/** The activator's view of where a revision's pods are (docs/architecture.md, Backends: "endpoints"). */

/** One pod's queue-proxy address. */
export interface Endpoint {
  /** Stable identity (pod name). */
  readonly name: string;
  /** `host:port` of the pod's queue-proxy serving port (8012 in a cluster; any loopback port locally). */
  readonly address: string;
  /** True if the backend already calls the pod ready; unready pods are still probed and may be used early (§b4). */
  readonly ready: boolean;
}

/** The full current set for one revision, replacing the previous one. */
export interface EndpointsUpdate {
  readonly namespace: string;
  readonly revision: string;
  readonly endpoints: readonly Endpoint[];
}

/**
 * A stream of endpoint sets. Implementations: Kubernetes (EndpointSlices, later), local (`tide up`),
 * and test fakes. `subscribe` calls `onUpdate` with the current set of every known revision at once,
 * then on every change; the returned function stops the stream.
 */
export interface EndpointsSource {
  subscribe(onUpdate: (update: EndpointsUpdate) => void): () => void;
}

/** What the activator knows about a revision besides its pods. */
export interface RevisionInfo {
  readonly namespace: string;
  readonly revision: string;
  /** Host names that route to this revision (e.g. `hello.localhost`, `hello.default.svc.cluster.local`). */
  readonly hosts: readonly string[];
  /** 0 = unlimited. */
  readonly containerConcurrency: number;
  readonly timeoutSeconds: number;
  readonly responseStartTimeoutSeconds: number;
  readonly idleTimeoutSeconds: number;
}

/** The known revisions; unknown ones get 404 and the activator connects nowhere for them. */
export interface RevisionSource {
  /** Looks a revision up by namespace and name; undefined if unknown. */
  byName(namespace: string, revision: string): RevisionInfo | undefined;
  /** Looks a revision up by Host header (port stripped, lower-cased). */
  byHost(host: string): RevisionInfo | undefined;
}
