/**
 * manifests/: `kubectl kustomize` renders them, every object passes the fake API server (created through kubectl
 * server-side apply), and they agree with the code: the image, the Dockerfile's ENTRYPOINT, the CLI's commands and
 * flags, and the webhook's safety settings.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parseDocument } from 'yaml';
import { COMMANDS, main } from '../../cli/main.js';
import { fromRoot } from '../../common/paths.js';
import { DEFAULT_IMAGE, SYSTEM_NAMESPACE } from '../../kubernetes/inject/constants.js';
import { transformYaml } from '../../kubernetes/inject/yaml-stream.js';
import { startFakeApiServer, type FakeApiServer } from '../support/kube/fake-apiserver.js';

/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return -- rendered YAML is walked as untyped JSON */
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
const rendered = execFileSync('kubectl', ['kustomize', fromRoot('manifests')], { encoding: 'utf8' });
const objects = parseAllDocuments(rendered).map((d) => d.toJS() as Obj);
const deployments = objects.filter((o) => o['kind'] === 'Deployment');
const containers = deployments.flatMap((d) => (d['spec'].template.spec.containers as Obj[]).map((c): Obj => ({ deployment: d['metadata'].name as string, ...c })));
const byKindName = (kind: string, name: string): Obj => objects.find((o) => o['kind'] === kind && o['metadata'].name === name)!;

/** `tide <command> --help`, in-process. */
async function helpOf(command: string): Promise<string> {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (d: Buffer) => (text += d.toString()));
  const code = await main([command, '--help'], { stdin: new PassThrough(), stdout, stderr: new PassThrough(), env: {}, cwd: process.cwd() });
  expect(code, `tide ${command} --help`).toBe(0);
  return text;
}

describe('manifests/ rendered by kubectl kustomize', () => {
  it('kubectl is on this machine (CI installs it): the render above used it', () => {
    expect(hasKubectl).toBe(true);
    expect(objects.length).toBeGreaterThan(10);
  });

  it('holds each component with its Service and PodDisruptionBudget, the webhook configuration and the ConfigMaps', () => {
    const names = objects.map((o) => `${o['kind']}/${o['metadata'].name}`);
    for (const c of ['tide-activator', 'tide-autoscaler', 'tide-webhook']) {
      expect(names).toContain(`Deployment/${c}`);
      expect(names).toContain(`Service/${c}`);
      expect(names).toContain(`PodDisruptionBudget/${c}`);
      expect(names).toContain(`ServiceAccount/${c}`);
    }
    expect(names).toContain('Namespace/tide-system');
    expect(names).toContain('MutatingWebhookConfiguration/tide-webhook');
    expect(names).toContain('ConfigMap/config-autoscaler');
    expect(names.some((n) => /^ConfigMap\/tide-autoscaler-config-[a-z0-9]+$/.test(n))).toBe(true);
  });

  it('every namespaced object is in tide-system', () => {
    const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration']);
    for (const o of objects.filter((x) => !clusterScoped.has(x['kind']))) expect(o['metadata'].namespace, `${o['kind']}/${o['metadata'].name}`).toBe(SYSTEM_NAMESPACE);
  });

  it("uses one image, the inject default, set once in kustomization.yaml's images", () => {
    const k = parseDocument(readFileSync(fromRoot('manifests', 'kustomization.yaml'), 'utf8')).toJS() as { images: { name: string; newName: string; newTag: string }[] };
    expect(k.images).toHaveLength(1);
    expect(`${k.images[0]!.newName}:${k.images[0]!.newTag}`).toBe(DEFAULT_IMAGE);
    for (const c of containers) expect(c['image'], c.deployment).toBe(DEFAULT_IMAGE);
    // The webhook injects the image it runs (kustomize replacements), so a custom image reaches the sidecars too.
    const webhook = containers.find((c) => c.deployment === 'tide-webhook')!;
    expect((webhook['env'] as Obj[]).find((e) => e['name'] === 'TIDE_QUEUE_PROXY_IMAGE')!['value']).toBe(DEFAULT_IMAGE);
    const example = parseAllDocuments(readFileSync(fromRoot('manifests', 'examples', 'hello.yaml'), 'utf8')).map((d) => d.toJS() as Obj);
    expect(example[0]!['spec'].template.spec.containers[0].image).toBe(DEFAULT_IMAGE);
  });

  it("the Dockerfile's ENTRYPOINT, the manifests' commands and the CLI's commands and flags agree", async () => {
    const docker = readFileSync(fromRoot('Dockerfile'), 'utf8');
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(docker)![1]!) as string[];
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(docker)![1]!) as string[];
    const script = entrypoint.at(-1)!;
    expect(entrypoint[0]).toBe('node');
    expect(script).toBe('/app/bin/tide.js');
    expect(Object.keys(COMMANDS)).toContain(cmd[0]);
    for (const c of containers) {
      // The components run Node with V8's defaults: same binary and script as the ENTRYPOINT, without its flag.
      expect(c['command'], c.deployment).toEqual(['node', script]);
      const [command, ...args] = c['args'] as string[];
      expect(Object.keys(COMMANDS), c.deployment).toContain(command);
      const help = await helpOf(command!);
      for (const flag of args.filter((a) => a.startsWith('--'))) expect(help, `tide ${command} ${flag}`).toContain(flag);
    }
    expect(containers.map((c) => (c['args'] as string[])[0]).sort()).toEqual(['activator', 'autoscaler', 'webhook']);
    // The sidecar that inject adds runs the image's ENTRYPOINT with the queue-proxy command (its Node flag included).
    const injected = parseAllDocuments(transformYaml(readFileSync(fromRoot('manifests', 'examples', 'hello.yaml'), 'utf8'), 'inject', { image: DEFAULT_IMAGE, version: 'x' }).output)[0]!.toJS() as Obj;
    const qp = (injected['spec'].template.spec.containers as Obj[]).find((c) => c['name'] === 'queue-proxy')!;
    expect(qp['command']).toBeUndefined();
    expect(qp['args']).toEqual(['queue-proxy']);
    expect(Object.keys(COMMANDS)).toContain('queue-proxy');
  });

  it('every component has probes, resources, a restricted security context, anti-affinity, two replicas and a PDB', () => {
    for (const d of deployments) {
      const name = d['metadata'].name as string;
      const pod = d['spec'].template.spec as Obj;
      expect(d['spec'].replicas, name).toBe(2);
      expect(pod['serviceAccountName'], name).toBe(name);
      expect(pod['securityContext'], name).toEqual({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod['affinity'].podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector.matchLabels, name).toEqual(d['spec'].selector.matchLabels);
      for (const c of pod['containers'] as Obj[]) {
        expect(c['readinessProbe'], name).toBeDefined();
        expect(c['livenessProbe'], name).toBeDefined();
        expect(c['resources'].requests.cpu, name).toBeDefined();
        expect(c['resources'].requests.memory, name).toBeDefined();
        expect(c['resources'].limits.memory, name).toBeDefined();
        expect(c['securityContext'], name).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      }
      const pdb = byKindName('PodDisruptionBudget', name);
      expect(pdb['spec']).toEqual({ minAvailable: 1, selector: { matchLabels: d['spec'].selector.matchLabels } });
    }
  });

  it('the contract ports: activator http 8012, autoscaler stats 8080 and http-metrics 9095, webhook https 443 → 8443', () => {
    const ports = (name: string): unknown => (byKindName('Service', name)['spec'].ports as Obj[]).map((p) => [p['name'], p['port']]);
    expect(ports('tide-activator')).toContainEqual(['http', 8012]);
    expect(ports('tide-autoscaler')).toEqual([['stats', 8080], ['http-metrics', 9095]]);
    expect(ports('tide-webhook')).toEqual([['https', 443]]);
    expect(byKindName('Deployment', 'tide-activator')['spec'].template.metadata.labels['app.kubernetes.io/name']).toBe('tide-activator');
  });

  it('the autoscaler reads the generated copy of config-autoscaler.yaml', () => {
    const d = byKindName('Deployment', 'tide-autoscaler');
    const generated = objects.find((o) => o['kind'] === 'ConfigMap' && String(o['metadata'].name).startsWith('tide-autoscaler-config-'))!;
    expect(d['spec'].template.spec.volumes[0].configMap.name).toBe(generated['metadata'].name);
    expect(generated['data']['config-autoscaler.yaml']).toBe(readFileSync(fromRoot('manifests', 'config-autoscaler.yaml'), 'utf8'));
    const args = d['spec'].template.spec.containers[0].args as string[];
    expect(args[args.indexOf('--config') + 1]).toBe(`${d['spec'].template.spec.containers[0].volumeMounts[0].mountPath}/config-autoscaler.yaml`);
  });

  it('the webhook cannot block the cluster or touch tide-system and kube-system', () => {
    const mwc = byKindName('MutatingWebhookConfiguration', 'tide-webhook');
    expect(mwc['webhooks']).toHaveLength(2);
    for (const w of mwc['webhooks'] as Obj[]) {
      expect(w['failurePolicy']).toBe('Ignore');
      // Its one side effect (preparing Services applied before their Deployment) is skipped on dry runs.
      expect(w['sideEffects']).toBe('NoneOnDryRun');
      expect(w['rules']).toContainEqual({ apiGroups: [''], apiVersions: ['v1'], resources: ['services'], operations: ['CREATE', 'UPDATE'] });
      expect(w['admissionReviewVersions']).toEqual(['v1']);
      expect(w['timeoutSeconds']).toBeLessThanOrEqual(10);
      expect(w['namespaceSelector'].matchExpressions).toContainEqual({ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['tide-system', 'kube-system'] });
      expect(w['clientConfig'].service).toMatchObject({ name: 'tide-webhook', namespace: 'tide-system', port: 443 });
    }
    expect((mwc['webhooks'] as Obj[]).map((w) => w['clientConfig'].service.path)).toEqual(['/mutate/namespace', '/mutate/annotated']);
  });

  it('the example workload injects cleanly', () => {
    const r = transformYaml(readFileSync(fromRoot('manifests', 'examples', 'hello.yaml'), 'utf8'), 'inject', { image: DEFAULT_IMAGE, version: 'x' });
    expect(r.errors).toEqual([]);
    expect(r.notes).toEqual([
      'injected Deployment demo/hello: queue-proxy added (app container hello)',
      'injected Service demo/hello: prepared for Deployment hello (selector moved to tide.dev/original-selector)',
    ]);
  });
});

describe.runIf(hasKubectl)('manifests/ against the fake API server', () => {
  let api: FakeApiServer;
  let dir: string;
  beforeAll(async () => {
    api = await startFakeApiServer({ namespaces: ['default'] });
    dir = mkdtempSync(join(tmpdir(), 'tide-manifests-'));
  });
  afterAll(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** kubectl against the fake, asynchronously: the fake answers from this process's event loop. */
  const kubectl = async (args: string[]): Promise<{ status: number; stderr: string }> => {
    try {
      const r = await promisify(execFile)('kubectl', ['--kubeconfig', api.writeKubeconfig(dir), ...args], { encoding: 'utf8', timeout: 60_000 });
      return { status: 0, stderr: r.stderr };
    } catch (err) {
      const e = err as { code?: number; stderr?: string };
      return { status: typeof e.code === 'number' ? e.code : -1, stderr: e.stderr ?? String(err) };
    }
  };

  it('kubectl apply --server-side creates every rendered object, and the example workload after injection', async () => {
    const file = join(dir, 'all.yaml');
    writeFileSync(file, rendered);
    const apply = async (path: string): Promise<void> => {
      expect(await kubectl(['apply', '--server-side', '--validate=false', '-f', path])).toEqual({ status: 0, stderr: '' });
    };
    await apply(file);
    for (const o of objects) {
      const found = api.get(o['apiVersion'], o['kind'], o['metadata'].namespace, o['metadata'].name);
      expect(found, `${o['kind']}/${o['metadata'].name}`).toBeDefined();
    }
    api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' } });
    const example = join(dir, 'hello.yaml');
    writeFileSync(example, transformYaml(readFileSync(fromRoot('manifests', 'examples', 'hello.yaml'), 'utf8'), 'inject', { image: DEFAULT_IMAGE, version: 'x' }).output);
    await apply(example);
    expect(api.get('apps/v1', 'Deployment', 'demo', 'hello')!.metadata.labels).toEqual({ 'tide.dev/managed': 'true' });
    expect((api.get('v1', 'Service', 'demo', 'hello')!['spec'] as Obj)['selector']).toBeUndefined();
  });

  it('the fake refuses an object Kubernetes would refuse (so the check above means something)', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad, namespace: default}\nspec: {template: {spec: {containers: []}}}\n');
    const r = await kubectl(['apply', '--server-side', '--validate=false', '-f', bad]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('spec.selector');
  });
});
