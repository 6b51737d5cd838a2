/**
 * The webhook's HTTPS server: `POST /mutate/namespace` and `/mutate/annotated` (one per MutatingWebhookConfiguration
 * entry) answer AdmissionReviews through admission.ts (and services.ts for Services); `GET /healthz` for the kubelet. Bodies are bounded, every bad
 * request gets a plain 4xx, and a new certificate is served without a restart (`setSecureContext`).
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../common/logger.js';
import { admit, type AdmissionOptions, type Scope } from './admission.js';
import type { ServicePreparer } from './services.js';

/** Larger than any AdmissionReview the API server sends (objects are capped at 1.5 MiB, and a review holds two). */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface WebhookServerOptions {
  host: string;
  /** 0 = any free port. */
  port: number;
  tls: { cert: string; key: string };
  admission: AdmissionOptions;
  logger: Logger;
  maxBodyBytes?: number;
  /** Prepares Services through the API (services.ts); without it Services are admitted unchanged. */
  services?: ServicePreparer;
}

export interface WebhookServer {
  readonly port: number;
  /** Serves `tls` to every new connection from now on; open connections keep theirs. */
  setCertificate(tls: { cert: string; key: string }): void;
  close(): Promise<void>;
}

const PATHS: Readonly<Record<string, Scope>> = { '/mutate/namespace': 'namespace', '/mutate/annotated': 'annotated' };

export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = opts.logger;
  const server: Server = createServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, 'webhook handler failed');
      if (!res.headersSent) send(res, 500, 'internal error');
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.on('clientError', (_err, socket) => socket.destroy());

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/healthz') {
      send(res, req.method === 'GET' || req.method === 'HEAD' ? 200 : 405, 'ok');
      return;
    }
    const scope = PATHS[path];
    if (scope === undefined) return send(res, 404, `no such path ${JSON.stringify(path)}; use /mutate/namespace or /mutate/annotated`);
    if (req.method !== 'POST') return send(res, 405, 'use POST');
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') return send(res, 415, `expected Content-Type application/json, got ${JSON.stringify(req.headers['content-type'] ?? '')}`);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBody) return tooLarge(req, res);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxBody) return tooLarge(req, res);
      chunks.push(chunk as Buffer);
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (err) {
      return send(res, 400, `invalid JSON: ${(err as Error).message}`);
    }
    const answer = await admit(body, scope, opts.admission, opts.services);
    if (answer.status === 400) return send(res, 400, answer.message);
    const response = answer.body['response'] as { uid: string; patch?: string; warnings?: string[] };
    log.info({ uid: response.uid, scope, patched: response.patch !== undefined, warnings: response.warnings }, 'admission review');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer.body));
  }

  function tooLarge(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('connection', 'close');
    send(res, 413, `request body over ${maxBody} bytes`);
    // Stop reading the rest; the response is already on its way.
    req.unpipe();
    res.on('finish', () => req.destroy());
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    setCertificate(tls) {
      server.setSecureContext({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text + '\n');
}
