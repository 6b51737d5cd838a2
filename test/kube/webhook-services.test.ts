/**
 * The webhook prepares Services too (issue 13: `kubectl apply` of unchanged YAML in a labelled namespace scales from
 * zero): reviews over real HTTPS, the webhook's lookups and writes against the fake API server. The fake has no
 * admission, so each test plays the API server's part: it sends the review, applies the answer's patch and stores
 * the result.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastJsonPatch from 'fast-json-patch';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { systemClock } from '../../common/clock.js';
import { silentLogger } from '../../common/logger.js';
import { createKubeApi, loadKubeConfig } from '../../kubernetes/client.js';
import { DEFAULT_IMAGE } from '../../kubernetes/inject/constants.js';
import type { JsonObject } from '../../kubernetes/inject/workload.js';
import { transformYaml } from '../../kubernetes/inject/yaml-stream.js';
import { createCa, issueServingCert } from '../../kubernetes/webhook/certs.js';
import { startWebhook, type RunningWebhook } from '../../kubernetes/webhook/main.js';
import { startFakeApiServer, type FakeApiServer, type KubeObject } from '../support/kube/fake-apiserver.js';

const OPTS = { image: DEFAULT_IMAGE, version: 'test-version' };
const LOOKUP_TIMEOUT_MS = 400;

/** The user's YAML: a Deployment and the Service in front of it, as `kubectl apply -f` would send them. */
const APP_YAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web, tier: front}
    spec:
      containers:
        - name: app
          image: example/web:1
          ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  labels: {team: a}
spec:
  selector: {app: web}
  ports:
    - name: http
      port: 80
      targetPort: http
    - name: admin
      port: 81
      targetPort: 8081
`;

const docs = (yaml: string): JsonObject[] => parseAllDocuments(yaml).map((d) => d.toJS() as JsonObject);
const [userDeployment, userService] = docs(APP_YAML) as [JsonObject, JsonObject];
/** What `tide inject` makes of the pair. */
const injected = docs(transformYaml(APP_YAML, 'inject', OPTS).output);
const injectedService = injected[1]!;

const clone = <T>(v: T): T => structuredClone(v);
/** A copy without the fields the API server adds (to compare with `tide inject`'s output). */
function userFields(o: KubeObject | JsonObject): JsonObject {
  const out = clone(o) as JsonObject;
  const meta = out['metadata'] as JsonObject;
  for (const k of ['resourceVersion', 'uid', 'creationTimestamp', 'generation', 'managedFields']) delete meta[k];
  delete out['status'];
  return out;
}

interface Response { uid: string; allowed: boolean; patch?: string; patchType?: string; warnings?: string[] }

const ca = createCa(Date.now());

describe('the webhook prepares Services', () => {
  let api: FakeApiServer;
  let dir: string;
  let w: RunningWebhook;

  async function start(): Promise<RunningWebhook> {
    const serving = issueServingCert(ca, ['localhost'], Date.now());
    writeFileSync(join(dir, 'tls.crt'), serving.cert);
    writeFileSync(join(dir, 'tls.key'), serving.key);
    const { kc } = loadKubeConfig({ kind: 'kubeconfig', file: api.writeKubeconfig(dir) });
    return startWebhook({
      host: '127.0.0.1',
      port: 0,
      certs: { kind: 'files', dir },
      admission: OPTS,
      clock: systemClock,
      logger: silentLogger(),
      services: { api: createKubeApi(kc), lookupTimeoutMs: LOOKUP_TIMEOUT_MS, retryDelayMs: 40, maxAttempts: 4 },
    });
  }

  beforeEach(async () => {
    api = await startFakeApiServer({ namespaces: ['default', 'shop', 'tide-system', 'kube-system', 'other'] });
    dir = mkdtempSync(join(tmpdir(), 'tide-webhook-svc-'));
    w = await start();
  });
  afterEach(async () => {
    await w.close();
    api.faults.setLatencyMs(0);
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sends one review over HTTPS and returns its response, checked for shape. */
  async function send(object: JsonObject, over: { operation?: string; namespace?: string; dryRun?: boolean; path?: string } = {}): Promise<Response> {
    const kind = object['kind'] === 'Service' ? { group: '', version: 'v1', kind: 'Service' } : { group: 'apps', version: 'v1', kind: 'Deployment' };
    const body = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'u-1', kind, operation: over.operation ?? 'CREATE', namespace: over.namespace ?? 'shop', object, dryRun: over.dryRun ?? false },
    });
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: w.server.port, servername: 'localhost', ca: ca.cert, agent: false, method: 'POST', path: over.path ?? '/mutate/namespace', headers: { 'content-type': 'application/json' } },
        (res) => {
          let b = '';
          res.setEncoding('utf8').on('data', (d: string) => (b += d));
          res.on('end', () => (res.statusCode === 200 ? resolve(b) : reject(new Error(`HTTP ${res.statusCode}: ${b}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    const response = (JSON.parse(text) as { response: Response }).response;
    expect(response).toMatchObject({ uid: 'u-1', allowed: true });
    return response;
  }

  const patched = (object: JsonObject, r: Response): JsonObject =>
    r.patch === undefined ? object : (fastJsonPatch.applyPatch(clone(object), JSON.parse(Buffer.from(r.patch, 'base64').toString('utf8')) as fastJsonPatch.Operation[], true, false).newDocument);

  /** What the API server does with a Deployment: admission through the webhook, then stored. */
  async function applyDeployment(object: JsonObject, namespace = 'shop'): Promise<void> {
    const stored = patched(object, await send(object, { namespace }));
    api.apply(stored as unknown as KubeObject);
  }

  const storedService = (name = 'web', namespace = 'shop'): KubeObject => api.get('v1', 'Service', namespace, name)!;
  /** The stored Service without what the API server's defaulting adds on writes (to compare with inject's output). */
  const serviceFields = (o: KubeObject): JsonObject => {
    const out = userFields(o);
    const spec = out['spec'] as { ports?: JsonObject[] } & JsonObject;
    for (const k of ['clusterIP', 'clusterIPs', 'type', 'ipFamilies', 'ipFamilyPolicy', 'sessionAffinity', 'internalTrafficPolicy']) delete spec[k];
    for (const p of spec.ports ?? []) delete p['protocol'];
    return out;
  };
  const serviceWrites = (): number => api.requests.filter((r) => r.path.includes('/services/') && r.method !== 'GET').length;

  it('Service after Deployment: the answer carries the patch, and the result is what tide inject gives', async () => {
    await applyDeployment(userDeployment);
    await w.services!.idle();
    const r = await send(userService);
    expect(r.patchType).toBe('JSONPatch');
    expect(r.warnings).toBeUndefined();
    const result = patched(userService, r);
    expect(result).toEqual(injectedService);
    api.apply(result as unknown as KubeObject);

    // The prepared Service coming back (any later UPDATE) is a no-op, and needs no API call.
    const before = api.requests.length;
    expect(await send(userFields(storedService()), { operation: 'UPDATE' })).toEqual({ uid: 'u-1', allowed: true });
    expect(api.requests.length).toBe(before);
  });

  it('Service before Deployment: a dry run changes nothing; the real admission prepares it through the API', async () => {
    api.apply(clone(userService) as unknown as KubeObject);
    const original = userFields(storedService());

    // kubectl apply --dry-run=server: the webhook answers but writes nothing.
    const dry = await send(userDeployment, { dryRun: true });
    expect(dry.patch).toBeDefined();
    await w.services!.idle();
    expect(userFields(storedService())).toEqual(original);
    expect(serviceWrites()).toBe(0);

    await applyDeployment(userDeployment);
    await w.services!.idle();
    expect(serviceFields(storedService())).toEqual(injectedService);

    // That write came back through the webhook as an UPDATE of the prepared Service: a no-op.
    expect(await send(userFields(storedService()), { operation: 'UPDATE' })).toEqual({ uid: 'u-1', allowed: true });
    // Re-applying the Deployment (already injected) leaves the prepared Service alone.
    const writes = serviceWrites();
    await applyDeployment(userFields(api.get('apps/v1', 'Deployment', 'shop', 'web')!));
    await w.services!.idle();
    expect(serviceWrites()).toBe(writes);
  });

  it('a failed write of the Service is retried', async () => {
    api.apply(clone(userService) as unknown as KubeObject);
    api.faults.failNext(2, 500, (r) => r.method === 'PATCH' && r.path.endsWith('/services/web'));
    await applyDeployment(userDeployment);
    await w.services!.idle();
    expect(serviceFields(storedService())).toEqual(injectedService);
    expect(api.requests.filter((r) => r.method === 'PATCH').map((r) => r.status)).toEqual([500, 500, 200]);
  });

  it("re-applying the user's unchanged Service (selector and targetPorts back) prepares it again, keeping the recorded originals", async () => {
    await applyDeployment(userDeployment);
    const prepared = patched(userService, await send(userService));
    // kubectl apply of the unchanged YAML over the prepared Service: the fields the YAML names come back, Tide's
    // annotations and label stay (they are not in the last-applied configuration).
    const reapplied = clone(prepared);
    (reapplied['spec'] as JsonObject)['selector'] = { app: 'web' };
    (reapplied['spec'] as { ports: JsonObject[] }).ports[0]!['targetPort'] = 'http';
    const r = await send(reapplied, { operation: 'UPDATE' });
    expect(patched(reapplied, r)).toEqual(prepared);
    // A port the YAML left to default keeps pointing at the queue-proxy: its recorded original is kept.
    const partly = clone(prepared);
    (partly['spec'] as JsonObject)['selector'] = { app: 'web' };
    expect(patched(partly, await send(partly, { operation: 'UPDATE' }))).toEqual(prepared);
  });

  it('left alone: kube-system, tide-system, opted out, no managed Deployment behind it, no selector, and the annotated scope without the annotation', async () => {
    await applyDeployment(userDeployment);
    for (const ns of ['kube-system', 'tide-system', 'other']) await applyDeployment({ ...clone(userDeployment), metadata: { name: 'web', namespace: ns, annotations: { 'tide.dev/inject': 'true' } } }, ns);
    await w.services!.idle();
    const service = (namespace: string, extra: Record<string, unknown> = {}, spec?: JsonObject): JsonObject => ({
      ...clone(userService),
      metadata: { name: 'web', namespace, ...extra },
      ...(spec ? { spec } : {}),
    });
    const before = api.requests.length;
    const untouched: [JsonObject, Parameters<typeof send>[1]][] = [
      [service('kube-system'), { namespace: 'kube-system' }],
      [service('tide-system'), { namespace: 'tide-system' }],
      [service('shop', { annotations: { 'tide.dev/inject': 'false' } }), {}],
      [service('other'), { namespace: 'other', path: '/mutate/annotated' }],
    ];
    for (const [object, over] of untouched) expect(await send(object, over)).toEqual({ uid: 'u-1', allowed: true });
    expect(await send(service('shop', {}, { ports: [{ port: 80 }] }))).toEqual({ uid: 'u-1', allowed: true });
    expect(api.requests.length).toBe(before); // none of these needed a lookup
    expect(await send(service('shop', {}, { selector: { app: 'api' }, ports: [{ port: 80 }] }))).toEqual({ uid: 'u-1', allowed: true });
    // Annotated, in a namespace without the label: prepared like the Deployment it fronts.
    const optedIn = service('other', { annotations: { 'tide.dev/inject': 'true' } });
    expect((await send(optedIn, { namespace: 'other', path: '/mutate/annotated' })).patch).toBeDefined();
  });

  it('a Service in front of two Tide Deployments is admitted unchanged with a warning naming them', async () => {
    await applyDeployment(userDeployment);
    const second = clone(userDeployment);
    (second['metadata'] as JsonObject)['name'] = 'web-canary';
    await applyDeployment(second);
    await w.services!.idle();
    const r = await send(userService);
    expect(r.patch).toBeUndefined();
    expect(r.warnings).toEqual([
      'tide: Service shop/web not prepared: its selector matches the pods of several Tide Deployments (web, web-canary); give it a selector matching one',
    ]);
  });

  it('the API server failing or slow: admitted unchanged with a warning, within the lookup deadline', async () => {
    await applyDeployment(userDeployment);
    await w.services!.idle();
    api.faults.failNext(1, 500, (r) => r.path.endsWith('/deployments'));
    const failed = await send(userService);
    expect(failed.patch).toBeUndefined();
    expect(failed.warnings![0]).toMatch(/^tide: Service shop\/web not prepared: cannot list the Deployments in shop \(.*500.*\); apply it again once the API server answers$/);

    api.faults.setLatencyMs(LOOKUP_TIMEOUT_MS * 4);
    const t0 = Date.now();
    const slow = await send(userService);
    const took = Date.now() - t0;
    expect(slow.patch).toBeUndefined();
    expect(slow.warnings![0]).toMatch(/not prepared: cannot list the Deployments in shop \(listing Deployments in shop: no answer within 400 ms\)/);
    expect(took).toBeGreaterThanOrEqual(LOOKUP_TIMEOUT_MS - 50);
    expect(took).toBeLessThan(LOOKUP_TIMEOUT_MS * 3); // well inside the webhook's 5 s timeoutSeconds
  });
});
