/** The "static" RevisionSource and EndpointsSource: fixed revisions and endpoints from the `--config` file (and tests). */
import { revisionKey } from '../common/stats.js';
import type { Endpoint, EndpointsSource, EndpointsUpdate, RevisionInfo, RevisionSource } from './endpoints.js';

/** Revisions looked up by name or host. `set` replaces one (tests and reloads). */
export class StaticRevisionSource implements RevisionSource {
  readonly #byName = new Map<string, RevisionInfo>();
  readonly #byHost = new Map<string, RevisionInfo>();

  constructor(revisions: readonly RevisionInfo[] = []) {
    for (const r of revisions) this.set(r);
  }

  set(info: RevisionInfo): void {
    this.#byName.set(revisionKey(info.namespace, info.revision), info);
    for (const h of info.hosts) this.#byHost.set(h.toLowerCase(), info);
  }

  byName(namespace: string, revision: string): RevisionInfo | undefined {
    return this.#byName.get(revisionKey(namespace, revision));
  }

  byHost(host: string): RevisionInfo | undefined {
    return this.#byHost.get(host);
  }
}

/** Endpoint sets that change only when `set` is called; subscribers get every known set at once, then changes. */
export class StaticEndpointsSource implements EndpointsSource {
  readonly #sets = new Map<string, EndpointsUpdate>();
  readonly #subscribers = new Set<(u: EndpointsUpdate) => void>();

  set(namespace: string, revision: string, endpoints: readonly Endpoint[]): void {
    const u: EndpointsUpdate = { namespace, revision, endpoints: [...endpoints] };
    this.#sets.set(revisionKey(namespace, revision), u);
    for (const fn of this.#subscribers) fn(u);
  }

  subscribe(onUpdate: (update: EndpointsUpdate) => void): () => void {
    this.#subscribers.add(onUpdate);
    for (const u of this.#sets.values()) onUpdate(u);
    return () => {
      this.#subscribers.delete(onUpdate);
    };
  }
}
