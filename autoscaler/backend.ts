/** The two narrow interfaces the autoscaler drives (docs/architecture.md, Backends). Kubernetes and local implement them. */

/** One pod of a revision as the autoscaler sees it. */
export interface PodInfo {
  readonly name: string;
  /** `host:port` of the pod's queue-proxy stats endpoint (gRPC QueueStats, 9090 in a cluster). */
  readonly statsAddress: string;
  /** `host:port` of the pod's queue-proxy serving port (8012 in a cluster). */
  readonly servingAddress: string;
  /** Ready per §c1: running, not terminating, readiness passed. */
  readonly ready: boolean;
  /** When the pod became ready (ms since epoch), for §c2's old/young split; undefined if not ready. */
  readonly readySinceMs: number | undefined;
}

/** Reads pods and sets replicas for one backend. */
export interface ScaleTarget {
  /** Pods of a revision (ready and not); empty for an unknown revision. */
  pods(namespace: string, revision: string): readonly PodInfo[];
  /** Current desired replicas as the backend holds it (unset counts as 1 in Kubernetes). */
  replicas(namespace: string, revision: string): number;
  /** Writes desired replicas; resolves once the backend accepted the change (not once pods are ready). */
  setReplicas(namespace: string, revision: string, replicas: number): Promise<void>;
}
