/**
 * `tide webhook` over real HTTPS against the fake API server: certificates created in the Secret, the CA in the
 * caBundle (and the served certificate verified against that caBundle under the Service's DNS name), bad bodies,
 * rotation without a restart, CA rotation with overlap, and two replicas racing for the Secret.
 */
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { silentLogger } from '../../common/logger.js';
import { fromRoot } from '../../common/paths.js';
import { DEFAULT_IMAGE } from '../../kubernetes/inject/constants.js';
import { createKubeApi, loadKubeConfig } from '../../kubernetes/client.js';
import { CertKeeper, bundleFromSecret } from '../../kubernetes/webhook/cert-keeper.js';
import { CA_VALIDITY_MS, SERVING_VALIDITY_MS, pemBlocks, serviceDnsNames, validity } from '../../kubernetes/webhook/certs.js';
import { startWebhook, type RunningWebhook } from '../../kubernetes/webhook/main.js';
import { FakeClock } from '../support/fake-clock.js';
import { startFakeApiServer, type FakeApiServer, type KubeObject } from '../support/kube/fake-apiserver.js';

const SERVER_NAME = 'tide-webhook.tide-system.svc';
const DNS = serviceDnsNames('tide-webhook', 'tide-system');

interface Answer { status: number; body: string; serial: string }

/** One request on a fresh TLS connection, trusting only `ca` and checking the certificate for the Service's name. */
function call(port: number, ca: string, opts: { method?: string; path?: string; body?: string | Buffer; type?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, servername: SERVER_NAME, ca, agent: false, method: opts.method ?? 'POST', path: opts.path ?? '/mutate/namespace', headers: { 'content-type': opts.type ?? 'application/json' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, serial: (res.socket as unknown as { getPeerCertificate(): { serialNumber: string } }).getPeerCertificate().serialNumber }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const deploymentReview = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'abc',
    kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
    operation: 'CREATE',
    namespace: 'shop',
    object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'x', ports: [{ containerPort: 8080 }] }] } } } },
  },
});

describe('tide webhook over HTTPS', () => {
  let api: FakeApiServer;
  let dir: string;
  let clock: FakeClock;
  const running: RunningWebhook[] = [];

  const mwc = (): KubeObject => api.get('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', undefined, 'tide-webhook')!;
  const caBundles = (): string[] => ((mwc()['webhooks'] as { clientConfig: { caBundle?: string } }[]).map((w) => Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8')));
  const secret = (): KubeObject | undefined => api.get('v1', 'Secret', 'tide-system', 'tide-webhook-certs');

  function keeper(): CertKeeper {
    const { kc } = loadKubeConfig({ kind: 'kubeconfig', file: api.writeKubeconfig(dir) });
    return new CertKeeper({ api: createKubeApi(kc), namespace: 'tide-system', secretName: 'tide-webhook-certs', webhookConfigName: 'tide-webhook', dnsNames: DNS });
  }

  async function start(maxBodyBytes?: number): Promise<RunningWebhook> {
    const w = await startWebhook({
      host: '127.0.0.1',
      port: 0,
      certs: { kind: 'keeper', keeper: keeper() },
      admission: { image: DEFAULT_IMAGE, version: 'test-version' },
      clock,
      logger: process.env['DEBUG_WEBHOOK'] ? (await import('../../common/logger.js')).createLogger('t', 'debug') : silentLogger(),
      ...(maxBodyBytes === undefined ? {} : { maxBodyBytes }),
    });
    running.push(w);
    return w;
  }

  beforeEach(async () => {
    api = await startFakeApiServer({ namespaces: ['default', 'tide-system', 'shop'] });
    dir = mkdtempSync(join(tmpdir(), 'tide-webhook-'));
    // Clients verify certificates against the real clock, so the fake one starts in the past: early enough that
    // every renewal below still happens before now, late enough that the first certificate has not expired.
    clock = new FakeClock(Date.now() - 0.85 * SERVING_VALIDITY_MS);
    const config = parseAllDocuments(readFileSync(fromRoot('manifests', 'webhook.yaml'), 'utf8'))
      .map((d) => d.toJS() as KubeObject)
      .find((o) => o.kind === 'MutatingWebhookConfiguration')!;
    api.apply(config);
  });
  afterEach(async () => {
    for (const w of running.splice(0)) await w.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates its CA and certificate, trusts them in the caBundle, and answers reviews verified against that bundle', async () => {
    const w = await start();
    const bundle = bundleFromSecret(secret() as never)!;
    expect(bundle).toBeDefined();
    expect(caBundles()).toEqual([bundle.caCert, bundle.caCert]);
    const r = await call(w.server.port, caBundles()[0]!, { body: deploymentReview });
    expect(r.status).toBe(200);
    const response = (JSON.parse(r.body) as { response: { uid: string; allowed: boolean; patchType: string; patch: string } }).response;
    expect(response).toMatchObject({ uid: 'abc', allowed: true, patchType: 'JSONPatch' });
    const ops = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as { path: string; value?: { name?: string } }[];
    expect(ops.some((o) => o.path === '/spec/template/spec/containers/1' && o.value?.name === 'queue-proxy')).toBe(true);
    // A client that trusts another CA is refused: the chain really is the caBundle's.
    const { createCa } = await import('../../kubernetes/webhook/certs.js');
    await expect(call(w.server.port, createCa(clock.now()).cert, { body: deploymentReview })).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });

  it('bad requests get a clean 4xx and the server keeps serving', async () => {
    const w = await start(64 * 1024);
    const ca = caBundles()[0]!;
    const cases: { opts: Parameters<typeof call>[2]; status: number; body: RegExp }[] = [
      { opts: { body: '{"apiVersion":' }, status: 400, body: /^invalid JSON: / },
      { opts: { body: '{"apiVersion":"v1","kind":"Pod"}' }, status: 400, body: /expected apiVersion admission\.k8s\.io\/v1 and kind AdmissionReview/ },
      { opts: { body: deploymentReview, type: 'text/plain' }, status: 415, body: /expected Content-Type application\/json/ },
      { opts: { body: Buffer.alloc(200 * 1024, 0x20) }, status: 413, body: /request body over 65536 bytes/ },
      { opts: { body: deploymentReview, path: '/mutate/everything' }, status: 404, body: /no such path/ },
      { opts: { method: 'GET' }, status: 405, body: /use POST/ },
    ];
    for (const c of cases) {
      const r = await call(w.server.port, ca, c.opts);
      expect({ status: r.status, body: r.body }).toMatchObject({ status: c.status, body: expect.stringMatching(c.body) as unknown });
    }
    expect((await call(w.server.port, ca, { method: 'GET', path: '/healthz' })).status).toBe(200);
    expect((await call(w.server.port, ca, { body: deploymentReview })).status).toBe(200);
  });

  it('renews the serving certificate before it expires and serves it without a restart', async () => {
    const w = await start();
    const ca = caBundles()[0]!;
    const before = await call(w.server.port, ca, { method: 'GET', path: '/healthz' });
    const firstCert = bundleFromSecret(secret() as never)!.tlsCert;

    clock.advance(SERVING_VALIDITY_MS / 2); // half its life: nothing to do
    await w.check();
    expect((await call(w.server.port, ca, { method: 'GET', path: '/healthz' })).serial).toBe(before.serial);

    clock.advance(SERVING_VALIDITY_MS * 0.2); // 70%: under a third left
    await w.check();
    const after = await call(w.server.port, ca, { method: 'GET', path: '/healthz' });
    expect(after.status).toBe(200);
    expect(after.serial).not.toBe(before.serial);
    const renewed = bundleFromSecret(secret() as never)!;
    expect(renewed.tlsCert).not.toBe(firstCert);
    expect(renewed.caCert).toBe(ca); // same CA: the caBundle did not need to change
    expect(Math.abs(validity(renewed.tlsCert).notAfterMs - (clock.now() + SERVING_VALIDITY_MS))).toBeLessThan(1000); // X.509 keeps whole seconds
  });

  it('renews the CA with an overlap: the caBundle trusts both until the old one expires', async () => {
    clock = new FakeClock(Date.now() - 0.75 * CA_VALIDITY_MS);
    const w = await start();
    const oldCa = caBundles()[0]!;
    const oldServing = bundleFromSecret(secret() as never)!;
    clock.advance(CA_VALIDITY_MS * 0.7);
    await w.check();
    const bundle = caBundles()[0]!;
    expect(pemBlocks(bundle)).toHaveLength(2);
    expect(pemBlocks(bundle)[1]).toBe(oldCa);
    // The new certificate verifies against the new bundle, and so would a replica still serving the old one.
    expect((await call(w.server.port, bundle, { method: 'GET', path: '/healthz' })).status).toBe(200);
    const { X509Certificate } = await import('node:crypto');
    const old = new X509Certificate(oldServing.tlsCert);
    expect(pemBlocks(bundle).some((pem) => old.checkIssued(new X509Certificate(pem)) && old.verify(new X509Certificate(pem).publicKey))).toBe(true);
  });

  it('two replicas starting together end up serving one certificate (one create wins, the other reads it)', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    const ca = caBundles()[0]!;
    const [ra, rb] = await Promise.all([call(a.server.port, ca, { method: 'GET', path: '/healthz' }), call(b.server.port, ca, { method: 'GET', path: '/healthz' })]);
    expect(ra.serial).toBe(rb.serial);
    const creates = api.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/secrets'));
    expect(creates.map((r) => r.status).sort()).toEqual([201, 409]);
  });

  it('a conflicting write during renewal is retried from a fresh read', async () => {
    const w = await start();
    const ca = caBundles()[0]!;
    const before = (await call(w.server.port, ca, { method: 'GET', path: '/healthz' })).serial;
    clock.advance(SERVING_VALIDITY_MS * 0.8);
    api.faults.conflictNextUpdates(1);
    await w.check();
    expect((await call(w.server.port, ca, { method: 'GET', path: '/healthz' })).serial).not.toBe(before);
    expect(api.requests.filter((r) => r.method === 'PUT' && r.path.endsWith('/tide-webhook-certs')).map((r) => r.status)).toEqual([409, 200]);
  });

  it('keeps serving its certificate while the API server is down, and renews once it is back', async () => {
    const w = await start();
    const ca = caBundles()[0]!;
    const before = (await call(w.server.port, ca, { method: 'GET', path: '/healthz' })).serial;
    clock.advance(SERVING_VALIDITY_MS * 0.8);
    api.faults.setDown(true);
    await w.check();
    expect((await call(w.server.port, ca, { body: deploymentReview })).serial).toBe(before);
    api.faults.setDown(false);
    await w.check();
    expect((await call(w.server.port, ca, { method: 'GET', path: '/healthz' })).serial).not.toBe(before);
  });
});
