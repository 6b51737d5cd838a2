/**
 * `tide autoscaler --backend kubernetes` and `tide activator --backend kubernetes` from the command line: one clear
 * error line and a non-zero exit when the API server is missing or unreachable; a running autoscaler against the fake
 * API server; and the in-cluster configuration (service-account token, CA, namespace) through client-node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectKube, connectionFromEnv, paths } from '../../kubernetes/client.js';
import { runTide, TIDE_BIN } from '../support/cli.js';
import { startFakeApiServer, type FakeApiServer } from '../support/kube/fake-apiserver.js';

let fake: FakeApiServer;
let dir: string;
const children: ChildProcess[] = [];
beforeAll(async () => {
  fake = await startFakeApiServer({ namespaces: ['default', 'tide-system'] });
  dir = mkdtempSync(join(tmpdir(), 'tide-kube-cli-'));
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A kubeconfig naming a port nobody listens on. */
async function deadKubeconfig(): Promise<string> {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const text = fake.kubeconfig().replace(new URL(fake.url).port, String(port));
  const file = join(dir, `dead-${port}`);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(file, text);
  return file;
}

describe('tide autoscaler|activator --backend kubernetes (CLI)', () => {
  it.each(['autoscaler', 'activator'])('%s: an unreachable API server is one error line naming it, exit 1, no stack', async (cmd) => {
    const kubeconfig = await deadKubeconfig();
    const r = await runTide([cmd, '--backend', 'kubernetes', '--kubeconfig', kubeconfig], { timeoutMs: 40_000 });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^tide ${cmd}: GET /version: cannot reach the API server at https://127\\.0\\.0\\.1:\\d+ \\(ECONNREFUSED\\)$`));
  });

  it.each([
    { args: ['autoscaler', '--backend', 'local', '--namespace', 'x'], want: '--namespace needs --backend kubernetes' },
    { args: ['autoscaler', '--backend', 'kubernetes', '--namespace', 'Bad_NS'], want: '--namespace: not a namespace name' },
    { args: ['activator', '--backend', 'kubernetes', '--config', 'x.yaml'], want: '--config is for the static backend' },
    { args: ['activator', '--backend', 'nomad'], want: '--backend: expected static or kubernetes' },
    { args: ['activator', '--backend', 'kubernetes', '--system-namespace', 'Tide_System'], want: '--system-namespace: not a namespace name' },
  ])('bad flags $args exit 2 naming the flag', async ({ args, want }) => {
    const r = await runTide(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(want);
  });

  it('the autoscaler runs against the API server, takes the Lease and serves informer health on /metrics; SIGTERM exits 0', async () => {
    const kubeconfig = fake.writeKubeconfig(dir);
    const child = spawn(process.execPath, [TIDE_BIN, 'autoscaler', '--backend', 'kubernetes', '--kubeconfig', kubeconfig, '--host', '127.0.0.1', '--stats-port', '0', '--http-port', '0'], {
      env: { ...process.env, TIDE_LOG_LEVEL: 'warn', POD_NAME: 'autoscaler-cli-0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no metrics URL in: ${out}`)), 20_000);
      child.stdout.on('data', () => {
        const m = /metrics:\s+(http:\S+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
    });
    expect(out).toContain('kubernetes backend');
    let text = '';
    for (let i = 0; i < 100 && !/^tide_kube_leader 1$/m.test(text); i++) {
      await new Promise((x) => setTimeout(x, 100));
      text = await (await fetch(url)).text();
    }
    expect(text).toMatch(/tide_kube_informer_synced\{informer="deployments"\} 1/);
    expect(text).toMatch(/^tide_kube_leader 1$/m);
    const leases = fake.list('coordination.k8s.io/v1', 'Lease');
    expect(leases.map((l) => [l.metadata.namespace, l.metadata.name, (l['spec'] as { holderIdentity?: string }).holderIdentity])).toEqual([['tide-system', 'tide-autoscaler', 'autoscaler-cli-0']]);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
  }, 40_000);
});

describe('in-cluster configuration', () => {
  it('reads the service account token, CA and namespace and talks to the API server with them', async () => {
    const files = fake.inClusterFiles(dir, 'apps');
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: new URL(fake.url).port };
    const conn = connectionFromEnv(env, {});
    expect(conn.kind).toBe('in-cluster');
    const { api, namespace } = await connectKube({ ...(conn as Extract<typeof conn, { kind: 'in-cluster' }>), ...files });
    expect(namespace).toBe('apps');
    const before = fake.requests.length;
    const list = await api.list(paths.deployments('default'));
    expect(list.items).toEqual([]);
    expect(fake.requests.slice(before).every((r) => r.user === fake.token)).toBe(true);
  });

  it('a kubeconfig wins over in-cluster settings when given, and an unknown context is one clear error', async () => {
    const file = fake.writeKubeconfig(dir);
    expect(connectionFromEnv({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, { kubeconfig: file }).kind).toBe('kubeconfig');
    await expect(connectKube({ kind: 'kubeconfig', file, context: 'nope' })).rejects.toThrow('context "nope" is not in the kubeconfig');
  });
});
