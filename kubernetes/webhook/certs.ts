/**
 * The webhook's own PKI: a CA and a serving certificate for the webhook Service's DNS names, made with node-forge
 * (RSA keys from node:crypto), and the rotation rule. Time comes in as `nowMs`; nothing here touches the network.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/** What the Secret `tide-webhook-certs` holds (PEM text). */
export interface CertBundle {
  /** The CA certificates the API server trusts: the current CA first, then a previous one still valid (rotation overlap). */
  caCert: string;
  caKey: string;
  /** The serving certificate and its key. */
  tlsCert: string;
  tlsKey: string;
}

export const CA_VALIDITY_MS = 10 * 365 * 24 * 3600_000;
export const SERVING_VALIDITY_MS = 365 * 24 * 3600_000;
/** Certificates are renewed once less than this share of their validity is left (a third: 4 months of 12). */
export const RENEW_WHEN_LEFT = 1 / 3;
/** notBefore is set this far in the past, for clocks that run behind. */
const CLOCK_SKEW_MS = 3600_000;

/** The DNS names the API server uses to reach `service` in `namespace`. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

function newKeys(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const key = forge.pki.privateKeyFromPem(privateKey);
  return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e), pem: privateKey };
}

function serial(): string {
  // Positive (high bit clear) 16-byte serial, as RFC 5280 asks.
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

/** A self-signed CA, valid for CA_VALIDITY_MS from `nowMs`. */
export function createCa(nowMs: number, commonName = 'tide-webhook-ca'): { cert: string; key: string } {
  const keys = newKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(nowMs - CLOCK_SKEW_MS);
  cert.validity.notAfter = new Date(nowMs + CA_VALIDITY_MS);
  const subject = [{ name: 'commonName', value: commonName }, { name: 'organizationName', value: 'tide' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.pem };
}

/** A serving certificate for `dnsNames`, signed by the CA, valid for SERVING_VALIDITY_MS (never past the CA). */
export function issueServingCert(ca: { cert: string; key: string }, dnsNames: readonly string[], nowMs: number): { cert: string; key: string } {
  const caCert = forge.pki.certificateFromPem(firstPem(ca.cert));
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const keys = newKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(nowMs - CLOCK_SKEW_MS);
  cert.validity.notAfter = new Date(Math.min(nowMs + SERVING_VALIDITY_MS, caCert.validity.notAfter.getTime()));
  cert.setSubject([{ name: 'commonName', value: dnsNames[0] ?? 'tide-webhook' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: dnsNames.map((value) => ({ type: 2, value })) },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.pem };
}

/** The PEM blocks in `text`, in order. */
export function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\r?\n?/g)?.map((b) => b.trimEnd() + '\n') ?? [];
}

function firstPem(text: string): string {
  const first = pemBlocks(text)[0];
  if (first === undefined) throw new Error('no PEM certificate found');
  return first;
}

/** notBefore and notAfter of the first certificate in `pem`, in ms. Throws on text that is not a certificate. */
export function validity(pem: string): { notBeforeMs: number; notAfterMs: number } {
  const c = forge.pki.certificateFromPem(firstPem(pem));
  return { notBeforeMs: c.validity.notBefore.getTime(), notAfterMs: c.validity.notAfter.getTime() };
}

/** True when less than RENEW_WHEN_LEFT of the certificate's validity remains at `nowMs` (or it is not yet valid). */
export function needsRenewal(pem: string, nowMs: number): boolean {
  const v = validity(pem);
  return nowMs < v.notBeforeMs || v.notAfterMs - nowMs < (v.notAfterMs - v.notBeforeMs) * RENEW_WHEN_LEFT;
}

/** True when the serving certificate was signed by the CA's key and names every DNS name. */
export function servingCertMatches(bundle: CertBundle, dnsNames: readonly string[]): boolean {
  try {
    const ca = forge.pki.certificateFromPem(firstPem(bundle.caCert));
    const cert = forge.pki.certificateFromPem(firstPem(bundle.tlsCert));
    if (!ca.verify(cert)) return false;
    const san = cert.getExtension('subjectAltName') as { altNames?: { value: string }[] } | null;
    const names = new Set((san?.altNames ?? []).map((a) => a.value));
    const caKey = forge.pki.privateKeyFromPem(bundle.caKey);
    const caPub = ca.publicKey as forge.pki.rsa.PublicKey;
    return dnsNames.every((n) => names.has(n)) && caKey.n.equals(caPub.n);
  } catch {
    return false;
  }
}

/**
 * The bundle to serve at `nowMs`: `current` if it is sound and not due for renewal, else a renewed one. A CA due for
 * renewal is replaced, and the old CA stays in `caCert` after the new one until it expires, so API servers that
 * still hold the old caBundle keep trusting whichever certificate a replica serves during the switch.
 * Returns `current` itself (same object) when nothing changes.
 */
export function renewBundle(current: CertBundle | undefined, dnsNames: readonly string[], nowMs: number): CertBundle {
  let caCert: string;
  let caKey: string;
  let caChanged = false;
  const currentCaOk = current !== undefined && pemBlocks(current.caCert).length > 0 && safe(() => !needsRenewal(current.caCert, nowMs));
  if (current && currentCaOk) {
    caCert = current.caCert;
    caKey = current.caKey;
  } else {
    const ca = createCa(nowMs);
    const stillValid = current ? pemBlocks(current.caCert).filter((b) => safe(() => validity(b).notAfterMs > nowMs)).slice(0, 1) : [];
    caCert = [ca.cert, ...stillValid].join('');
    caKey = ca.key;
    caChanged = true;
  }
  const keep =
    current !== undefined &&
    !caChanged &&
    servingCertMatches(current, dnsNames) &&
    safe(() => !needsRenewal(current.tlsCert, nowMs));
  if (keep) return current;
  const serving = issueServingCert({ cert: caCert, key: caKey }, dnsNames, nowMs);
  // The old CA drops out of the bundle once it has expired.
  const cas = pemBlocks(caCert).filter((b, i) => i === 0 || safe(() => validity(b).notAfterMs > nowMs)).join('');
  return { caCert: cas, caKey, tlsCert: serving.cert, tlsKey: serving.key };
}

function safe(f: () => boolean): boolean {
  try {
    return f();
  } catch {
    return false;
  }
}
