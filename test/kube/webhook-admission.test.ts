/** The webhook's decisions, without sockets: which reviews are answered how, and that the patch is `tide inject`'s. */
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE } from '../../kubernetes/inject/constants.js';
import { injectDeployment, type JsonObject } from '../../kubernetes/inject/workload.js';
import { review, type Scope } from '../../kubernetes/webhook/admission.js';

const opts = { image: DEFAULT_IMAGE, version: 'test-version' };

function deployment(annotations?: Record<string, string>, ports: unknown[] = [{ containerPort: 8080 }]): JsonObject {
  return JSON.parse(
    JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'shop', ...(annotations ? { annotations } : {}) },
      spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'x', ports }] } } },
    }),
  ) as JsonObject;
}

function reviewOf(object: JsonObject, over: Record<string, unknown> = {}): JsonObject {
  const kind = object['kind'] === 'Pod' ? { group: '', version: 'v1', kind: 'Pod' } : { group: 'apps', version: 'v1', kind: 'Deployment' };
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u-1', kind, operation: 'CREATE', namespace: 'shop', object, ...over } };
}

type Response = { uid: string; allowed: boolean; patchType?: string; patch?: string; warnings?: string[]; status?: { code: number; message: string } };
function respond(body: unknown, scope: Scope = 'namespace'): Response {
  const a = review(body, scope, opts);
  expect(a.status).toBe(200);
  const out = (a as unknown as { body: { apiVersion: string; kind: string; response: Response } }).body;
  expect([out.apiVersion, out.kind]).toEqual(['admission.k8s.io/v1', 'AdmissionReview']);
  expect(out.response.uid).toBe('u-1');
  return out.response;
}
const patchOf = (r: Response): fastJsonPatch.Operation[] => JSON.parse(Buffer.from(r.patch!, 'base64').toString('utf8')) as fastJsonPatch.Operation[];

describe('webhook admission', () => {
  it('an UPDATE that puts the app readiness probe back (kubectl apply of the unchanged manifest): the probe moves to the queue-proxy again', () => {
    const once = (injectDeployment(deployment(), opts) as { object: JsonObject }).object;
    const updated = structuredClone(once);
    const appContainer = (updated['spec'] as { template: { spec: { containers: { name: string; readinessProbe?: unknown }[] } } }).template.spec.containers.find((c) => c.name === 'app')!;
    appContainer.readinessProbe = { httpGet: { path: '/ready', port: 8080 } };
    const r = respond(reviewOf(updated, { operation: 'UPDATE', oldObject: once }));
    expect(r).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
    const patched = fastJsonPatch.applyPatch(structuredClone(updated), patchOf(r), true, false).newDocument;
    const want = injectDeployment(updated, opts);
    expect(want.kind === 'changed' && want.object).toEqual(patched);
    const patchedApp = (patched['spec'] as { template: { spec: { containers: { name: string; readinessProbe?: unknown }[] } } }).template.spec.containers.find((c) => c.name === 'app')!;
    expect(patchedApp.readinessProbe).toBeUndefined();
  });

  it('a Deployment in a labelled namespace gets the same result as tide inject, as a JSON Patch', () => {
    const object = deployment();
    const r = respond(reviewOf(object));
    expect(r).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
    const patched = fastJsonPatch.applyPatch(structuredClone(object), patchOf(r), true, false).newDocument;
    const want = injectDeployment(object, opts);
    expect(want.kind === 'changed' && want.object).toEqual(patched);
  });

  it('a bare Pod is injected; a Pod owned by a controller is not', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels: { app: 'p' } }, spec: { containers: [{ name: 'app', image: 'x', ports: [{ containerPort: 80 }] }] } } as JsonObject;
    expect(respond(reviewOf(pod)).patch).toBeDefined();
    const owned = { ...pod, metadata: { name: 'p', ownerReferences: [{ kind: 'ReplicaSet', name: 'rs' }] } } as JsonObject;
    expect(respond(reviewOf(owned))).toEqual({ uid: 'u-1', allowed: true });
  });

  it.each([
    { name: 'annotated scope without the annotation', scope: 'annotated' as const, object: deployment(), patched: false },
    { name: 'annotated scope with tide.dev/inject "true"', scope: 'annotated' as const, object: deployment({ 'tide.dev/inject': 'true' }), patched: true },
    { name: 'labelled namespace, workload opts out', scope: 'namespace' as const, object: deployment({ 'tide.dev/inject': 'false' }), patched: false },
    { name: 'already injected', scope: 'namespace' as const, object: (injectDeployment(deployment(), opts) as { object: JsonObject }).object, patched: false },
  ])('$name', ({ scope, object, patched }) => {
    expect(respond(reviewOf(object), scope).patch !== undefined).toBe(patched);
  });

  it.each([
    { name: 'DELETE', over: { operation: 'DELETE' } },
    { name: "Tide's own namespace", over: { namespace: 'tide-system' } },
    { name: 'kube-system', over: { namespace: 'kube-system' } },
    { name: 'another kind', over: { kind: { group: 'apps', version: 'v1', kind: 'StatefulSet' }, object: { ...deployment(), kind: 'StatefulSet' } } },
  ])('$name is allowed unchanged', ({ over }) => {
    expect(respond(reviewOf(deployment(), over))).toEqual({ uid: 'u-1', allowed: true });
  });

  it('a workload that cannot be injected is admitted unchanged, with a warning naming why', () => {
    const r = respond(reviewOf(deployment(undefined, [])));
    expect(r.patch).toBeUndefined();
    expect(r.allowed).toBe(true);
    expect(r.warnings).toEqual(['tide: not injected: Deployment shop/web: cannot determine the app port: container app declares no ports; add ports: [{name: http, containerPort: <port>}]']);
    const unnamespaced = deployment(undefined, []);
    delete (unnamespaced['metadata'] as JsonObject)['namespace'];
    expect(respond(reviewOf(unnamespaced)).warnings![0]).toMatch(/^tide: not injected: Deployment shop\/web: /);
    expect(respond(reviewOf(deployment({ 'tide.dev/inject': 'yes' })), 'annotated').warnings).toEqual(['tide: not injected: annotation tide.dev/inject must be "true" or "false"']);
  });

  it.each([
    { name: 'not an object', body: [1, 2], want: 'expected a JSON AdmissionReview object' },
    { name: 'wrong apiVersion', body: { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'u' } }, want: 'expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got "admission.k8s.io/v1beta1" "AdmissionReview"' },
    { name: 'no request', body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, want: 'request: expected an object' },
    { name: 'no uid', body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: '' } }, want: 'request.uid: expected a non-empty string' },
  ])('400 for a body that is no AdmissionReview: $name', ({ body, want }) => {
    expect(review(body, 'namespace', opts)).toEqual({ status: 400, message: want });
  });

  it.each([
    { name: 'kind', over: { kind: 'Deployment' }, want: 'request.kind: expected {group, version, kind}' },
    { name: 'operation', over: { operation: 1 }, want: 'request.operation: expected a string' },
    { name: 'object', over: { object: 'x' }, want: 'request.object: expected an object' },
    { name: 'namespace', over: { namespace: undefined }, want: 'request.namespace: expected the namespace of a namespaced object' },
    { name: 'object kind', over: { object: { ...deployment(), kind: 'Pod' } }, want: 'request.object.kind: expected Deployment, got "Pod"' },
  ])('a malformed request is refused with code 400 naming the field: $name', ({ over, want }) => {
    expect(respond(reviewOf(deployment(), over))).toEqual({ uid: 'u-1', allowed: false, status: { code: 400, message: want } });
  });
});
