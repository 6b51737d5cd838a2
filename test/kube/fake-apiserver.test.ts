/**
 * The fake API server, driven by the real @kubernetes/client-node: if a test here fails, the fake does not speak
 * the protocol the client expects, and every test built on the fake is suspect.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type KubernetesObject,
  type V1Deployment,
  type V1Pod,
} from '@kubernetes/client-node';
import * as undici from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeApiServer, type FakeApiServer, type KubeObject } from '../support/kube/fake-apiserver.js';

let api: FakeApiServer;
let kc: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;

beforeAll(async () => {
  api = await startFakeApiServer({ namespaces: ['default', 'team-a'], bookmarkIntervalMs: 50 });
  kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
});

afterAll(async () => {
  await api.close();
});

let seq = 0;
const unique = (base: string): string => `${base}-${++seq}`;

function deployment(name: string, labels: Record<string, string> = { app: name }, replicas = 1): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'example/app:1' }] } },
    },
  };
}

function pod(name: string, labels: Record<string, string>): V1Pod {
  return { metadata: { name, labels }, spec: { containers: [{ name: 'c', image: 'x' }] } };
}

/** The Status a client-node call failed with. */
async function statusOf(p: Promise<unknown>): Promise<{ code: number; reason: string; message: string }> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiException);
    const body = (err as ApiException<unknown>).body;
    const status = (typeof body === 'string' ? JSON.parse(body) : body) as { kind: string; code: number; reason: string; message: string };
    expect(status.kind).toBe('Status');
    expect(status.code).toBe((err as ApiException<unknown>).code);
    return status;
  }
  throw new Error('expected the call to fail');
}

/** Resolves when `predicate` holds, polling the fake's store (not the network). */
async function until(predicate: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('fake API server: transport, auth, discovery', () => {
  it('serves HTTPS with a certificate the kubeconfig CA verifies, and refuses a wrong token with a 401 Status', async () => {
    expect(api.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ns = await core.readNamespace({ name: 'default' });
    expect(ns.metadata?.name).toBe('default');

    const bad = new KubeConfig();
    bad.loadFromString(api.kubeconfig().replace(api.token, 'wrong-token'));
    await expect(bad.makeApiClient(CoreV1Api).listNamespace()).rejects.toMatchObject({ code: 401 });
    const raw = await raw401();
    expect(raw).toMatchObject({ status: 401, body: { kind: 'Status', code: 401, reason: 'Unauthorized' } });

    const untrusting = new KubeConfig();
    untrusting.loadFromString(api.kubeconfig().replace(/certificate-authority-data: \S+/, ''));
    await expect(untrusting.makeApiClient(CoreV1Api).listNamespace()).rejects.toThrow();
  });

  it('answers discovery: /version, /api, /apis and each group version with its resources and subresources', async () => {
    const get = async (path: string): Promise<Record<string, unknown>> => {
      const res = await undici.fetch(api.url + path, { headers: { authorization: `Bearer ${api.token}` }, dispatcher: agent() });
      expect(res.status, path).toBe(200);
      return (await res.json()) as Record<string, unknown>;
    };
    expect(await get('/version')).toMatchObject({ major: '1', minor: '32' });
    expect(await get('/api')).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const groups = (await get('/apis')) as { groups: { name: string }[] };
    expect(groups.groups.map((g) => g.name)).toEqual(
      expect.arrayContaining(['apps', 'discovery.k8s.io', 'coordination.k8s.io', 'events.k8s.io', 'rbac.authorization.k8s.io', 'policy', 'admissionregistration.k8s.io']),
    );
    const appsV1 = (await get('/apis/apps/v1')) as { resources: { name: string; kind: string; namespaced: boolean; group?: string }[] };
    expect(appsV1.resources).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'deployments', kind: 'Deployment', namespaced: true }),
        expect.objectContaining({ name: 'deployments/scale', kind: 'Scale', group: 'autoscaling' }),
        expect.objectContaining({ name: 'deployments/status', kind: 'Deployment' }),
      ]),
    );
    const coreV1 = (await get('/api/v1')) as { resources: { name: string; namespaced: boolean }[] };
    expect(coreV1.resources.find((r) => r.name === 'namespaces')?.namespaced).toBe(false);
    expect(coreV1.resources.find((r) => r.name === 'pods')?.namespaced).toBe(true);
  });
});

/** An undici dispatcher trusting the fake's CA, for raw requests. */
const agent = (): undici.Agent => new undici.Agent({ connect: { ca: api.caPem } });

async function raw401(): Promise<{ status: number; body: unknown }> {
  const res = await undici.fetch(`${api.url}/api/v1/namespaces`, { headers: { authorization: 'Bearer nope' }, dispatcher: agent() });
  return { status: res.status, body: await res.json() };
}

describe('fake API server: CRUD', () => {
  it('creates, reads, replaces and deletes, with resource versions, uid and generation', async () => {
    const name = unique('web');
    const created = await apps.createNamespacedDeployment({ namespace: 'default', body: deployment(name) });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.generation).toBe(1);
    const rv1 = Number(created.metadata?.resourceVersion);

    const read = await apps.readNamespacedDeployment({ name, namespace: 'default' });
    expect(read.metadata?.resourceVersion).toBe(String(rv1));

    read.spec!.template.spec!.containers[0]!.image = 'example/app:2';
    const replaced = await apps.replaceNamespacedDeployment({ name, namespace: 'default', body: read });
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(rv1);
    expect(replaced.metadata?.generation).toBe(2);
    expect(api.get('apps/v1', 'Deployment', 'default', name)?.['spec']).toMatchObject({ template: { spec: { containers: [{ image: 'example/app:2' }] } } });

    // A replace that changes nothing keeps the resource version (kube-apiserver's no-op detection).
    const again = await apps.replaceNamespacedDeployment({ name, namespace: 'default', body: replaced });
    expect(again.metadata?.resourceVersion).toBe(replaced.metadata?.resourceVersion);

    await apps.deleteNamespacedDeployment({ name, namespace: 'default' });
    expect(api.get('apps/v1', 'Deployment', 'default', name)).toBeUndefined();
    expect(await statusOf(apps.readNamespacedDeployment({ name, namespace: 'default' }))).toMatchObject({
      code: 404,
      reason: 'NotFound',
      message: `deployments.apps "${name}" not found`,
    });
  });

  it('answers 409 AlreadyExists for a duplicate and 409 Conflict for a stale resourceVersion', async () => {
    const name = unique('cm');
    const first = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name }, data: { a: '1' } } });
    expect(await statusOf(core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name } } }))).toMatchObject({
      code: 409,
      reason: 'AlreadyExists',
    });
    await core.replaceNamespacedConfigMap({ name, namespace: 'default', body: { ...first, data: { a: '2' } } });
    const stale = await statusOf(core.replaceNamespacedConfigMap({ name, namespace: 'default', body: { ...first, data: { a: '3' } } }));
    expect(stale).toMatchObject({ code: 409, reason: 'Conflict' });
    expect(stale.message).toContain('the object has been modified');
    expect(api.get('v1', 'ConfigMap', 'default', name)?.['data']).toEqual({ a: '2' });
  });

  it('keeps namespaced objects apart by namespace and refuses a namespace that does not exist', async () => {
    const name = unique('same');
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name }, data: { ns: 'default' } } });
    await core.createNamespacedConfigMap({ namespace: 'team-a', body: { metadata: { name }, data: { ns: 'team-a' } } });
    expect((await core.readNamespacedConfigMap({ name, namespace: 'team-a' })).data).toEqual({ ns: 'team-a' });
    expect(await statusOf(core.createNamespacedConfigMap({ namespace: 'nowhere', body: { metadata: { name } } }))).toMatchObject({
      code: 404,
      message: 'namespaces "nowhere" not found',
    });
  });

  it('rejects invalid objects with a 422 Invalid Status naming the field', async () => {
    const noSelector = deployment(unique('bad'));
    const { selector: _dropped, ...specWithout } = noSelector.spec!;
    const s1 = await statusOf(apps.createNamespacedDeployment({ namespace: 'default', body: { ...noSelector, spec: specWithout } as V1Deployment }));
    expect(s1).toMatchObject({ code: 422, reason: 'Invalid' });
    expect(s1.message).toContain('spec.selector: Required value');

    const mismatch = deployment(unique('bad'));
    mismatch.spec!.template.metadata!.labels = { app: 'other' };
    expect((await statusOf(apps.createNamespacedDeployment({ namespace: 'default', body: mismatch }))).message).toContain(
      'spec.template.metadata.labels: Invalid value',
    );

    const s3 = await statusOf(core.createNamespacedService({ namespace: 'default', body: { metadata: { name: unique('svc') }, spec: { selector: { a: 'b' } } } }));
    expect(s3.message).toContain('spec.ports: Required value');
    const s4 = await statusOf(core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'Not_A_Name' } } }));
    expect(s4.message).toContain('metadata.name: Invalid value: "Not_A_Name"');
  });

  it('does everything but store with dryRun=All', async () => {
    const name = unique('dry');
    const before = api.requests.length;
    const out = await apps.createNamespacedDeployment({ namespace: 'default', body: deployment(name), dryRun: 'All' });
    expect(out.metadata?.name).toBe(name);
    expect(api.get('apps/v1', 'Deployment', 'default', name)).toBeUndefined();
    expect(api.requests.slice(before).some((r) => r.method === 'POST' && r.query.get('dryRun') === 'All')).toBe(true);
  });
});

describe('fake API server: lists and selectors', () => {
  beforeAll(async () => {
    for (const [name, labels] of [
      ['sel-a', { tier: 'web', env: 'prod' }],
      ['sel-b', { tier: 'web', env: 'dev' }],
      ['sel-c', { tier: 'db' }],
    ] as const) {
      await core.createNamespacedPod({ namespace: 'team-a', body: pod(name, labels) });
    }
  });

  const names = async (labelSelector?: string, fieldSelector?: string): Promise<string[]> => {
    const list = await core.listNamespacedPod({ namespace: 'team-a', ...(labelSelector ? { labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) });
    return list.items.map((p) => p.metadata!.name!).filter((n) => n.startsWith('sel-'));
  };

  it('filters by label selector: =, ==, !=, in, notin, exists, !exists', async () => {
    expect(await names('tier=web')).toEqual(['sel-a', 'sel-b']);
    expect(await names('tier==web,env=prod')).toEqual(['sel-a']);
    expect(await names('env!=prod')).toEqual(['sel-b', 'sel-c']);
    expect(await names('env in (prod, dev)')).toEqual(['sel-a', 'sel-b']);
    expect(await names('tier notin (web)')).toEqual(['sel-c']);
    expect(await names('env')).toEqual(['sel-a', 'sel-b']);
    expect(await names('!env')).toEqual(['sel-c']);
  });

  it('filters by metadata.name and metadata.namespace field selectors and rejects other fields', async () => {
    expect(await names(undefined, 'metadata.name=sel-b')).toEqual(['sel-b']);
    expect(await names(undefined, 'metadata.name!=sel-b')).toEqual(['sel-a', 'sel-c']);
    const all = await core.listPodForAllNamespaces({ fieldSelector: 'metadata.namespace=team-a' });
    expect(all.items.every((p) => p.metadata?.namespace === 'team-a')).toBe(true);
    expect(await statusOf(core.listNamespacedPod({ namespace: 'team-a', fieldSelector: 'spec.bogus=x' }))).toMatchObject({
      code: 400,
      message: 'field label not supported: spec.bogus',
    });
    expect((await statusOf(core.listNamespacedPod({ namespace: 'team-a', labelSelector: 'a in (b' }))).code).toBe(400);
  });

  it('returns the list resourceVersion, and pages with limit/continue', async () => {
    const first = await core.listNamespacedPod({ namespace: 'team-a', labelSelector: 'tier', limit: 2 });
    expect(Number(first.metadata?.resourceVersion)).toBeGreaterThan(0);
    expect(first.items).toHaveLength(2);
    expect(first.metadata?._continue).toBeTruthy();
    const second = await core.listNamespacedPod({ namespace: 'team-a', labelSelector: 'tier', limit: 2, _continue: first.metadata!._continue! });
    expect([...first.items, ...second.items].map((p) => p.metadata!.name)).toEqual(['sel-a', 'sel-b', 'sel-c']);
    expect(second.metadata?._continue).toBeFalsy();
  });
});

describe('fake API server: watch', () => {
  interface Seen {
    type: string;
    name: string | undefined;
    rv: string | undefined;
  }

  async function watchInto(path: string, query: Record<string, string | boolean | number>, seen: Seen[]): Promise<{ abort(): void; done: Promise<unknown> }> {
    let resolveDone!: (err: unknown) => void;
    const done = new Promise<unknown>((r) => (resolveDone = r));
    const req = await new Watch(kc).watch(
      path,
      query,
      (type, obj: KubernetesObject) => seen.push({ type, name: obj.metadata?.name, rv: obj.metadata?.resourceVersion }),
      (err) => resolveDone(err),
    );
    return { abort: () => req.abort(), done };
  }

  it('streams ADDED/MODIFIED/DELETED as chunked JSON lines held open, from a resource version', async () => {
    const list = await core.listNamespacedConfigMap({ namespace: 'team-a' });
    const seen: Seen[] = [];
    const w = await watchInto('/api/v1/namespaces/team-a/configmaps', { resourceVersion: list.metadata!.resourceVersion! }, seen);
    const name = unique('w');
    await core.createNamespacedConfigMap({ namespace: 'team-a', body: { metadata: { name }, data: { v: '1' } } });
    await core.patchNamespacedConfigMap({ name, namespace: 'team-a', body: { data: { v: '2' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await core.deleteNamespacedConfigMap({ name, namespace: 'team-a' });
    await until(() => seen.length >= 3, 'three events');
    expect(seen.map((s) => [s.type, s.name])).toEqual([
      ['ADDED', name],
      ['MODIFIED', name],
      ['DELETED', name],
    ]);
    const rvs = seen.map((s) => Number(s.rv));
    expect(rvs).toEqual([...rvs].sort((a, b) => a - b));
    w.abort();
  });

  it('replays the changes after an older resource version, and sends ERROR 410 once it has expired', async () => {
    const name = unique('resume');
    const created = await core.createNamespacedConfigMap({ namespace: 'team-a', body: { metadata: { name } } });
    await core.patchNamespacedConfigMap({ name, namespace: 'team-a', body: { data: { x: '1' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    const seen: Seen[] = [];
    const w = await watchInto('/api/v1/namespaces/team-a/configmaps', { resourceVersion: created.metadata!.resourceVersion!, fieldSelector: `metadata.name=${name}` }, seen);
    await until(() => seen.length >= 1, 'the replayed change');
    expect(seen.map((e) => [e.type, e.name])).toEqual([['MODIFIED', name]]);
    w.abort();

    api.faults.expireResourceVersions();
    const late: Seen[] = [];
    const w2 = await watchInto('/api/v1/namespaces/team-a/configmaps', { resourceVersion: created.metadata!.resourceVersion! }, late);
    await w2.done;
    expect(late.map((s) => s.type)).toEqual(['ERROR']);
    expect(await statusOf(core.listNamespacedConfigMap({ namespace: 'team-a', resourceVersion: created.metadata!.resourceVersion! }))).toMatchObject({
      code: 410,
      reason: 'Expired',
    });
  });

  it('turns label changes into ADDED/DELETED for a selector watch, as kube-apiserver does', async () => {
    const name = unique('managed');
    const seen: Seen[] = [];
    const w = await watchInto('/apis/apps/v1/deployments', { labelSelector: 'tide.dev/managed=true', resourceVersion: '' }, seen);
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment(name, { app: name }) });
    await apps.patchNamespacedDeployment({ name, namespace: 'default', body: { metadata: { labels: { 'tide.dev/managed': 'true' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await apps.patchNamespacedDeployment({ name, namespace: 'default', body: { spec: { replicas: 3 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await apps.patchNamespacedDeployment({ name, namespace: 'default', body: { metadata: { labels: { 'tide.dev/managed': null } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await until(() => seen.filter((s) => s.name === name).length >= 3, 'three events');
    expect(seen.filter((s) => s.name === name).map((s) => s.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    w.abort();
  });

  it('sends BOOKMARK events when asked and ends the stream after timeoutSeconds', async () => {
    const seen: Seen[] = [];
    const started = Date.now();
    const w = await watchInto('/api/v1/namespaces/team-a/secrets', { allowWatchBookmarks: true, timeoutSeconds: 1, resourceVersion: '0' }, seen);
    expect(await w.done).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(seen.filter((s) => s.type === 'BOOKMARK').length).toBeGreaterThan(2);
    expect(Number(seen[0]!.rv)).toBeGreaterThan(0);
  });
});

describe('fake API server: /scale', () => {
  it('reads and writes spec.replicas through autoscaling/v1 Scale (GET, PUT, PATCH)', async () => {
    const name = unique('scaled');
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment(name, { app: name }, 1) });
    const scale = await apps.readNamespacedDeploymentScale({ name, namespace: 'default' });
    expect(scale).toMatchObject({ kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 1 }, status: { selector: `app=${name}` } });

    await apps.patchNamespacedDeploymentScale({ name, namespace: 'default', body: { spec: { replicas: 4 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    expect(api.get('apps/v1', 'Deployment', 'default', name)?.['spec']).toMatchObject({ replicas: 4 });

    const now = await apps.readNamespacedDeploymentScale({ name, namespace: 'default' });
    const put = await apps.replaceNamespacedDeploymentScale({ name, namespace: 'default', body: { ...now, spec: { replicas: 0 } } });
    expect(put.spec?.replicas).toBe(0);
    expect(api.get('apps/v1', 'Deployment', 'default', name)?.metadata.generation).toBe(3);
    // A stale Scale is a conflict, like any update.
    expect((await statusOf(apps.replaceNamespacedDeploymentScale({ name, namespace: 'default', body: { ...now, spec: { replicas: 2 } } }))).code).toBe(409);
    expect(
      (await statusOf(apps.patchNamespacedDeploymentScale({ name, namespace: 'default', body: { spec: { replicas: -1 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)))).message,
    ).toContain('spec.replicas: Invalid value: -1');
    const writes = api.requests.filter((r) => r.path.endsWith(`/deployments/${name}/scale`) && r.method !== 'GET');
    expect(writes.map((r) => [r.method, r.status])).toEqual([
      ['PATCH', 200],
      ['PUT', 200],
      ['PUT', 409],
      ['PATCH', 422],
    ]);
  });
});

// Keep the imports used by later suites referenced.
void DiscoveryV1Api;
void CoordinationV1Api;
void makeInformer;
void mkdtempSync;
void rmSync;
void tmpdir;
void join;
void afterEach;
void beforeEach;
export type { KubeObject };
