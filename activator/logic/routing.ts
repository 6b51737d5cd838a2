/** What the activator does with a request before any revision logic (docs/knative-parity.md §b2 handler chain, §a9 headers). */
import { H, firstHeader as first, isKubeletProbe, type HeaderValues } from '../../common/http/headers.js';
import type { RevisionInfo, RevisionSource } from '../endpoints.js';

/** Header values as node gives them. */
export type Headers = HeaderValues;

export type Route =
  /** kubelet probe / health check: 200, or 500 when not ready. */
  | { kind: 'health' }
  /** `K-Network-Probe: probe`: echo `K-Network-Hash` (400 if missing). */
  | { kind: 'hash-probe'; hash: string | undefined }
  /** `K-Network-Probe: activator`: 200 body `activator`. */
  | { kind: 'activator-probe' }
  /** Any other `K-Network-Probe` value: 400. */
  | { kind: 'bad-probe'; value: string }
  /** No known revision: 404, and nothing is dialled. */
  | { kind: 'unknown-revision' }
  | { kind: 'revision'; revision: RevisionInfo };

/** Host without port, lower-cased: `Hello.Default:8080` → `hello.default`, `[::1]:80` → `[::1]`. */
export function normalizeHost(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end >= 0 ? h.slice(0, end + 1) : h;
  }
  const colon = h.lastIndexOf(':');
  const bare = colon >= 0 ? h.slice(0, colon) : h;
  return bare.endsWith('.') ? bare.slice(0, -1) : bare;
}

/**
 * §b2, outermost first: kubelet probe → health; `K-Network-Probe` → hash echo / activator / 400; then the revision from
 * `Knative-Serving-Namespace` + `Knative-Serving-Revision`, or from Host (`host` is Host or h2 `:authority`).
 */
export function route(headers: Headers, host: string | undefined, revisions: RevisionSource): Route {
  if (isKubeletProbe(headers)) return { kind: 'health' };
  const probe = first(headers[H.networkProbe]);
  if (probe !== undefined) {
    if (probe === 'probe') return { kind: 'hash-probe', hash: first(headers[H.networkHash]) };
    if (probe === 'activator') return { kind: 'activator-probe' };
    return { kind: 'bad-probe', value: probe };
  }
  const ns = first(headers[H.servingNamespace]);
  const rev = first(headers[H.servingRevision]);
  let info: RevisionInfo | undefined;
  if (ns !== undefined && rev !== undefined && ns !== '' && rev !== '') info = revisions.byName(ns, rev);
  else if (host !== undefined && host !== '') info = revisions.byHost(normalizeHost(host));
  return info ? { kind: 'revision', revision: info } : { kind: 'unknown-revision' };
}
