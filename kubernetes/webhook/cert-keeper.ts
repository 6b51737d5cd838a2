/**
 * Keeps the webhook's certificates in the Secret `tide-webhook-certs` and its CA in the MutatingWebhookConfiguration's
 * caBundle. Every replica runs it: writes carry the resourceVersion they read, and a replica that loses a race
 * (409 Conflict, or AlreadyExists on create) re-reads and serves what the winner wrote, so two replicas converge on
 * one certificate without a leader.
 */
import { KubeApiError, type KubeApi } from '../client.js';
import { renewBundle, type CertBundle } from './certs.js';

/** The calls the keeper makes (a subset of the backend's KubeApi). */
export type CertApi = Pick<KubeApi, 'get' | 'create' | 'replace' | 'patch'>;

export interface CertKeeperOptions {
  api: CertApi;
  namespace: string;
  secretName: string;
  webhookConfigName: string;
  /** The DNS names the serving certificate must carry. */
  dnsNames: readonly string[];
  /** Conflicts retried per call before giving up until the next check. */
  maxConflicts?: number;
}

interface SecretObject {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> };
  type?: string;
  data?: Record<string, string>;
}

interface WebhookConfig {
  metadata: { resourceVersion?: string };
  webhooks?: { name: string; clientConfig?: { caBundle?: string } }[];
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined): string => (s === undefined ? '' : Buffer.from(s, 'base64').toString('utf8'));

/** Secret keys: cert-manager's and kubernetes.io/tls names, so the Secret reads like any TLS Secret. */
const KEY = { caCert: 'ca.crt', caKey: 'ca.key', tlsCert: 'tls.crt', tlsKey: 'tls.key' } as const;

export function bundleFromSecret(s: SecretObject | undefined): CertBundle | undefined {
  const d = s?.data;
  if (!d) return undefined;
  const bundle = { caCert: unb64(d[KEY.caCert]), caKey: unb64(d[KEY.caKey]), tlsCert: unb64(d[KEY.tlsCert]), tlsKey: unb64(d[KEY.tlsKey]) };
  return Object.values(bundle).every((v) => v !== '') ? bundle : undefined;
}

export class CertKeeper {
  readonly #o: CertKeeperOptions;

  constructor(opts: CertKeeperOptions) {
    this.#o = opts;
  }

  get #secretPath(): string {
    return `/api/v1/namespaces/${this.#o.namespace}/secrets/${this.#o.secretName}`;
  }

  /**
   * Makes sure the Secret holds a sound bundle not due for renewal at `nowMs` (creating or renewing it, or taking
   * another replica's), and that the webhook configuration trusts its CA. Returns the bundle to serve.
   * Throws KubeApiError when the API server cannot be reached or refuses us; the caller keeps serving what it has.
   */
  async ensure(nowMs: number): Promise<CertBundle> {
    const bundle = await this.#ensureSecret(nowMs);
    await this.#ensureCaBundle(bundle.caCert);
    return bundle;
  }

  async #read(): Promise<SecretObject | undefined> {
    try {
      return await this.#o.api.get<SecretObject>(this.#secretPath);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async #ensureSecret(nowMs: number): Promise<CertBundle> {
    const max = this.#o.maxConflicts ?? 5;
    for (let attempt = 0; ; attempt++) {
      const secret = await this.#read();
      const current = bundleFromSecret(secret);
      const next = renewBundle(current, this.#o.dnsNames, nowMs);
      if (next === current) return current;
      const body: SecretObject = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: this.#o.secretName,
          namespace: this.#o.namespace,
          labels: { 'app.kubernetes.io/part-of': 'tide' },
          ...(secret?.metadata.resourceVersion === undefined ? {} : { resourceVersion: secret.metadata.resourceVersion }),
        },
        type: 'Opaque',
        data: { [KEY.caCert]: b64(next.caCert), [KEY.caKey]: b64(next.caKey), [KEY.tlsCert]: b64(next.tlsCert), [KEY.tlsKey]: b64(next.tlsKey) },
      };
      try {
        if (secret === undefined) await this.#o.api.create(`/api/v1/namespaces/${this.#o.namespace}/secrets`, body);
        else await this.#o.api.replace(this.#secretPath, body);
        return next;
      } catch (err) {
        // Another replica wrote first: read theirs on the next pass.
        if (err instanceof KubeApiError && err.status === 409 && attempt < max) continue;
        throw err;
      }
    }
  }

  /** Puts `caPem` into every webhook's caBundle (JSON Patch guarded by the resourceVersion read). */
  async #ensureCaBundle(caPem: string): Promise<void> {
    const path = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${this.#o.webhookConfigName}`;
    const want = b64(caPem);
    const max = this.#o.maxConflicts ?? 5;
    for (let attempt = 0; ; attempt++) {
      const config = await this.#o.api.get<WebhookConfig>(path);
      const webhooks = config.webhooks ?? [];
      const ops: unknown[] = [];
      webhooks.forEach((w, i) => {
        if (w.clientConfig?.caBundle === want) return;
        // `add` sets a member whether or not it exists (RFC 6902 §4.1).
        ops.push(w.clientConfig ? { op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: want } : { op: 'add', path: `/webhooks/${i}/clientConfig`, value: { caBundle: want } });
      });
      if (ops.length === 0) return;
      const guard = [
        { op: 'test', path: '/metadata/resourceVersion', value: config.metadata.resourceVersion ?? '' },
        ...webhooks.map((w, i) => ({ op: 'test', path: `/webhooks/${i}/name`, value: w.name })),
      ];
      try {
        await this.#o.api.patch(path, [...guard, ...ops], 'json');
        return;
      } catch (err) {
        // 409 Conflict, or 422 from a failed `test` (someone changed it since we read): read again.
        if (err instanceof KubeApiError && (err.status === 409 || err.status === 422) && attempt < max) continue;
        throw err;
      }
    }
  }
}
