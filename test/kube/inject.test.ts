/** `tide inject` refusals, flags and the CLI contract (golden files and properties are in the sibling files). */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { OTHER_TIDE_KEYS, resolveRevisionSpec } from '../../autoscaler/config/annotations.js';
import { KEYS, WAIT_FOR_DRAIN_PATH, DEFAULT_IMAGE } from '../../kubernetes/inject/constants.js';
import { injectDeployment, injectPod, uninjectDeployment, type JsonObject } from '../../kubernetes/inject/workload.js';
import { transformYaml } from '../../kubernetes/inject/yaml-stream.js';
import { WAIT_FOR_DRAIN_PATH as PROXY_WAIT_FOR_DRAIN } from '../../proxy/app.js';
import { runTide } from '../support/cli.js';

const opts = { image: DEFAULT_IMAGE, version: 'test-version' };

function deployment(containers: unknown[], annotations?: Record<string, string>, extraPod: Record<string, unknown> = {}): JsonObject {
  return <JsonObject>(<unknown>{
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', ...(annotations ? { annotations } : {}) },
    spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers, ...extraPod } } },
  });
}
const app = (ports: unknown[], extra: Record<string, unknown> = {}) => ({ name: 'app', image: 'x', ports, ...extra });

describe('inject refuses what it cannot do safely, naming the workload and the field', () => {
  it.each([
    { name: 'no ports', d: deployment([{ name: 'app', image: 'x' }]), want: 'Deployment shop/web: cannot determine the app port: container app declares no ports' },
    {
      name: 'several ports, none named http',
      d: deployment([app([{ containerPort: 1 }, { containerPort: 2 }])]),
      want: 'Deployment shop/web: cannot determine the app port: container app has 2 ports and none is named http, http1 or h2c',
    },
    {
      name: 'two containers with ports, none named http',
      d: deployment([app([{ containerPort: 8080 }]), { name: 'side', image: 'y', ports: [{ containerPort: 9100 }] }]),
      want: 'Deployment shop/web: cannot tell which of its 2 containers (app, side) serves HTTP; give exactly one of them a port named "http"',
    },
    {
      name: 'a port the queue-proxy needs',
      d: deployment([app([{ name: 'http', containerPort: 8080 }]), { name: 'side', image: 'y', ports: [{ containerPort: 9090 }] }]),
      want: 'Deployment shop/web: container side uses port 9090, which the queue-proxy needs (8012, 8022, 9090, 9091); move the app to another port',
    },
    {
      name: 'an existing preStop hook',
      d: deployment([app([{ containerPort: 8080 }], { lifecycle: { preStop: { exec: { command: ['x'] } } } })]),
      want: "Deployment shop/web: container app already has lifecycle.preStop; Tide needs it to wait for the queue-proxy's drain",
    },
    {
      name: 'a bad container concurrency',
      d: deployment([app([{ containerPort: 8080 }])], { 'tide.dev/container-concurrency': '-1' }),
      want: 'Deployment shop/web: tide.dev/container-concurrency: expected 0 <= -1 <= 1000',
    },
    {
      name: 'a bad native-sidecar value',
      d: deployment([app([{ containerPort: 8080 }])], { 'tide.dev/native-sidecar': 'yes' }),
      want: 'Deployment shop/web: tide.dev/native-sidecar: expected "true" or "false", got "yes"',
    },
    { name: 'no containers', d: deployment([]), want: 'Deployment shop/web: the pod template has no containers' },
  ])('$name', ({ d, want }) => {
    const r = injectDeployment(d, opts);
    expect(r.kind).toBe('error');
    expect(r.kind === 'error' && r.message).toContain(want);
  });

  it('a stream with one bad workload writes nothing and reports the file', () => {
    const text = `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: x}]\n`;
    const r = transformYaml(text, 'inject', opts, 'app.yaml');
    expect(r.output).toBe('');
    expect(r.errors).toEqual(['app.yaml: Deployment default/bad: cannot determine the app port: container a declares no ports; add ports: [{name: http, containerPort: <port>}]']);
  });

  it('a YAML syntax error names the file, line and column', () => {
    const r = transformYaml('a: [1,\nb: 2\n', 'inject', opts, 'x.yaml');
    expect(r.errors[0]).toMatch(/^x\.yaml:\d+:\d+: YAML syntax error: /);
  });
});

describe('inject details', () => {
  it('timeouts and concurrency come from the tide.dev annotations; the grace period covers timeout + drain', () => {
    const r = injectDeployment(deployment([app([{ containerPort: 8080 }])], { 'tide.dev/container-concurrency': '7', 'tide.dev/timeout-seconds': '45', 'tide.dev/response-start-timeout-seconds': '10' }), opts);
    expect(r.kind).toBe('changed');
    const pod = (r as unknown as { object: { spec: { template: { spec: unknown } } } }).object.spec.template.spec as { containers: { name: string; env: { name: string; value?: string }[] }[]; terminationGracePeriodSeconds: number };
    const env = Object.fromEntries(pod.containers[1]!.env.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ CONTAINER_CONCURRENCY: '7', REVISION_TIMEOUT_SECONDS: '45', REVISION_RESPONSE_START_TIMEOUT_SECONDS: '10', USER_PORT: '8080', SERVING_REVISION: 'web' });
    expect(pod.terminationGracePeriodSeconds).toBe(45 + 30);
  });

  it('a bare Pod gets the queue-proxy, its revision from the app label, and no Deployment markers', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'job-', labels: { app: 'batch' } }, spec: { containers: [app([{ containerPort: 8080 }])] } } as unknown as JsonObject;
    const r = injectPod(pod, opts, 'shop');
    expect(r.kind).toBe('changed');
    const out = (r as unknown as { object: { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: { containers: { env?: { name: string; value?: string }[] }[] } } }).object;
    expect(out.spec.containers[1]!.env!.find((e) => e.name === 'SERVING_REVISION')!.value).toBe('batch');
    expect(out.metadata.labels).toEqual({ app: 'batch' });
    expect(out.metadata.annotations[KEYS.injected]).toBe('test-version');
    expect(injectPod(out as never, opts, 'shop')).toEqual({ kind: 'skipped', reason: 'already injected' });
  });

  it('the preStop path is the one the queue-proxy serves', () => {
    expect(WAIT_FOR_DRAIN_PATH).toBe(PROXY_WAIT_FOR_DRAIN);
  });

  it('tide validate knows every tide.dev key injection writes, so it flags none of them', () => {
    for (const key of Object.values(KEYS)) expect(OTHER_TIDE_KEYS, key).toContain(key);
    const out = transformYaml(
      `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {template: {metadata: {labels: {app: a}}, spec: {containers: [{name: a, image: x, ports: [{containerPort: 80}]}]}}}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {selector: {app: a}, ports: [{port: 80}]}\n`,
      'inject',
      opts,
    ).output;
    for (const doc of parseAllDocuments(out)) {
      const annotations = (doc.toJS() as { metadata: { annotations?: Record<string, string> } }).metadata.annotations ?? {};
      expect(resolveRevisionSpec(annotations).problems).toEqual([]);
    }
  });
});

describe('a readiness probe applied again to an injected Deployment (kubectl apply of the unchanged manifest)', () => {
  type Container = { name: string; readinessProbe?: unknown; env?: { name: string; value?: string }[] };
  const containersOf = (d: JsonObject): Container[] => {
    const spec = (d['spec'] as { template: { spec: { containers: Container[]; initContainers?: Container[] } } }).template.spec;
    return [...spec.containers, ...(spec.initContainers ?? [])];
  };
  const appOf = (d: JsonObject): Container => containersOf(d).find((c) => c.name === 'app')!;
  const queueProxyOf = (d: JsonObject): Container => containersOf(d).find((c) => c.name === 'queue-proxy')!;
  const servingProbe = (d: JsonObject): unknown => JSON.parse(queueProxyOf(d).env!.find((e) => e.name === 'SERVING_READINESS_PROBE')!.value!);
  const withAppProbe = (d: JsonObject, probe: unknown): JsonObject => {
    const out = structuredClone(d);
    appOf(out).readinessProbe = probe;
    return out;
  };
  const injected = (d: JsonObject): JsonObject => {
    const r = injectDeployment(d, opts);
    if (r.kind !== 'changed') throw new Error(`expected a change, got ${r.kind}`);
    return r.object;
  };

  it.each([false, true])('moves it to the queue-proxy again (native sidecar: %s); uninject restores the probe as last applied', (native) => {
    const first = { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 3 };
    const user = deployment([app([{ name: 'http', containerPort: 8080 }], { readinessProbe: first })], native ? { 'tide.dev/native-sidecar': 'true' } : undefined);
    const once = injected(user);
    expect(appOf(once).readinessProbe).toBeUndefined();

    // kubectl apply puts the app's probe back (here changed, as a user may): the webhook or tide inject sees it again.
    const second = { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 7, failureThreshold: 2 };
    const reapplied = withAppProbe(once, second);
    const r = injectDeployment(reapplied, opts);
    expect(r.kind).toBe('changed');
    const again = (r as { object: JsonObject }).object;
    expect(appOf(again).readinessProbe).toBeUndefined();
    expect(servingProbe(again)).toEqual({ httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 7, failureThreshold: 2 });
    expect(queueProxyOf(again).readinessProbe).toMatchObject({ periodSeconds: 7, failureThreshold: 2, timeoutSeconds: 10 });
    expect((r as { note: string }).note).toContain('moved to the queue-proxy again');

    // Nothing else changed, and doing it once more changes nothing.
    const others = (d: JsonObject): unknown => {
      const c = structuredClone(d);
      delete appOf(c).readinessProbe;
      queueProxyOf(c).env = queueProxyOf(c).env!.filter((e) => e.name !== 'SERVING_READINESS_PROBE');
      delete queueProxyOf(c).readinessProbe;
      delete (c['metadata'] as { annotations: Record<string, string> }).annotations['tide.dev/original-pod'];
      return c;
    };
    expect(others(again)).toEqual(others(once));
    expect(injectDeployment(again, opts)).toEqual({ kind: 'skipped', reason: 'already injected' });

    // Uninject gives back the manifest as last applied: the second probe on the app.
    const back = uninjectDeployment(again);
    expect(back.kind).toBe('changed');
    expect((back as { object: JsonObject }).object).toEqual(withAppProbe(user, second));
  });

  it('an exec probe applied again stays with the kubelet; an injected Deployment without a probe is skipped', () => {
    const once = injected(deployment([app([{ containerPort: 8080 }])]));
    expect(injectDeployment(once, opts)).toEqual({ kind: 'skipped', reason: 'already injected' });
    expect(injectDeployment(withAppProbe(once, { exec: { command: ['true'] } }), opts)).toEqual({ kind: 'skipped', reason: 'already injected' });
  });
});

describe('tide inject CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tide-inject-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const good = `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {template: {spec: {containers: [{name: a, image: x, ports: [{containerPort: 80}]}]}}}\n`;

  it('reads a folder in name order, writes one stream to stdout and notes to stderr', async () => {
    mkdirSync(join(dir, 'app'));
    writeFileSync(join(dir, 'app', '2-config.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n');
    writeFileSync(join(dir, 'app', '1-deploy.yml'), good);
    writeFileSync(join(dir, 'app', 'README.md'), 'not yaml');
    const r = await runTide(['inject', '-f', 'app', '--image', 'registry.example/tide:dev'], { cwd: dir });
    expect(r.code).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string; spec?: { template: { spec: { containers: { image: string }[] } } } });
    expect(docs.map((d) => d.kind)).toEqual(['Deployment', 'ConfigMap']);
    expect(docs[0]!.spec!.template.spec.containers[1]!.image).toBe('registry.example/tide:dev');
    expect(r.stderr).toContain('tide inject: app/1-deploy.yml: injected Deployment default/a: queue-proxy added (app container a)');
    expect(r.stderr).toContain('tide inject: app/2-config.yaml: skipped ConfigMap c: ConfigMap is passed through unchanged');

    const back = await runTide(['uninject', '-f', '-'], { stdin: r.stdout });
    expect(back.code).toBe(0);
    expect(parseAllDocuments(back.stdout).map((d) => d.toJS() as unknown)).toEqual([parseAllDocuments(good)[0]!.toJS(), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }]);
    const same = await runTide(['inject', '--uninject', '-f', '-'], { stdin: r.stdout });
    expect(same.stdout).toBe(back.stdout);
  });

  it('exits 1 with nothing on stdout when a workload cannot be injected', async () => {
    const r = await runTide(['inject', '-f', '-'], { stdin: good.replace(', ports: [{containerPort: 80}]', '') });
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toContain('tide inject: error: <stdin>: Deployment default/a: cannot determine the app port');
  });

  it.each([
    { args: ['inject'], want: 'missing -f FILE|DIR|-' },
    { args: ['inject', '-f', 'x.yaml', '--bogus'], want: "Unknown option '--bogus'" },
    { args: ['inject', '-f', '-', '--image', 'a b'], want: '--image: expected an image reference, got "a b"' },
    { args: ['uninject', '-f', '-', '--native-sidecar'], want: 'tide uninject takes no --native-sidecar' },
    { args: ['inject', '-f', 'no-such-file.yaml'], want: 'cannot read no-such-file.yaml' },
  ])('bad flags exit 2: $args', async ({ args, want }) => {
    const r = await runTide(args, { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(want);
  });
});
