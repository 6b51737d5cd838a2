/**
 * The fake API server, driven by the real @kubernetes/client-node: if a test here fails, the fake does not speak
 * the protocol the client expects, and every test built on the fake is suspect.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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
import { startClusterSimulator, type ClusterSimulator, type PodFactory } from '../support/kube/simulator.js';

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

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

describe('fake API server: patches and subresources', () => {
  it('merge patch: sets and (with null) removes fields; strategic merge behaves the same for maps', async () => {
    const name = unique('mp');
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name, labels: { a: '1', b: '2' } }, data: { k: 'v' } } });
    await core.patchNamespacedConfigMap({ name, namespace: 'default', body: { metadata: { labels: { a: null, c: '3' } }, data: { k2: 'v2' } } }, merge);
    await core.patchNamespacedConfigMap(
      { name, namespace: 'default', body: { data: { k: null } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    const cm = api.get('v1', 'ConfigMap', 'default', name)!;
    expect(cm.metadata.labels).toEqual({ b: '2', c: '3' });
    expect(cm['data']).toEqual({ k2: 'v2' });
  });

  it('JSON patch: applies operations in order (client-node default), and a failed test op is a 422 naming it', async () => {
    const name = unique('jp');
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name }, data: { a: '1' } } });
    await core.patchNamespacedConfigMap({
      name,
      namespace: 'default',
      body: [
        { op: 'test', path: '/data/a', value: '1' },
        { op: 'replace', path: '/data/a', value: '2' },
        { op: 'add', path: '/data/b', value: '3' },
      ],
    });
    expect(api.get('v1', 'ConfigMap', 'default', name)?.['data']).toEqual({ a: '2', b: '3' });
    const failed = await statusOf(core.patchNamespacedConfigMap({ name, namespace: 'default', body: [{ op: 'test', path: '/data/a', value: 'nope' }] }));
    expect(failed).toMatchObject({ code: 422, reason: 'Invalid' });
    expect(failed.message).toContain('operation 0');
    expect(api.get('v1', 'ConfigMap', 'default', name)?.['data']).toEqual({ a: '2', b: '3' });
  });

  it('server-side apply: creates when absent, merges named list items when present, requires fieldManager', async () => {
    const name = unique('ssa');
    const ssa = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
    const desired = deployment(name);
    await apps.patchNamespacedDeployment({ name, namespace: 'default', body: desired, fieldManager: 'test' }, ssa);
    expect(api.get('apps/v1', 'Deployment', 'default', name)?.metadata.generation).toBe(1);
    await apps.patchNamespacedDeployment(
      {
        name,
        namespace: 'default',
        fieldManager: 'test',
        body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name }, spec: { template: { spec: { containers: [{ name: 'sidecar', image: 's:1' }] } } } },
      },
      ssa,
    );
    const containers = (api.get('apps/v1', 'Deployment', 'default', name)?.['spec'] as V1Deployment['spec'])!.template.spec!.containers;
    expect(containers.map((c) => c.name)).toEqual(['app', 'sidecar']);
    expect((await statusOf(apps.patchNamespacedDeployment({ name, namespace: 'default', body: desired }, ssa))).message).toContain('fieldManager: Required value');
  });

  it('answers a body that is not JSON with 400, and an unknown resource with 404, as Status objects', async () => {
    const bad = await undici.fetch(`${api.url}/api/v1/namespaces/default/configmaps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
      body: '{"metadata": ',
      dispatcher: agent(),
    });
    expect(bad.status).toBe(400);
    const status = (await bad.json()) as { kind: string; reason: string; message: string };
    expect([status.kind, status.reason]).toEqual(['Status', 'BadRequest']);
    expect(status.message).toContain('not valid JSON');
    const missing = await undici.fetch(`${api.url}/apis/apps/v1/namespaces/default/statefulsets`, { headers: { authorization: `Bearer ${api.token}` }, dispatcher: agent() });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ kind: 'Status', reason: 'NotFound' });
  });

  it('refuses an unknown patch content type with 415', async () => {
    const res = await undici.fetch(`${api.url}/api/v1/namespaces/default/configmaps/x`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
      body: '{}',
      dispatcher: agent(),
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ kind: 'Status', reason: 'UnsupportedMediaType' });
  });

  it('/status writes only .status; the main resource keeps .status whatever the body says', async () => {
    const name = unique('st');
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment(name) });
    const d = await apps.readNamespacedDeployment({ name, namespace: 'default' });
    await apps.replaceNamespacedDeploymentStatus({ name, namespace: 'default', body: { ...d, spec: { ...d.spec!, replicas: 9 }, status: { readyReplicas: 1 } } });
    let stored = api.get('apps/v1', 'Deployment', 'default', name)!;
    expect(stored['status']).toEqual({ readyReplicas: 1 });
    expect(stored['spec']).toMatchObject({ replicas: 1 });
    await apps.patchNamespacedDeployment({ name, namespace: 'default', body: { status: { readyReplicas: 5 }, spec: { replicas: 2 } } }, merge);
    stored = api.get('apps/v1', 'Deployment', 'default', name)!;
    expect(stored['status']).toEqual({ readyReplicas: 1 });
    expect(stored['spec']).toMatchObject({ replicas: 2 });
  });
});

describe('fake API server: Leases, Events, EndpointSlices, garbage collection', () => {
  it('Leases: create, renew with the current resourceVersion, and a stale renew conflicts (what leader election relies on)', async () => {
    const coord = kc.makeApiClient(CoordinationV1Api);
    const name = unique('lease');
    const lease = await coord.createNamespacedLease({
      namespace: 'default',
      body: { metadata: { name }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: new Date(), renewTime: new Date() } },
    });
    const renewed = await coord.replaceNamespacedLease({ name, namespace: 'default', body: { ...lease, spec: { ...lease.spec, renewTime: new Date() } } });
    expect(renewed.spec?.holderIdentity).toBe('a');
    expect(Number(renewed.metadata?.resourceVersion)).toBeGreaterThan(Number(lease.metadata?.resourceVersion));
    const stolen = await statusOf(coord.replaceNamespacedLease({ name, namespace: 'default', body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } } }));
    expect(stolen.code).toBe(409);
    expect((await coord.readNamespacedLease({ name, namespace: 'default' })).spec?.holderIdentity).toBe('a');
  });

  it('Events in v1 and events.k8s.io/v1', async () => {
    const name = unique('ev');
    await core.createNamespacedEvent({
      namespace: 'default',
      body: { metadata: { name }, involvedObject: { kind: 'Deployment', name: 'web', namespace: 'default' }, reason: 'BadAnnotation', message: 'x', type: 'Warning' },
    });
    const list = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.kind=Deployment,involvedObject.name=web,metadata.name=${name}` });
    expect(list.items.map((e) => e.reason)).toEqual(['BadAnnotation']);
    expect((await core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=other' })).items).toEqual([]);
    expect(api.list('events.k8s.io/v1', 'Event', 'default')).toEqual([]);
  });

  it('EndpointSlices through DiscoveryV1Api, listed by service-name label', async () => {
    const disco = kc.makeApiClient(DiscoveryV1Api);
    const name = unique('svc');
    await disco.createNamespacedEndpointSlice({
      namespace: 'default',
      body: {
        metadata: { name: `${name}-tide`, labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': 'tide.dev/autoscaler' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['127.0.0.9'], conditions: { ready: true } }],
        ports: [{ name: 'http', port: 8012 }],
      },
    });
    const list = await disco.listNamespacedEndpointSlice({ namespace: 'default', labelSelector: `kubernetes.io/service-name=${name}` });
    expect(list.items.map((s) => s.endpoints?.[0]?.addresses)).toEqual([['127.0.0.9']]);
    expect(
      (await statusOf(disco.createNamespacedEndpointSlice({ namespace: 'default', body: { metadata: { name: unique('bad') }, addressType: 'IPv4', endpoints: [{ addresses: [] }] } }))).message,
    ).toContain('endpoints[0].addresses: Required value');
  });

  it('seed: creates many objects in-process as POSTs would (defaults, uid, one watch event each), refusing like a POST', async () => {
    const name = unique('seeded');
    const rv = Number((await core.listNamespacedService({ namespace: 'team-a' })).metadata?.resourceVersion);
    const events: string[] = [];
    const stop = api.onChange((e) => events.push(`${e.type} ${e.object.kind} ${e.object.metadata.name}`));
    const [d, svc] = api.seed([
      { ...(deployment(name) as KubeObject), metadata: { name, namespace: 'team-a', labels: { app: name } } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'team-a' }, spec: { ports: [{ name: 'http', port: 80 }] } },
    ]);
    stop();
    expect(events).toEqual([`ADDED Deployment ${name}`, `ADDED Service ${name}`]);
    expect(d!.metadata).toMatchObject({ generation: 1, uid: expect.any(String) as string });
    expect(Number(d!.metadata.resourceVersion)).toBeGreaterThan(rv);
    // Defaults as a POST gets them: a ClusterIP, and targetPort/protocol on each port.
    expect(svc!['spec']).toMatchObject({ type: 'ClusterIP', clusterIP: expect.stringMatching(/^10\.96\./) as string, ports: [{ name: 'http', port: 80, targetPort: 80, protocol: 'TCP' }] });
    // Seeded objects are what the API serves.
    expect((await apps.readNamespacedDeployment({ name, namespace: 'team-a' })).metadata?.uid).toBe(d!.metadata.uid);
    // Refused as a POST would be; the objects before the refused one stay.
    const other = unique('seeded');
    expect(() =>
      api.seed([
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: other, namespace: 'team-a' } },
        { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'team-a' }, spec: { ports: [{ port: 80 }] } },
      ]),
    ).toThrow(/409 AlreadyExists/);
    expect(api.get('v1', 'ConfigMap', 'team-a', other)).toBeDefined();
    expect(() => api.seed([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: other, namespace: 'nowhere' } }])).toThrow(/404 NotFound/);
  });

  it('deletes dependents whose owner is gone (background propagation), and everything in a deleted namespace', async () => {
    const name = unique('owner');
    const d = await apps.createNamespacedDeployment({ namespace: 'team-a', body: deployment(name) });
    await core.createNamespacedService({
      namespace: 'team-a',
      body: {
        metadata: { name: `${name}-private`, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: d.metadata!.uid! }] },
        spec: { ports: [{ port: 80 }] },
      },
    });
    await apps.deleteNamespacedDeployment({ name, namespace: 'team-a' });
    expect(api.get('v1', 'Service', 'team-a', `${name}-private`)).toBeUndefined();

    await core.createNamespace({ body: { metadata: { name: 'doomed' } } });
    await core.createNamespacedConfigMap({ namespace: 'doomed', body: { metadata: { name: 'x' } } });
    await core.deleteNamespace({ name: 'doomed' });
    expect(api.list('v1', 'ConfigMap', 'doomed')).toEqual([]);
  });
});

describe('fake API server: faults', () => {
  afterEach(() => {
    api.faults.setLatencyMs(0);
    api.faults.setDown(false);
  });

  it('failNext answers Status errors for the matching requests only, then recovers', async () => {
    api.faults.failNext(2, 503, (r) => r.method === 'GET' && r.path === '/api/v1/namespaces/default/configmaps');
    await core.readNamespace({ name: 'default' }); // does not match: untouched
    expect(await statusOf(core.listNamespacedConfigMap({ namespace: 'default' }))).toMatchObject({ code: 503, reason: 'ServiceUnavailable' });
    expect((await statusOf(core.listNamespacedConfigMap({ namespace: 'default' }))).code).toBe(503);
    await expect(core.listNamespacedConfigMap({ namespace: 'default' })).resolves.toBeDefined();
    api.faults.failNext(1);
    expect((await statusOf(core.readNamespace({ name: 'default' }))).code).toBe(500);
  });

  it('conflictNextUpdates makes the next PUT/PATCH a 409 even with a current resourceVersion', async () => {
    const name = unique('cf');
    const cm = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name } } });
    api.faults.conflictNextUpdates(1);
    expect((await statusOf(core.replaceNamespacedConfigMap({ name, namespace: 'default', body: cm }))).code).toBe(409);
    await expect(core.replaceNamespacedConfigMap({ name, namespace: 'default', body: { ...cm, data: { a: 'b' } } })).resolves.toBeDefined();
  });

  it('setLatencyMs delays every response', async () => {
    api.faults.setLatencyMs(150);
    const started = performance.now();
    await core.readNamespace({ name: 'default' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('setDown refuses connections until it is up again', async () => {
    api.faults.setDown(true);
    await expect(core.readNamespace({ name: 'default' })).rejects.toThrow();
    api.faults.setDown(false);
    await expect(core.readNamespace({ name: 'default' })).resolves.toBeDefined();
  });
});

describe('fake API server: client-node informers across faults', () => {
  interface Tracked {
    names: Set<string>;
    connects: number;
    errors: number;
  }

  function trackedInformer(namespace: string): { informer: ReturnType<typeof makeInformer<V1Pod>>; t: Tracked } {
    const informer = makeInformer<V1Pod>(kc, `/api/v1/namespaces/${namespace}/pods`, () => core.listNamespacedPod({ namespace }));
    const t: Tracked = { names: new Set(), connects: 0, errors: 0 };
    informer.on('add', (p) => t.names.add(p.metadata!.name!));
    informer.on('delete', (p) => t.names.delete(p.metadata!.name!));
    informer.on('connect', () => t.connects++);
    // client-node leaves restarting after a failed watch to its user: do what a backend does.
    informer.on('error', () => {
      t.errors++;
      setTimeout(() => void informer.start(), 50);
    });
    return { informer, t };
  }

  it('an informer re-watches after a dropped watch (clean end and reset) and keeps up with changes', async () => {
    await core.createNamespace({ body: { metadata: { name: 'inf-drop' } } });
    const { informer, t } = trackedInformer('inf-drop');
    await informer.start();
    await core.createNamespacedPod({ namespace: 'inf-drop', body: pod('one', {}) });
    await until(() => t.names.has('one'), 'the informer to see pod one');

    const lists = (): number => api.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/namespaces/inf-drop/pods' && !r.query.has('watch')).length;
    const listsBefore = lists();
    const connects = t.connects;
    api.faults.dropWatches();
    await until(() => t.connects > connects, 'a re-watch after a clean end');
    await core.createNamespacedPod({ namespace: 'inf-drop', body: pod('two', {}) });
    await until(() => t.names.has('two'), 'the informer to see pod two');
    // A clean end resumes from the last resource version: no new list.
    expect(lists()).toBe(listsBefore);

    api.faults.dropWatches('reset');
    await until(() => t.errors > 0, 'the informer to report the reset');
    await core.deleteNamespacedPod({ name: 'one', namespace: 'inf-drop' });
    await until(() => !t.names.has('one'), 'the informer to see pod one go');
    expect([...t.names]).toEqual(['two']);
    await informer.stop();
  });

  it('an informer re-lists after its resource version expired (ERROR 410 on the open watch)', async () => {
    await core.createNamespace({ body: { metadata: { name: 'inf-410' } } });
    const { informer, t } = trackedInformer('inf-410');
    await informer.start();
    await core.createNamespacedPod({ namespace: 'inf-410', body: pod('a', {}) });
    await until(() => t.names.has('a'), 'pod a');
    const lists = (): number => api.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/namespaces/inf-410/pods' && !r.query.has('watch')).length;
    const before = lists();
    const mark = api.requests.length;
    api.faults.expireResourceVersions();
    await until(() => lists() > before, 'a re-list');
    // The ERROR event told the informer its version is gone: it re-lists at once, without first re-watching.
    const next = api.requests.slice(mark).find((r) => r.path === '/api/v1/namespaces/inf-410/pods');
    expect(next?.query.has('watch')).toBe(false);
    await core.createNamespacedPod({ namespace: 'inf-410', body: pod('b', {}) });
    await until(() => t.names.has('b'), 'pod b');
    expect(t.errors).toBe(0);
    await informer.stop();
  });

  it('an informer rides out a spell of 500s and a down server', async () => {
    await core.createNamespace({ body: { metadata: { name: 'inf-500' } } });
    const { informer, t } = trackedInformer('inf-500');
    await informer.start();
    api.faults.failNext(3, 500, (r) => r.method === 'GET' && r.path.startsWith('/api/v1/namespaces/inf-500/'));
    api.faults.setDown(true);
    api.faults.setDown(false);
    await core.createNamespacedPod({ namespace: 'inf-500', body: pod('c', {}) });
    await until(() => t.names.has('c'), 'pod c after the failures', 10_000);
    expect(t.errors).toBeGreaterThan(0);
    await informer.stop();
  });
});

describe('fake API server: in-cluster configuration', () => {
  it('client-node loadFromCluster reads the token, CA and namespace files and the service env', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tide-incluster-'));
    const saved = { host: process.env['KUBERNETES_SERVICE_HOST'], port: process.env['KUBERNETES_SERVICE_PORT'] };
    try {
      const files = api.inClusterFiles(dir, 'team-a');
      expect(files.tokenPath).toBe(join(dir, 'var/run/secrets/kubernetes.io/serviceaccount/token'));
      Object.assign(process.env, api.inClusterEnv());
      const incluster = new KubeConfig();
      incluster.loadFromCluster(dir);
      expect(incluster.getContextObject(incluster.getCurrentContext())?.namespace).toBe('team-a');
      const list = await incluster.makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace: 'team-a' });
      expect(list.kind).toBe('ConfigMapList');
      expect(api.requests.at(-1)?.user).toBe(api.token);
    } finally {
      for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});


describe('cluster simulator', () => {
  let sim: FakeApiServer;
  let simApps: AppsV1Api;
  let simCore: CoreV1Api;
  let cluster: ClusterSimulator | undefined;

  beforeEach(async () => {
    sim = await startFakeApiServer();
    const c = new KubeConfig();
    c.loadFromString(sim.kubeconfig());
    simApps = c.makeApiClient(AppsV1Api);
    simCore = c.makeApiClient(CoreV1Api);
  });

  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
    await sim.close();
  });

  const slicesOf = (service: string): KubeObject[] =>
    sim.list('discovery.k8s.io/v1', 'EndpointSlice', 'default').filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === service);
  const podIp = (p: KubeObject): string | undefined => (p['status'] as { podIP?: string }).podIP;
  const endpointOf = (s: KubeObject): { addresses: string[]; conditions: Record<string, boolean>; targetRef: { name: string } } =>
    (s['endpoints'] as { addresses: string[]; conditions: Record<string, boolean>; targetRef: { name: string } }[])[0]!;

  async function webApp(replicas: number): Promise<void> {
    const d = deployment('web', { app: 'web' }, replicas);
    d.spec!.template.spec!.containers[0]!.ports = [{ name: 'http', containerPort: 8080 }];
    await simApps.createNamespacedDeployment({ namespace: 'default', body: d });
    await simCore.createNamespacedService({
      namespace: 'default',
      body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } },
    });
  }

  it('turns a /scale write into Pods that become Ready after the start delay, each with its own EndpointSlice', async () => {
    const start = new Date(Date.UTC(2030, 0, 1));
    cluster = startClusterSimulator(sim, { startDelayMs: 300, now: () => start.getTime() });
    await webApp(0);
    const written = performance.now();
    await simApps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'default', body: { spec: { replicas: 2 } } }, merge);
    await until(() => cluster!.podsOf('default', 'web').length === 2, 'two pods');
    const pending = cluster.podsOf('default', 'web');
    expect(pending.map((p) => (p['status'] as { phase: string }).phase)).toEqual(['Pending', 'Pending']);
    expect(pending[0]!.metadata['creationTimestamp']).toBe('2030-01-01T00:00:00Z');
    expect(slicesOf('web')).toEqual([]);

    await until(() => slicesOf('web').length === 2, 'two slices');
    expect(performance.now() - written).toBeGreaterThanOrEqual(290);
    const pods = cluster.podsOf('default', 'web');
    expect(new Set(pods.map(podIp)).size).toBe(2);
    for (const p of pods) expect(podIp(p)).toMatch(/^127\.0\.\d+\.\d+$/);
    for (const s of slicesOf('web')) {
      expect(s.metadata.labels).toEqual({ 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' });
      expect(s['ports']).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
      expect(endpointOf(s).conditions).toEqual({ ready: true, serving: true, terminating: false });
      expect(pods.map(podIp)).toContain(endpointOf(s).addresses[0]);
    }
    await until(() => (sim.get('apps/v1', 'Deployment', 'default', 'web')?.['status'] as { readyReplicas?: number }).readyReplicas === 2, 'status.readyReplicas 2');
  });

  it('scales down through a terminating endpoint (ready=false, terminating=true) before removing the Pod and its slice', async () => {
    cluster = startClusterSimulator(sim, { startDelayMs: 10, stopDelayMs: 200 });
    await webApp(2);
    await until(() => slicesOf('web').length === 2, 'two slices');
    const [older] = cluster.podsOf('default', 'web');
    const seen: { ready: boolean; terminating: boolean }[] = [];
    const off = sim.onChange((e) => {
      if (e.object.kind === 'EndpointSlice' && e.type === 'MODIFIED') seen.push(endpointOf(e.object).conditions as { ready: boolean; terminating: boolean });
    });
    await simApps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'default', body: { spec: { replicas: 1 } } }, merge);
    await until(() => slicesOf('web').length === 1, 'one slice left');
    off();
    expect(seen).toEqual([{ ready: false, serving: true, terminating: true }]);
    // The newest goes first.
    expect(cluster.podsOf('default', 'web').map((p) => p.metadata.name)).toEqual([older!.metadata.name]);
  });

  it('starts a real pod through the PodFactory on its IP, advertises the port it bound, and stops it on scale-down', async () => {
    const started: string[] = [];
    const stopped: string[] = [];
    const pods: PodFactory = {
      async start({ name, ip }) {
        const server = createServer((_req, res) => res.end(`hello from ${name}`));
        await new Promise<void>((resolve) => server.listen(0, ip, resolve));
        started.push(name);
        return {
          port: (server.address() as AddressInfo).port,
          stop: async () => {
            stopped.push(name);
            await new Promise((resolve) => server.close(resolve));
          },
        };
      },
    };
    cluster = startClusterSimulator(sim, { startDelayMs: 0, pods });
    await webApp(1);
    await until(() => slicesOf('web').length === 1, 'a slice');
    const slice = slicesOf('web')[0]!;
    const port = (slice['ports'] as { port: number }[])[0]!.port;
    expect(port).not.toBe(8080);
    const res = await undici.request(`http://${endpointOf(slice).addresses[0]!}:${port}/`);
    expect(await res.body.text()).toBe(`hello from ${endpointOf(slice).targetRef.name}`);

    await simApps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'default', body: { spec: { replicas: 0 } } }, merge);
    await until(() => stopped.length === 1 && slicesOf('web').length === 0, 'the pod stopped and its slice gone');
    expect(stopped).toEqual(started);
  });

  it('never touches slices it does not manage, and drops its own when the Service loses its selector', async () => {
    cluster = startClusterSimulator(sim, { startDelayMs: 0 });
    await webApp(1);
    await until(() => slicesOf('web').length === 1, 'the controller slice');
    const tide: KubeObject = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-tide', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'tide.dev/autoscaler' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['127.0.0.200'], conditions: { ready: true } }],
      ports: [{ name: 'http', port: 8012 }],
    };
    sim.apply(tide);
    await simCore.patchNamespacedService({ name: 'web', namespace: 'default', body: { spec: { selector: null } } }, merge);
    await until(() => slicesOf('web').length === 1 && slicesOf('web')[0]!.metadata.name === 'web-tide', 'only the Tide slice');
    // Pods keep running; a Deployment scale-up still makes pods, but no slices for the selector-less Service.
    await simApps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'default', body: { spec: { replicas: 2 } } }, merge);
    await until(() => cluster!.podsOf('default', 'web').filter((p) => podIp(p)).length === 2, 'two running pods');
    await new Promise((r) => setTimeout(r, 50));
    expect(slicesOf('web').map((s) => s.metadata.name)).toEqual(['web-tide']);
    expect(endpointOf(slicesOf('web')[0]!).addresses).toEqual(['127.0.0.200']);
  });
});
