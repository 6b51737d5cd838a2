/**
 * kubernetes/client.ts over the fake API server: API calls reuse their TLS connections (client-node alone opens a new
 * one per call), every call still carries the credentials, and a changed TLS identity gets a new connection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { createKubeApi, loadKubeConfig } from '../../kubernetes/client.js';
import { startFakeApiServer, type FakeApiServer } from '../support/kube/fake-apiserver.js';

let fake: FakeApiServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await fake?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  fake = undefined;
  dir = undefined;
});

describe('createKubeApi: connections', () => {
  it('30 calls one after another over a kubeconfig: at most two TLS connections (undici may open a second while the first is being released), the bearer token on every call', async () => {
    fake = await startFakeApiServer();
    dir = mkdtempSync(join(tmpdir(), 'tide-client-'));
    const { kc } = loadKubeConfig({ kind: 'kubeconfig', file: fake.writeKubeconfig(dir) });
    const api = createKubeApi(kc);
    const before = fake.connections;
    for (let i = 0; i < 30; i++) await api.get('/api/v1/namespaces/default');
    expect(fake.connections - before).toBeLessThanOrEqual(2);
    const calls = fake.requests.filter((r) => r.path === '/api/v1/namespaces/default');
    expect(calls).toHaveLength(30);
    expect(calls.every((r) => r.status === 200 && r.user !== undefined)).toBe(true);
  });

  it('in-cluster (token file, CA file): 10 parallel calls then 20 more open at most 10 connections', async () => {
    fake = await startFakeApiServer({ namespaces: ['apps'] });
    dir = mkdtempSync(join(tmpdir(), 'tide-client-'));
    const files = fake.inClusterFiles(dir, 'apps');
    const env = fake.inClusterEnv();
    const { kc } = loadKubeConfig({ kind: 'in-cluster', host: env.KUBERNETES_SERVICE_HOST, port: env.KUBERNETES_SERVICE_PORT, ...files });
    const api = createKubeApi(kc);
    const before = fake.connections;
    await Promise.all(Array.from({ length: 10 }, () => api.get('/api/v1/namespaces/apps')));
    for (let i = 0; i < 20; i++) await api.get('/api/v1/namespaces/apps');
    expect(fake.connections - before).toBeLessThanOrEqual(10);
    expect(fake.requests.filter((r) => r.path === '/api/v1/namespaces/apps' && r.status === 200 && r.user !== undefined)).toHaveLength(30);
  });

  it('a changed TLS identity (here: the CA dropped for skip-verify) gets a new connection; both work', async () => {
    fake = await startFakeApiServer();
    const kc = new KubeConfig();
    kc.loadFromString(fake.kubeconfig());
    const api = createKubeApi(kc);
    const before = fake.connections;
    const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 50)); // lets undici release the connection
    await api.get('/api/v1/namespaces/default');
    await pause();
    await api.get('/api/v1/namespaces/default');
    expect(fake.connections - before).toBe(1);
    const { caData: _ca, ...cluster } = kc.getCurrentCluster()!;
    kc.clusters = [{ ...cluster, skipTLSVerify: true }];
    await api.get('/api/v1/namespaces/default');
    await pause();
    await api.get('/api/v1/namespaces/default');
    expect(fake.connections - before).toBe(2);
  });
});
