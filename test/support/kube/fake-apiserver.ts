/**
 * A fake Kubernetes API server for tests: real HTTPS on 127.0.0.1, bearer-token auth, discovery, CRUD, list and
 * watch with resource versions, label/field selectors, merge/JSON/apply patches, dry-run, the `status` and `scale`
 * subresources, `Status` errors, owner-reference garbage collection, and faults to inject. It keeps every object
 * in memory; one global counter gives resource versions, and a bounded history of changes lets a watch resume.
 *
 * Not modelled (tests have not needed it): admission, RBAC checks, managedFields/field ownership in server-side
 * apply, finalizers and graceful deletion (deletes are immediate), ReplicaSets (see simulator.ts), protobuf.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { makeServingCerts, type ServingCerts } from './certs.js';
import { applyConfiguration, applyJsonPatch, mergePatch, PatchError, type Json } from './patch.js';
import {
  apiGroupDoc,
  apiGroupList,
  apiResourceList,
  apiVersionOf,
  apiVersions,
  findByKind,
  findByPlural,
  openApiV3Doc,
  openApiV3Index,
  qualifiedName,
  RESOURCES,
  type ResourceType,
} from './resources.js';
import { formatMatchLabels, parseFieldSelector, parseLabelSelector, SelectorError } from './selectors.js';
import { validate, type Cause } from './validation.js';

export interface FakeApiServerOptions {
  /** Created at start; default ['default']. */
  namespaces?: string[];
  /** Changes kept for watches resuming from a resource version; older ones are 410 Gone. Default 1000. */
  historyLimit?: number;
  /** How often a watch asked for bookmarks gets one. Default 60 s (as kube-apiserver); tests lower it. */
  bookmarkIntervalMs?: number;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    uid?: string;
    generation?: number;
    ownerReferences?: unknown[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType?: string;
  body?: unknown;
  /** 0 when the connection was destroyed without an answer (setDown, a client that went away). */
  status: number;
  /** The bearer token, or undefined when none was accepted. */
  user?: string;
  atMs: number;
}

export interface Faults {
  /** Ends every open watch stream now; `reset` destroys the connections instead of ending the streams cleanly. */
  dropWatches(how?: 'end' | 'reset'): void;
  /** Every resource version handed out so far becomes too old: open watches get an ERROR 410 event and end;
   *  a watch or list from such a version gets 410 Gone (reason Expired). */
  expireResourceVersions(): void;
  /** The next `n` requests (matching `match`, if given) fail with a Status of code `status` (default 500). */
  failNext(n: number, status?: number, match?: (r: { method: string; path: string }) => boolean): void;
  /** Delays every response by `ms`. */
  setLatencyMs(ms: number): void;
  /** The next `n` PUT/PATCH requests fail with 409 Conflict. */
  conflictNextUpdates(n: number): void;
  /** While down, connections are destroyed as they arrive, and the open ones are destroyed at once. */
  setDown(down: boolean): void;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** A committed change, as the in-process `onChange` listeners see it. */
export interface ChangeEvent {
  type: WatchEventType;
  object: KubeObject;
  /** The object before a MODIFIED change. */
  old?: KubeObject;
}

export interface FakeApiServer {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  /** The CA that signed the serving certificate (SANs 127.0.0.1 and localhost). */
  readonly caPem: string;
  /** The accepted bearer token. */
  readonly token: string;
  kubeconfig(opts?: { namespace?: string; context?: string }): string;
  writeKubeconfig(dir: string, opts?: { namespace?: string; context?: string }): string;
  /** Writes `<dir>/var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}`, so
   *  `KubeConfig.loadFromCluster(dir)` finds them, with `inClusterEnv()` set in process.env. */
  inClusterFiles(dir: string, namespace: string): { tokenPath: string; caPath: string; namespacePath: string };
  /** KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT for this server. */
  inClusterEnv(): { KUBERNETES_SERVICE_HOST: string; KUBERNETES_SERVICE_PORT: string };
  readonly faults: Faults;
  /** Every request, in order of completion. */
  readonly requests: RecordedRequest[];
  /** How many TCP connections have been accepted so far (a client that reuses its connections keeps this low). */
  readonly connections: number;
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined;
  list(apiVersion: string, kind: string, namespace?: string): KubeObject[];
  /** Creates or replaces directly, without validation or subresource rules (bumps the RV, emits watch events). */
  apply(obj: KubeObject): KubeObject;
  /**
   * Creates each object in order as a POST would (defaults, validation, uid, generation, one watch event each), without
   * HTTP: how a bench loads thousands of objects at once. Throws the POST's error (409 AlreadyExists, 422 Invalid,
   * 404 for a missing namespace) at the first object refused; the ones before it stay. Returns the stored objects.
   */
  seed(objects: readonly KubeObject[]): KubeObject[];
  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): void;
  /** Calls `listener` synchronously for every committed change; returns the unsubscribe function. */
  onChange(listener: (event: ChangeEvent) => void): () => void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Status errors

class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: { name?: string; group?: string; kind?: string; causes?: Cause[] },
  ) {
    super(message);
  }
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

function statusOf(err: ApiError): object {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: err.message,
    reason: err.reason,
    ...(err.details ? { details: err.details } : {}),
    code: err.code,
  };
}

const notFound = (r: ResourceType, name: string): ApiError =>
  new ApiError(404, 'NotFound', `${qualifiedName(r)} "${name}" not found`, { name, group: r.group, kind: r.plural });

const conflict = (r: ResourceType, name: string): ApiError =>
  new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedName(r)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: r.group, kind: r.plural },
  );

const expired = (rv: string): ApiError => new ApiError(410, 'Expired', `too old resource version: ${rv}`);

function invalid(r: ResourceType, name: string, causes: Cause[]): ApiError {
  const text = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
  const kind = r.group ? `${r.kind}.${r.group}` : r.kind;
  return new ApiError(422, 'Invalid', `${kind} "${name}" is invalid: ${text}`, { name, group: r.group, kind: r.kind, causes });
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

const clone = <T>(v: T): T => structuredClone(v);
const timestamp = (ms = Date.now()): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
const keyOf = (namespace: string | undefined, name: string): string => `${namespace ?? ''}/${name}`;
const typeKey = (r: ResourceType): string => `${r.group}/${r.plural}`;

function isKubeObject(v: unknown): v is KubeObject {
  const m = (v as { metadata?: unknown } | null)?.metadata;
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof m === 'object' && m !== null;
}

/** Everything but metadata and status: a change here bumps metadata.generation. */
function specPart(o: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, ...rest } = o;
  return rest;
}

interface Route {
  r: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  sub: '' | 'status' | 'scale';
}

interface HistoryEntry extends ChangeEvent {
  rv: number;
  r: ResourceType;
}

interface Watcher {
  r: ResourceType;
  matches(o: KubeObject): boolean;
  send(type: string, object: unknown): void;
  end(how: 'end' | 'reset'): void;
}

const PATCH_TYPES = [
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/json-patch+json',
  'application/apply-patch+yaml',
];

// ---------------------------------------------------------------------------------------------------------------

let sharedCerts: ServingCerts | undefined;

export async function startFakeApiServer(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const historyLimit = opts.historyLimit ?? 1000;
  const bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 60_000;
  // Making a CA and a certificate takes about a second; every server in a test process shares one pair.
  const certs = (sharedCerts ??= makeServingCerts());
  const token = randomBytes(16).toString('hex');

  const store = new Map<string, Map<string, KubeObject>>(RESOURCES.map((r) => [typeKey(r), new Map()]));
  const bucket = (r: ResourceType): Map<string, KubeObject> => store.get(typeKey(r))!;
  let rv = 0;
  /** Watching from a resource version below this one is 410 Gone. */
  let compactedRv = 0;
  const history: HistoryEntry[] = [];
  const watchers = new Set<Watcher>();
  const listeners = new Set<(e: ChangeEvent) => void>();
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const fail: { n: number; status: number; match?: (r: { method: string; path: string }) => boolean }[] = [];
  let latencyMs = 0;
  let conflicts = 0;
  let down = false;

  // ---- the store: every committed change goes through commit() ----

  function commit(r: ResourceType, type: WatchEventType, obj: KubeObject, old?: KubeObject): KubeObject {
    rv++;
    obj.metadata.resourceVersion = String(rv);
    const key = keyOf(obj.metadata.namespace, obj.metadata.name);
    if (type === 'DELETED') bucket(r).delete(key);
    else bucket(r).set(key, obj);
    const entry: HistoryEntry = { rv, r, type, object: obj, ...(old ? { old } : {}) };
    history.push(entry);
    if (history.length > historyLimit) compactedRv = history.shift()!.rv;
    for (const w of watchers) if (w.r === r) deliver(w, entry);
    for (const l of listeners) l({ type, object: clone(obj), ...(old ? { old: clone(old) } : {}) });
    return obj;
  }

  /** Sends one change to one watcher, turning selector transitions into ADDED/DELETED as kube-apiserver does. */
  function deliver(w: Watcher, e: HistoryEntry): void {
    const now = w.matches(e.object);
    const before = e.old ? w.matches(e.old) : false;
    if (e.type === 'MODIFIED') {
      if (now) w.send(before ? 'MODIFIED' : 'ADDED', e.object);
      else if (before) w.send('DELETED', e.object);
    } else if (now) w.send(e.type, e.object);
  }

  function withMeta(r: ResourceType, obj: KubeObject, namespace: string | undefined): KubeObject {
    const o = clone(obj);
    o.apiVersion = apiVersionOf(r);
    o.kind = r.kind;
    if (r.namespaced) o.metadata.namespace = namespace ?? o.metadata.namespace ?? 'default';
    else delete o.metadata.namespace;
    return o;
  }

  function createObject(r: ResourceType, input: KubeObject, dryRun: boolean): KubeObject {
    const o = withMeta(r, input, input.metadata.namespace);
    const generateName = o.metadata['generateName'];
    if (!o.metadata.name && typeof generateName === 'string') {
      o.metadata.name = generateName + randomBytes(3).toString('hex').slice(0, 5);
    }
    defaults(r, o);
    const causes = validate(o);
    if (causes.length) throw invalid(r, o.metadata.name, causes);
    if (r.namespaced && !bucket(NAMESPACES).has(keyOf(undefined, o.metadata.namespace!))) {
      throw notFound(NAMESPACES, o.metadata.namespace!);
    }
    if (bucket(r).has(keyOf(o.metadata.namespace, o.metadata.name))) {
      throw new ApiError(409, 'AlreadyExists', `${qualifiedName(r)} "${o.metadata.name}" already exists`, {
        name: o.metadata.name,
        group: r.group,
        kind: r.plural,
      });
    }
    o.metadata.uid = randomUUID();
    o.metadata['creationTimestamp'] = timestamp();
    delete o.metadata['deletionTimestamp'];
    if (r.subresources?.includes('scale')) o.metadata.generation = 1;
    if (dryRun) return o;
    return commit(r, 'ADDED', o);
  }

  /** Replaces `current` by `next` (already carrying the subresource rules); a no-op change keeps the RV. */
  function updateObject(r: ResourceType, current: KubeObject, next: KubeObject, dryRun: boolean): KubeObject {
    const o = withMeta(r, next, current.metadata.namespace);
    if (o.metadata.name !== current.metadata.name) {
      throw new ApiError(400, 'BadRequest', `the name of the object (${o.metadata.name}) does not match the name on the URL (${current.metadata.name})`);
    }
    o.metadata.uid = current.metadata.uid!;
    o.metadata['creationTimestamp'] = current.metadata['creationTimestamp'];
    o.metadata.resourceVersion = current.metadata.resourceVersion!;
    if (current.metadata.generation !== undefined) {
      o.metadata.generation = current.metadata.generation + (isDeepStrictEqual(specPart(o), specPart(current)) ? 0 : 1);
    }
    defaults(r, o);
    const causes = validate(o);
    if (causes.length) throw invalid(r, o.metadata.name, causes);
    if (isDeepStrictEqual(o, current) || dryRun) return o;
    return commit(r, 'MODIFIED', o, current);
  }

  function deleteObject(r: ResourceType, current: KubeObject, orphan: boolean): KubeObject {
    const gone = clone(current);
    commit(r, 'DELETED', gone);
    if (r === NAMESPACES) {
      for (const t of RESOURCES) {
        if (!t.namespaced) continue;
        for (const o of [...bucket(t).values()]) if (o.metadata.namespace === current.metadata.name) deleteObject(t, o, false);
      }
    }
    collectGarbage(current.metadata.uid!, orphan);
    return gone;
  }

  /** Background propagation: dependents left with no live owner are deleted; with `orphan`, they lose the reference. */
  function collectGarbage(uid: string, orphan: boolean): void {
    for (const t of RESOURCES) {
      for (const o of [...bucket(t).values()]) {
        const refs = (o.metadata.ownerReferences ?? []) as { uid?: string }[];
        if (!refs.some((ref) => ref.uid === uid)) continue;
        const rest = refs.filter((ref) => ref.uid !== uid);
        if (rest.length === 0 && !orphan) {
          deleteObject(t, o, false);
        } else {
          const next = clone(o);
          if (rest.length) next.metadata.ownerReferences = rest;
          else delete next.metadata.ownerReferences;
          commit(t, 'MODIFIED', next, o);
        }
      }
    }
  }

  let nextClusterIp = 1;
  function defaults(r: ResourceType, o: KubeObject): void {
    const spec = (o['spec'] ?? {}) as Record<string, unknown>;
    if (r.kind === 'Deployment' && spec['replicas'] === undefined) {
      o['spec'] = { ...spec, replicas: 1 };
    }
    if (r.kind === 'Service') {
      const ports = (spec['ports'] ?? []) as Record<string, unknown>[];
      o['spec'] = {
        type: 'ClusterIP',
        ...spec,
        ...(spec['clusterIP'] === undefined && spec['type'] !== 'ExternalName'
          ? { clusterIP: `10.96.${(nextClusterIp >> 8) & 255}.${nextClusterIp++ & 255}` }
          : {}),
        ports: ports.map((p) => ({ protocol: 'TCP', targetPort: p['port'], ...p })),
      };
    }
    if (r.kind === 'Namespace' && !o['status']) o['status'] = { phase: 'Active' };
    if (r.kind === 'Pod' && !o['status']) o['status'] = { phase: 'Pending' };
  }

  // ---- /scale ----

  function scaleOf(d: KubeObject): KubeObject {
    const spec = (d['spec'] ?? {}) as { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
    const status = (d['status'] ?? {}) as { replicas?: number };
    return {
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: {
        name: d.metadata.name,
        namespace: d.metadata.namespace!,
        uid: d.metadata.uid!,
        resourceVersion: d.metadata.resourceVersion!,
        creationTimestamp: d.metadata['creationTimestamp'],
      },
      spec: { replicas: spec.replicas ?? 0 },
      status: { replicas: status.replicas ?? 0, selector: formatMatchLabels(spec.selector?.matchLabels ?? {}) },
    };
  }

  function fromScale(d: KubeObject, scale: unknown): KubeObject {
    const replicas = (scale as { spec?: { replicas?: unknown } } | null)?.spec?.replicas;
    if (!(Number.isInteger(replicas) && (replicas as number) >= 0)) {
      throw new ApiError(422, 'Invalid', `Scale.autoscaling "${d.metadata.name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas ?? null)}: must be greater than or equal to 0`, {
        name: d.metadata.name,
        group: 'autoscaling',
        kind: 'Scale',
        causes: [{ reason: 'FieldValueInvalid', field: 'spec.replicas', message: 'must be greater than or equal to 0' }],
      });
    }
    return { ...clone(d), spec: { ...(d['spec'] as object), replicas } };
  }

  // ---- watch ----

  function startWatch(res: ServerResponse, route: Route, q: URLSearchParams, matches: (o: KubeObject) => boolean): void {
    const from = q.get('resourceVersion') ?? '';
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
    res.flushHeaders();
    let timeoutTimer: NodeJS.Timeout | undefined;
    let bookmarkTimer: NodeJS.Timeout | undefined;
    const w: Watcher = {
      r: route.r,
      matches,
      send(type, object) {
        if (!res.writableEnded && !res.destroyed) res.write(JSON.stringify({ type, object }) + '\n');
      },
      end(how) {
        if (how === 'reset') res.destroy();
        else res.end();
      },
    };
    const cleanup = (): void => {
      watchers.delete(w);
      clearTimeout(timeoutTimer);
      clearTimeout(bookmarkTimer);
    };
    res.on('close', cleanup);
    res.on('finish', cleanup);

    if (from !== '' && from !== '0' && Number(from) < compactedRv) {
      w.send('ERROR', statusOf(expired(from)));
      res.end();
      return;
    }
    if (from === '' || from === '0') {
      for (const o of bucket(route.r).values()) if (matches(o)) w.send('ADDED', o);
    } else {
      for (const e of history) if (e.rv > Number(from) && e.r === route.r) deliver(w, e);
    }
    watchers.add(w);
    const timeout = Number(q.get('timeoutSeconds') ?? '');
    if (timeout > 0) timeoutTimer = setTimeout(() => res.end(), timeout * 1000);
    if (q.get('allowWatchBookmarks') === 'true') {
      const bookmark = (): void => {
        w.send('BOOKMARK', { kind: route.r.kind, apiVersion: apiVersionOf(route.r), metadata: { resourceVersion: String(rv) } });
        bookmarkTimer = setTimeout(bookmark, bookmarkIntervalMs);
      };
      bookmarkTimer = setTimeout(bookmark, bookmarkIntervalMs);
    }
  }

  // ---- routing ----

  function parseRoute(parts: string[]): Route | undefined {
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 3) [group, version, rest] = ['', parts[1]!, parts.slice(2)];
    else if (parts[0] === 'apis' && parts.length >= 4) [group, version, rest] = [parts[1]!, parts[2]!, parts.slice(3)];
    else return undefined;
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const r = findByPlural(group, version, rest[0]!);
    if (!r || rest.length > 3) return undefined;
    const sub = rest[2] ?? '';
    if (sub !== '' && !(r.subresources ?? []).includes(sub as 'status' | 'scale')) return undefined;
    if (namespace !== undefined && !r.namespaced) return undefined;
    return { r, namespace, name: rest[1], sub: sub as Route['sub'] };
  }

  function discovery(parts: string[], host: string): object | undefined {
    const path = parts.join('/');
    if (path === 'version') {
      return { major: '1', minor: '32', gitVersion: 'v1.32.0-fake', platform: 'linux/amd64', goVersion: 'go1.23' };
    }
    if (path === 'api') return apiVersions(host);
    if (path === 'openapi/v3') return openApiV3Index();
    if (parts[0] === 'openapi' && parts[1] === 'v3') return openApiV3Doc(parts.slice(2).join('/'));
    if (path === 'apis') return apiGroupList();
    if (parts[0] === 'api' && parts.length === 2) return apiResourceList('', parts[1]!);
    if (parts[0] === 'apis' && parts.length === 2) return apiGroupDoc(parts[1]!);
    if (parts[0] === 'apis' && parts.length === 3) return apiResourceList(parts[1]!, parts[2]!);
    return undefined;
  }

  function dryRunOf(q: URLSearchParams): boolean {
    const values = q.getAll('dryRun');
    const bad = values.find((v) => v !== 'All');
    if (bad !== undefined) throw new ApiError(400, 'BadRequest', `Invalid dry run value: ${JSON.stringify(bad)}, only "All" is supported`);
    return values.length > 0;
  }

  function bodyObject(body: unknown, r: ResourceType): KubeObject {
    if (!isKubeObject(body)) throw new ApiError(400, 'BadRequest', `the body must be a ${r.kind} object with metadata`);
    const want = r.kind;
    if ((body.kind && body.kind !== want) || (body.apiVersion && body.apiVersion !== apiVersionOf(r))) {
      throw new ApiError(400, 'BadRequest', `the API version in the data (${String(body.apiVersion)}) and kind (${String(body.kind)}) do not match ${apiVersionOf(r)} ${want}`);
    }
    return body;
  }

  function patched(current: Json, body: unknown, contentType: string): Json {
    try {
      if (contentType === 'application/json-patch+json') return applyJsonPatch(current, body);
      if (contentType === 'application/apply-patch+yaml') return applyConfiguration(current, body as Json);
      return mergePatch(current, body as Json);
    } catch (err) {
      if (err instanceof PatchError) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: ${err.message}`);
      throw err;
    }
  }

  function handle(method: string, parts: string[], q: URLSearchParams, body: unknown, contentType: string, req: IncomingMessage, res: ServerResponse): { code: number; body: unknown } | 'watch' {
    if (method === 'GET') {
      const doc = discovery(parts, req.headers.host ?? '');
      if (doc) return { code: 200, body: doc };
    }
    const route = parseRoute(parts);
    if (!route) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const { r, namespace, name, sub } = route;
    const bucketOf = bucket(r);
    const current = name === undefined ? undefined : bucketOf.get(keyOf(r.namespaced ? namespace : undefined, name));
    if (name === undefined && r.namespaced && namespace === undefined && method !== 'GET') {
      throw new ApiError(405, 'MethodNotAllowed', `${method} on all namespaces is not allowed for ${qualifiedName(r)}`);
    }

    if (name === undefined) {
      const label = parseLabelSelector(q.get('labelSelector'));
      const field = parseFieldSelector(q.get('fieldSelector'), r.kind);
      const matches = (o: KubeObject): boolean =>
        (namespace === undefined || o.metadata.namespace === namespace) && label(o.metadata.labels) && field(o);
      switch (method) {
        case 'GET': {
          if (q.get('watch') === 'true' || q.get('watch') === '1') {
            startWatch(res, route, q, matches);
            return 'watch';
          }
          const from = q.get('resourceVersion') ?? '';
          if (from !== '' && from !== '0' && Number(from) < compactedRv) throw expired(from);
          return { code: 200, body: listBody(r, [...bucketOf.values()].filter(matches), q) };
        }
        case 'POST': {
          const obj = bodyObject(body, r);
          if (r.namespaced && obj.metadata.namespace && obj.metadata.namespace !== namespace) {
            throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
          }
          return { code: 201, body: createObject(r, { ...obj, metadata: { ...obj.metadata, ...(namespace ? { namespace } : {}) } }, dryRunOf(q)) };
        }
        case 'DELETE': {
          const dry = dryRunOf(q);
          const gone = [...bucketOf.values()].filter(matches);
          if (!dry) for (const o of gone) deleteObject(r, o, false);
          return { code: 200, body: listBody(r, gone, new URLSearchParams()) };
        }
      }
      throw new ApiError(405, 'MethodNotAllowed', `${method} is not supported on a collection`);
    }

    switch (method) {
      case 'GET':
        if (!current) throw notFound(r, name);
        return { code: 200, body: sub === 'scale' ? scaleOf(current) : current };
      case 'PUT':
      case 'PATCH': {
        const dry = dryRunOf(q);
        const isApply = method === 'PATCH' && contentType === 'application/apply-patch+yaml';
        if (method === 'PATCH' && !PATCH_TYPES.includes(contentType)) {
          throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.join(', ')}`);
        }
        if (isApply && !q.get('fieldManager')) {
          throw new ApiError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
        }
        if (conflicts > 0) {
          conflicts--;
          throw conflict(r, name);
        }
        if (!current) {
          if (isApply && sub === '') {
            const obj = bodyObject(body, r);
            return { code: 201, body: createObject(r, { ...obj, metadata: { ...obj.metadata, name, ...(namespace ? { namespace } : {}) } }, dry) };
          }
          throw notFound(r, name);
        }
        const base: KubeObject = sub === 'scale' ? scaleOf(current) : current;
        const input: unknown = method === 'PUT' ? body : patched(base as unknown as Json, body, contentType);
        if (!isKubeObject(input)) throw new ApiError(400, 'BadRequest', 'the body must be an object with metadata');
        if (sub !== 'scale') bodyObject(input, r);
        const expect = input.metadata.resourceVersion;
        if (expect && expect !== current.metadata.resourceVersion) throw conflict(r, name);
        let next: KubeObject;
        if (sub === 'scale') next = fromScale(current, input);
        else if (sub === 'status') next = { ...clone(current), status: input['status'] };
        else {
          next = { ...input, metadata: { ...input.metadata, name } };
          if (r.subresources?.includes('status')) next['status'] = clone(current['status']);
          if (next['status'] === undefined) delete next['status'];
        }
        const out = updateObject(r, current, next, dry);
        return { code: 200, body: sub === 'scale' ? scaleOf(out) : out };
      }
      case 'DELETE': {
        if (!current) throw notFound(r, name);
        const opts = (body ?? {}) as { preconditions?: { resourceVersion?: string; uid?: string }; propagationPolicy?: string };
        const pre = opts.preconditions;
        if ((pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) || (pre?.uid && pre.uid !== current.metadata.uid)) {
          throw conflict(r, name);
        }
        const gone = dryRunOf(q) ? clone(current) : deleteObject(r, current, opts.propagationPolicy === 'Orphan');
        if (r.kind === 'Pod') return { code: 200, body: gone };
        return {
          code: 200,
          body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: r.group, kind: r.plural, uid: current.metadata.uid } },
        };
      }
    }
    throw new ApiError(405, 'MethodNotAllowed', `${method} is not supported`);
  }

  function listBody(r: ResourceType, items: KubeObject[], q: URLSearchParams): object {
    items.sort((a, b) => keyOf(a.metadata.namespace, a.metadata.name).localeCompare(keyOf(b.metadata.namespace, b.metadata.name)));
    const limit = Number(q.get('limit') ?? '0');
    const cont = q.get('continue');
    let page = items;
    if (cont) {
      const after = Buffer.from(cont, 'base64url').toString();
      page = page.filter((o) => keyOf(o.metadata.namespace, o.metadata.name) > after);
    }
    let next: string | undefined;
    let remaining = 0;
    if (limit > 0 && page.length > limit) {
      remaining = page.length - limit;
      page = page.slice(0, limit);
      const last = page[page.length - 1]!;
      next = Buffer.from(keyOf(last.metadata.namespace, last.metadata.name)).toString('base64url');
    }
    return {
      apiVersion: apiVersionOf(r),
      kind: `${r.kind}List`,
      metadata: { resourceVersion: String(rv), ...(next ? { continue: next, remainingItemCount: remaining } : {}) },
      items: page,
    };
  }

  // ---- the HTTP server ----

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const method = req.method ?? 'GET';
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    const record: RecordedRequest = { method, path: url.pathname, query: url.searchParams, status: 0, atMs: Date.now() };
    if (contentType) record.contentType = contentType;
    // Recorded when answered (a watch: when its stream starts), so a client never sees an answer before its record.
    let recorded = false;
    const done = (status: number): void => {
      if (recorded) return;
      recorded = true;
      record.status = status;
      requests.push(record);
    };
    const send = (code: number, body: unknown): void => {
      done(code);
      const text = JSON.stringify(body);
      res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    res.on('close', () => done(0));
    try {
      const text = await readBody(req);
      if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
      if (down) return void res.destroy();
      if (text) {
        try {
          record.body = contentType.endsWith('yaml') ? parseYaml(text) : JSON.parse(text);
        } catch (err) {
          throw new ApiError(400, 'BadRequest', `the request body is not valid ${contentType.endsWith('yaml') ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
        }
      }
      const auth = req.headers.authorization ?? '';
      if (auth !== `Bearer ${token}`) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      record.user = token;
      const i = fail.findIndex((f) => !f.match || f.match({ method, path: url.pathname }));
      if (i !== -1) {
        const f = fail[i]!;
        if (--f.n <= 0) fail.splice(i, 1);
        throw new ApiError(f.status, REASONS[f.status] ?? 'InternalError', `injected failure (HTTP ${f.status})`);
      }
      const parts = url.pathname.split('/').filter((p) => p !== '');
      const out = handle(method, parts, url.searchParams, record.body, contentType, req, res);
      if (out === 'watch') done(200);
      else send(out.code, out.body);
    } catch (err) {
      if (res.headersSent) return void res.destroy();
      if (err instanceof ApiError) return send(err.code, statusOf(err));
      if (err instanceof SelectorError) return send(400, statusOf(new ApiError(400, 'BadRequest', err.message)));
      send(500, statusOf(new ApiError(500, 'InternalError', `fake apiserver bug: ${(err as Error).stack ?? String(err)}`)));
    }
  }

  const server: Server = createServer({ key: certs.keyPem, cert: certs.certPem }, (req, res) => void onRequest(req, res));
  let connections = 0;
  server.on('connection', (s: Socket) => {
    if (down) return void s.destroy();
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;

  for (const ns of opts.namespaces ?? ['default']) {
    createObject(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, false);
  }

  const resourceOf = (apiVersion: string, kind: string): ResourceType => {
    const r = findByKind(apiVersion, kind);
    if (!r) throw new Error(`fake apiserver: no resource ${apiVersion} ${kind}`);
    return r;
  };

  function kubeconfig(o: { namespace?: string; context?: string } = {}): string {
    const context = o.context ?? 'fake';
    return stringifyYaml({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake-cluster', cluster: { server: url, 'certificate-authority-data': Buffer.from(certs.caPem).toString('base64') } }],
      users: [{ name: 'fake-user', user: { token } }],
      contexts: [{ name: context, context: { cluster: 'fake-cluster', user: 'fake-user', ...(o.namespace ? { namespace: o.namespace } : {}) } }],
      'current-context': context,
    });
  }

  const faults: Faults = {
    dropWatches(how = 'end') {
      for (const w of [...watchers]) w.end(how);
    },
    expireResourceVersions() {
      compactedRv = ++rv;
      history.length = 0;
      for (const w of [...watchers]) {
        w.send('ERROR', statusOf(expired(String(rv - 1))));
        w.end('end');
      }
    },
    failNext(n, status = 500, match) {
      if (n > 0) fail.push({ n, status, ...(match ? { match } : {}) });
    },
    setLatencyMs(ms) {
      latencyMs = ms;
    },
    conflictNextUpdates(n) {
      conflicts = n;
    },
    setDown(d) {
      down = d;
      if (d) for (const s of sockets) s.destroy();
    },
  };

  return {
    url,
    caPem: certs.caPem,
    token,
    kubeconfig,
    writeKubeconfig(dir, o) {
      const path = join(dir, 'kubeconfig');
      writeFileSync(path, kubeconfig(o));
      return path;
    },
    inClusterFiles(dir, namespace) {
      const root = join(dir, 'var/run/secrets/kubernetes.io/serviceaccount');
      mkdirSync(root, { recursive: true });
      const files = { tokenPath: join(root, 'token'), caPath: join(root, 'ca.crt'), namespacePath: join(root, 'namespace') };
      writeFileSync(files.tokenPath, token);
      writeFileSync(files.caPath, certs.caPem);
      writeFileSync(files.namespacePath, namespace);
      return files;
    },
    inClusterEnv: () => ({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) }),
    faults,
    requests,
    get connections() {
      return connections;
    },
    get(apiVersion, kind, namespace, name) {
      const r = resourceOf(apiVersion, kind);
      const o = bucket(r).get(keyOf(r.namespaced ? namespace : undefined, name));
      return o && clone(o);
    },
    list(apiVersion, kind, namespace) {
      const r = resourceOf(apiVersion, kind);
      return [...bucket(r).values()].filter((o) => namespace === undefined || o.metadata.namespace === namespace).map(clone);
    },
    apply(obj) {
      const r = resourceOf(obj.apiVersion, obj.kind);
      const o = withMeta(r, obj, obj.metadata.namespace);
      const current = bucket(r).get(keyOf(o.metadata.namespace, o.metadata.name));
      o.metadata.uid = current?.metadata.uid ?? o.metadata.uid ?? randomUUID();
      o.metadata['creationTimestamp'] = current?.metadata['creationTimestamp'] ?? o.metadata['creationTimestamp'] ?? timestamp();
      return clone(commit(r, current ? 'MODIFIED' : 'ADDED', o, current));
    },
    seed(objects) {
      return objects.map((obj) => {
        const r = resourceOf(obj.apiVersion, obj.kind);
        try {
          return clone(createObject(r, obj, false));
        } catch (err) {
          if (err instanceof ApiError) throw new Error(`seed: ${err.code} ${err.reason}: ${err.message}`, { cause: err });
          throw err;
        }
      });
    },
    remove(apiVersion, kind, namespace, name) {
      const r = resourceOf(apiVersion, kind);
      const current = bucket(r).get(keyOf(r.namespaced ? namespace : undefined, name));
      if (current) deleteObject(r, current, false);
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      for (const w of [...watchers]) w.end('reset');
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const NAMESPACES: ResourceType = findByKind('v1', 'Namespace')!;
