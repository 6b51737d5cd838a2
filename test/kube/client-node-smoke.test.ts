/**
 * Smoke test of @kubernetes/client-node 2.x on this Node: a kubeconfig is loaded (current context, cluster, user,
 * namespace) and a typed API call reaches a local server with the user's bearer token and decodes its answer. The
 * Kubernetes backend's own tests drive the same client against the fake API server over HTTPS.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

/** A kubeconfig; `skipTls` is needed for a plain-http server (client-node 2 refuses http otherwise). */
function kubeconfigText(server: string, skipTls = false): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: { server: "${server}"${skipTls ? ', insecure-skip-tls-verify: true' : ''} }
users:
- name: dev
  user: { token: smoke-token }
contexts:
- name: other
  context: { cluster: local, user: dev, namespace: elsewhere }
- name: dev@local
  context: { cluster: local, user: dev, namespace: team-a }
current-context: dev@local
`;
}

describe('@kubernetes/client-node 2.x', () => {
  it('loads a kubeconfig and makes an authenticated typed call', async () => {
    const seen: { url: string | undefined; headers: IncomingHttpHeaders }[] = [];
    const server = createServer((req, res) => {
      seen.push({ url: req.url, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '7' }, items: [{ metadata: { name: 'hello-1', namespace: 'team-a' } }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => server.close());
    const { port } = server.address() as AddressInfo;

    const kc = new KubeConfig();
    kc.loadFromString(kubeconfigText(`http://127.0.0.1:${port}`, true));
    expect(kc.getCurrentContext()).toBe('dev@local');
    expect(kc.getCurrentCluster()?.server).toBe(`http://127.0.0.1:${port}`);
    expect(kc.getCurrentUser()?.name).toBe('dev');
    expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe('team-a');

    const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'team-a', labelSelector: 'tide.dev/managed=true' });
    expect(pods.items.map((p) => p.metadata?.name)).toEqual(['hello-1']);
    expect(pods.metadata?.resourceVersion).toBe('7');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe('/api/v1/namespaces/team-a/pods?labelSelector=tide.dev%2Fmanaged%3Dtrue');
    expect(seen[0]!.headers.authorization).toBe('Bearer smoke-token');
  });

  it('refuses a plain-http API server unless TLS verification is explicitly skipped', async () => {
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfigText('http://127.0.0.1:1'));
    await expect(kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'team-a' })).rejects.toThrow(/HTTP protocol is not allowed/);
  });

  it('switches context', () => {
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfigText('https://127.0.0.1:6443'));
    kc.setCurrentContext('other');
    expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe('elsewhere');
  });
});
