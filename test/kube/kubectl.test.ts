/**
 * The fake API server held to a real client it was not written with: kubectl 1.32. CI installs kubectl where it is
 * missing; here a missing kubectl fails the suite with a message saying so, rather than skipping it.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeApiServer, type FakeApiServer } from '../support/kube/fake-apiserver.js';

const run = promisify(execFile);
/** $KUBECTL, else the first kubectl on PATH. */
const KUBECTL =
  process.env['KUBECTL'] ??
  (process.env['PATH'] ?? '')
    .split(delimiter)
    .map((d) => join(d, 'kubectl'))
    .find((p) => existsSync(p));
const EXAMPLE = fileURLToPath(new URL('../support/kube/example-app.yaml', import.meta.url));

let api: FakeApiServer;
let dir: string;
let kubeconfig: string;

/** Every test fails with this when kubectl is missing: the suite is never skipped. */
function kubectlPath(): string {
  if (!KUBECTL || !existsSync(KUBECTL)) throw new Error("kubectl not found on PATH: install kubectl 1.32 (.ci/run installs Debian's kubernetes-client) or set KUBECTL");
  return KUBECTL;
}

async function kubectl(...args: string[]): Promise<string> {
  const bin = kubectlPath();
  try {
    const { stdout } = await run(bin, ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args], { timeout: 15_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`kubectl ${args.join(' ')} failed: ${e.stderr ?? e.message}\nrequests:\n${api.requests.slice(-15).map((r) => `${r.method} ${r.path}?${r.query.toString()} -> ${r.status}`).join('\n')}`, { cause: err });
  }
}

beforeAll(async () => {
  api = await startFakeApiServer({ namespaces: ['default', 'other'] });
  dir = mkdtempSync(join(tmpdir(), 'tide-kubectl-'));
  kubeconfig = api.writeKubeconfig(dir);
  api.apply({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'existing', namespace: 'other', labels: { app: 'existing' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'existing' } },
      template: { metadata: { labels: { app: 'existing' } }, spec: { containers: [{ name: 'c', image: 'x' }] } },
    },
  });
  api.apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1', namespace: 'default', labels: { app: 'p' } }, spec: { containers: [{ name: 'c', image: 'x' }] } });
});

afterAll(async () => {
  await api?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('kubectl 1.32 against the fake API server', () => {
  it('prints its client version (the machine has the kubectl this suite is written for)', async () => {
    const { stdout } = await run(kubectlPath(), ['version', '--client', '-o', 'json'], { timeout: 15_000 });
    const { gitVersion, minor } = (JSON.parse(stdout) as { clientVersion: { gitVersion: string; minor: string } }).clientVersion;
    expect(Number.parseInt(minor, 10), `this suite is written for kubectl 1.32 or newer; ${kubectlPath()} is ${gitVersion}`).toBeGreaterThanOrEqual(32);
  });

  it('kubectl get deployments -A', async () => {
    const out = await kubectl('get', 'deployments', '-A');
    expect(out).toMatch(/NAMESPACE\s+NAME/);
    expect(out).toMatch(/other\s+existing/);
  });

  it('kubectl get pods -n default -o json', async () => {
    const list = JSON.parse(await kubectl('get', 'pods', '-n', 'default', '-o', 'json')) as { items: { metadata: { name: string } }[] };
    expect(list.items.map((p) => p.metadata.name)).toEqual(['p1']);
  });

  it('kubectl scale writes spec.replicas through /scale', async () => {
    const out = await kubectl('scale', 'deployment/existing', '-n', 'other', '--replicas=3');
    expect(out).toContain('scaled');
    expect(api.get('apps/v1', 'Deployment', 'other', 'existing')?.['spec']).toMatchObject({ replicas: 3 });
    expect(api.requests.some((r) => r.method === 'PATCH' && r.path === '/apis/apps/v1/namespaces/other/deployments/existing/scale')).toBe(true);
  });

  it('kubectl apply --server-side --dry-run=server of an example Deployment and Service stores nothing', async () => {
    const out = await kubectl('apply', '--server-side', '--dry-run=server', '-f', EXAMPLE);
    expect(out).toContain('deployment.apps/hello serverside-applied (server dry run)');
    expect(out).toContain('service/hello serverside-applied (server dry run)');
    expect(api.get('apps/v1', 'Deployment', 'default', 'hello')).toBeUndefined();
    const applies = api.requests.filter((r) => r.contentType === 'application/apply-patch+yaml');
    expect(applies.map((r) => [r.path, r.query.get('dryRun'), r.status])).toEqual([
      ['/apis/apps/v1/namespaces/default/deployments/hello', 'All', 201],
      ['/api/v1/namespaces/default/services/hello', 'All', 201],
    ]);
    // kubectl found fieldValidation in the fake's OpenAPI v3 and left validation to the server.
    expect(applies.every((r) => r.query.get('fieldValidation') === 'Strict' && r.query.get('fieldManager') === 'kubectl')).toBe(true);
  });
});
