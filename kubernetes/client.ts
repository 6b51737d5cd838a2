/**
 * The Kubernetes API as the backend uses it: configuration and authentication from `@kubernetes/client-node`
 * (in-cluster service account or kubeconfig, every auth method it supports), JSON over its undici dispatcher, and its
 * `Watch` for watch streams. One narrow interface (`KubeApi`) so the informers, leader election and writers can be
 * tested against the fake API server or a plain object.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { HttpMethod, KubeConfig, RequestContext, Watch } from '@kubernetes/client-node';
import { fetch, type Dispatcher } from 'undici';

/** A Kubernetes `Status` failure (or a transport failure, status 0). */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  /** HTTP status; 0 when the server could not be reached. */
  readonly status: number;
  /** The Status object's `reason` (`NotFound`, `Conflict`, `Expired`, `Gone`, ...), or `''`. */
  readonly reason: string;

  constructor(status: number, reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
    this.reason = reason;
  }
}

/** One watch event as the API server sends it. */
export interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: Record<string, unknown>;
}

/** A list answer: the items and the list's resourceVersion (where a watch resumes). */
export interface ListResult<T> {
  readonly items: T[];
  readonly resourceVersion: string;
}

export type PatchType = 'merge' | 'json';

/** The calls the backend makes. Paths are API paths (`/apis/apps/v1/namespaces/default/deployments`). */
export interface KubeApi {
  /** The API server's URL, for messages. */
  readonly server: string;
  list<T>(path: string, query?: Record<string, string>): Promise<ListResult<T>>;
  /**
   * Opens a watch. `onEvent` gets each event; `onDone` once, when the stream ends (error or not). Resolves once the
   * request is sent; the returned function aborts it (and then `onDone` is not called).
   */
  watch(path: string, query: Record<string, string>, onEvent: (e: WatchEvent) => void, onDone: (err: unknown) => void): Promise<() => void>;
  get<T>(path: string): Promise<T>;
  create<T>(path: string, body: unknown): Promise<T>;
  replace<T>(path: string, body: unknown): Promise<T>;
  patch<T>(path: string, body: unknown, type?: PatchType): Promise<T>;
  delete(path: string): Promise<void>;
}

/** Where the connection settings come from. */
export type KubeConnection =
  | { readonly kind: 'kubeconfig'; readonly file?: string; readonly context?: string }
  | {
      readonly kind: 'in-cluster';
      /** KUBERNETES_SERVICE_HOST and _PORT. */
      readonly host: string;
      readonly port: string;
      readonly tokenPath: string;
      readonly caPath: string;
      readonly namespacePath: string;
    };

/** Service-account files inside a pod. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Picks in-cluster settings when `env` has KUBERNETES_SERVICE_HOST and no kubeconfig was asked for. */
export function connectionFromEnv(env: Readonly<Record<string, string | undefined>>, flags: { kubeconfig?: string | undefined; context?: string | undefined }): KubeConnection {
  const host = env['KUBERNETES_SERVICE_HOST'];
  if (flags.kubeconfig === undefined && flags.context === undefined && host) {
    return {
      kind: 'in-cluster',
      host,
      port: env['KUBERNETES_SERVICE_PORT'] ?? '443',
      tokenPath: `${SERVICE_ACCOUNT_DIR}/token`,
      caPath: `${SERVICE_ACCOUNT_DIR}/ca.crt`,
      namespacePath: `${SERVICE_ACCOUNT_DIR}/namespace`,
    };
  }
  // Without --kubeconfig, client-node's default order applies: $KUBECONFIG (merged), ~/.kube/config.
  const file = flags.kubeconfig;
  return { kind: 'kubeconfig', ...(file ? { file } : {}), ...(flags.context !== undefined ? { context: flags.context } : {}) };
}

/** A KubeConfig and the namespace it names (the context's, or the service account's). */
export function loadKubeConfig(conn: KubeConnection): { kc: KubeConfig; namespace: string | undefined } {
  const kc = new KubeConfig();
  if (conn.kind === 'in-cluster') {
    const host = conn.host.includes(':') ? `[${conn.host}]` : conn.host;
    kc.loadFromClusterAndUser(
      { name: 'in-cluster', server: `https://${host}:${conn.port}`, caFile: conn.caPath, skipTLSVerify: false },
      { name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile: conn.tokenPath } } },
    );
    let namespace: string | undefined;
    try {
      namespace = readFileSync(conn.namespacePath, 'utf8').trim() || undefined;
    } catch {
      namespace = undefined;
    }
    return { kc, namespace };
  }
  if (conn.file !== undefined) kc.loadFromFile(conn.file);
  else kc.loadFromDefault();
  if (conn.context !== undefined) {
    if (!kc.getContextObject(conn.context)) throw new KubeApiError(0, 'NoContext', `context ${JSON.stringify(conn.context)} is not in the kubeconfig`);
    kc.setCurrentContext(conn.context);
  }
  if (!kc.getCurrentCluster()) throw new KubeApiError(0, 'NoCluster', 'the kubeconfig names no current cluster');
  return { kc, namespace: kc.getContextObject(kc.getCurrentContext())?.namespace };
}

/** Default deadline of one API call (not watches). */
export const REQUEST_TIMEOUT_MS = 10_000;

function statusError(status: number, body: unknown, what: string): KubeApiError {
  const s = (typeof body === 'object' && body !== null ? body : {}) as { reason?: unknown; message?: unknown };
  const reason = typeof s.reason === 'string' ? s.reason : '';
  const message = typeof s.message === 'string' ? s.message : typeof body === 'string' && body !== '' ? body.slice(0, 200) : `HTTP ${status}`;
  return new KubeApiError(status, reason, `${what}: ${status} ${reason ? reason + ': ' : ''}${message}`);
}

/** What a call needs from the kubeconfig: its headers (credentials) and the dispatcher that carries its TLS identity. */
interface CallAuth {
  headers: Record<string, string>;
  dispatcher: Dispatcher | undefined;
}

/**
 * A digest of what identifies the TLS side of a connection: the CA, the client certificate and key, verification.
 * Certificates and keys are hashed as bytes (not serialised first): this runs for every API call.
 */
function tlsIdentity(o: RequestOptions): string {
  const h = createHash('sha256');
  const feed = (v: unknown): void => {
    if (Array.isArray(v)) for (const item of v) feed(item);
    else if (Buffer.isBuffer(v) || typeof v === 'string') h.update(`${typeof v}:`).update(v);
    else h.update(`json:${JSON.stringify(v ?? null)}`);
    h.update('\0');
  };
  for (const v of [o.ca, o.cert, o.key, o.pfx, o.passphrase, o.rejectUnauthorized, o.servername]) feed(v);
  return h.digest('hex');
}

/**
 * client-node's `applySecurityAuthentication` builds a new undici Agent, so a new TLS handshake, for every call, and
 * never closes the old ones. This keeps one dispatcher per TLS identity and reuses its connections; the credentials
 * (a service-account token that rotates, an exec plugin's token) are still read for every call. A changed identity (a
 * rotated client certificate) gets a new dispatcher; the old one is closed after two call deadlines.
 */
function reusingAuthentication(kc: KubeConfig, retireAfterMs: number): (url: string, method: HttpMethod) => Promise<CallAuth> {
  let kept: { identity: string; made: Promise<CallAuth> } | undefined;
  return async (url, method) => {
    const opts: RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    const identity = tlsIdentity(opts);
    if (kept?.identity !== identity) {
      // Set before any await, so calls made meanwhile share this dispatcher instead of each making one.
      const ctx = new RequestContext(url, method);
      const made = kc.applySecurityAuthentication(ctx).then(() => ({ headers: { ...(ctx.getHeaders() as Record<string, string>) }, dispatcher: ctx.getDispatcher() }));
      const old = kept?.made;
      kept = { identity, made };
      // Calls that took the old dispatcher may still be starting: close it once they have had their deadline.
      if (old) setTimeout(() => void old.then((a) => a.dispatcher?.close()).catch(() => undefined), retireAfterMs).unref();
      return made;
    }
    const { dispatcher } = await kept.made;
    // The headers applySecurityAuthentication would set: basic auth first, then the user's (a bearer token wins).
    const headers: Record<string, string> = {};
    if (typeof opts.auth === 'string') headers['Authorization'] = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
    return { headers, dispatcher };
  };
}

/** Builds a KubeApi over a loaded KubeConfig. */
export function createKubeApi(kc: KubeConfig, opts: { requestTimeoutMs?: number } = {}): KubeApi {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeApiError(0, 'NoCluster', 'the kubeconfig names no current cluster');
  const server = cluster.server.replace(/\/$/, '');
  const timeoutMs = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const watcher = new Watch(kc);

  const authenticate = reusingAuthentication(kc, timeoutMs * 2);

  async function call<T>(method: HttpMethod, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const { headers, dispatcher } = await authenticate(server + path, method);
    headers['accept'] = 'application/json';
    if (body !== undefined) headers['content-type'] = contentType;
    const what = `${method} ${path}`;
    let res;
    try {
      res = await fetch(server + path, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        dispatcher,
        signal: AbortSignal.timeout(timeoutMs),
      } as Parameters<typeof fetch>[1]);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new KubeApiError(0, 'Unreachable', `${what}: cannot reach the API server at ${server} (${why})`, { cause: err });
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON: keep the text for the message.
    }
    if (res.status >= 400) throw statusError(res.status, parsed, what);
    return parsed as T;
  }

  return {
    server,
    async list<T>(path: string, query: Record<string, string> = {}) {
      const qs = new URLSearchParams(query).toString();
      const out = await call<{ items?: T[]; metadata?: { resourceVersion?: string } }>(HttpMethod.GET, qs ? `${path}?${qs}` : path);
      return { items: out.items ?? [], resourceVersion: out.metadata?.resourceVersion ?? '' };
    },
    async watch(path, query, onEvent, onDone) {
      let aborted = false;
      const controller = await watcher.watch(
        path,
        query,
        (type, object) => {
          if (!aborted) onEvent({ type: type as WatchEvent['type'], object: object as Record<string, unknown> });
        },
        (err) => {
          if (!aborted) onDone(err);
        },
      );
      return () => {
        aborted = true;
        controller.abort();
      };
    },
    get: (path) => call(HttpMethod.GET, path),
    create: (path, body) => call(HttpMethod.POST, path, body),
    replace: (path, body) => call(HttpMethod.PUT, path, body),
    patch: (path, body, type = 'merge') =>
      call(HttpMethod.PATCH, path, body, type === 'merge' ? 'application/merge-patch+json' : 'application/json-patch+json'),
    async delete(path) {
      await call(HttpMethod.DELETE, path);
    },
  };
}

/** Asks `/version`; throws one clear KubeApiError when the API server is missing, unreachable or refuses us. */
export async function checkApiServer(api: KubeApi): Promise<string> {
  const v = await api.get<{ gitVersion?: string }>('/version');
  return v.gitVersion ?? 'unknown';
}

/** True for errors worth retrying (transport, 429, 5xx); false for 4xx answers that will not change. */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof KubeApiError)) return true;
  return err.status === 0 || err.status === 429 || err.status >= 500;
}

/** API paths of the kinds the backend uses. `namespace` undefined = every namespace. */
export const paths = {
  deployments: (ns?: string) => (ns === undefined ? '/apis/apps/v1/deployments' : `/apis/apps/v1/namespaces/${ns}/deployments`),
  deploymentScale: (ns: string, name: string) => `/apis/apps/v1/namespaces/${ns}/deployments/${name}/scale`,
  services: (ns?: string) => (ns === undefined ? '/api/v1/services' : `/api/v1/namespaces/${ns}/services`),
  service: (ns: string, name: string) => `/api/v1/namespaces/${ns}/services/${name}`,
  endpointSlices: (ns?: string) => (ns === undefined ? '/apis/discovery.k8s.io/v1/endpointslices' : `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`),
  endpointSlice: (ns: string, name: string) => `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${name}`,
  leases: (ns: string) => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
  lease: (ns: string, name: string) => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${name}`,
  events: (ns: string) => `/api/v1/namespaces/${ns}/events`,
} as const;

/** One line for a user: what failed and where (no stack). */
export function describeConnectError(err: unknown): string {
  if (err instanceof KubeApiError) {
    if (err.status === 401 || err.status === 403) return `the Kubernetes API server refused our credentials (${err.message})`;
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Loads the configuration, builds the API and checks that the API server answers (`/version`). Throws a
 * KubeApiError with one clear message on a missing kubeconfig, an unknown context, or an unreachable server.
 */
export async function connectKube(conn: KubeConnection, opts: { requestTimeoutMs?: number } = {}): Promise<{ api: KubeApi; namespace: string | undefined; version: string }> {
  let loaded;
  try {
    loaded = loadKubeConfig(conn);
  } catch (err) {
    if (err instanceof KubeApiError) throw err;
    const where = conn.kind === 'in-cluster' ? 'the in-cluster service account' : `kubeconfig ${conn.file ?? '(default)'}`;
    throw new KubeApiError(0, 'NoConfig', `cannot load ${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const api = createKubeApi(loaded.kc, opts);
  const version = await checkApiServer(api);
  return { api, namespace: loaded.namespace, version };
}
