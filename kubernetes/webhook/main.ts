/**
 * `tide webhook` wired: certificates from the CertKeeper (own CA, Secret, caBundle) or from files that cert-manager
 * keeps, checked on a clock, the HTTPS server that serves whatever is current, and Service preparation (services.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, Cancel } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import type { AdmissionOptions } from './admission.js';
import type { CertKeeper } from './cert-keeper.js';
import { ServicePreparer, type ServiceApi } from './services.js';
import { startWebhookServer, type WebhookServer } from './server.js';

/** How often the certificates are checked (renewal itself happens when a third of their validity is left). */
export const CHECK_INTERVAL_MS = 3600_000;
/** How often a replica that could not get certificates at start tries again. */
export const START_RETRY_MS = 5_000;

export type CertSource =
  | { kind: 'keeper'; keeper: Pick<CertKeeper, 'ensure'> }
  /** cert-manager (or any tool) writes tls.crt and tls.key into `dir` (a mounted Secret). */
  | { kind: 'files'; dir: string };

export interface WebhookRunOptions {
  host: string;
  port: number;
  certs: CertSource;
  admission: AdmissionOptions;
  clock: Clock;
  logger: Logger;
  maxBodyBytes?: number;
  checkIntervalMs?: number;
  /**
   * The API for preparing Services (Deployments list, Services list and patch); without it Services are admitted
   * unchanged. `lookupTimeoutMs`, `retryDelayMs`, `maxAttempts`: see ServicePreparerOptions.
   */
  services?: { api: ServiceApi; lookupTimeoutMs?: number; retryDelayMs?: number; maxAttempts?: number };
}

export interface RunningWebhook {
  readonly server: WebhookServer;
  /** Service preparation, when the webhook has an API (`idle()` waits for the background work). */
  readonly services: ServicePreparer | undefined;
  /** Runs one certificate check now (what the interval timer does); resolves when any new certificate is served. */
  check(): Promise<void>;
  close(): Promise<void>;
}

async function load(source: CertSource, nowMs: number): Promise<{ cert: string; key: string }> {
  if (source.kind === 'files') {
    const [cert, key] = await Promise.all([readFile(join(source.dir, 'tls.crt'), 'utf8'), readFile(join(source.dir, 'tls.key'), 'utf8')]);
    return { cert, key };
  }
  const b = await source.keeper.ensure(nowMs);
  return { cert: b.tlsCert, key: b.tlsKey };
}

/**
 * Gets certificates (retrying every START_RETRY_MS until it can: the pod is not ready meanwhile), starts the server,
 * and re-checks every CHECK_INTERVAL_MS. A failed check is logged and the current certificate stays in use.
 */
export async function startWebhook(opts: WebhookRunOptions): Promise<RunningWebhook> {
  const log = opts.logger;
  let tls: { cert: string; key: string } | undefined;
  for (;;) {
    try {
      tls = await load(opts.certs, opts.clock.now());
      break;
    } catch (err) {
      log.warn({ err: String(err) }, `cannot get the serving certificate yet; retrying in ${START_RETRY_MS / 1000} s`);
      await new Promise<void>((resolve) => opts.clock.setTimeout(resolve, START_RETRY_MS));
    }
  }
  const services = opts.services === undefined ? undefined : new ServicePreparer({ ...opts.services, clock: opts.clock, logger: log });
  const server = await startWebhookServer({
    host: opts.host,
    port: opts.port,
    tls,
    admission: opts.admission,
    logger: log,
    ...(services === undefined ? {} : { services }),
    ...(opts.maxBodyBytes === undefined ? {} : { maxBodyBytes: opts.maxBodyBytes }),
  });
  log.info({ port: server.port, certs: opts.certs.kind }, 'webhook listening');

  let served = tls;
  let inFlight: Promise<void> | undefined;
  const runCheck = async (): Promise<void> => {
    try {
      const next = await load(opts.certs, opts.clock.now());
      if (next.cert !== served.cert || next.key !== served.key) {
        server.setCertificate(next);
        served = next;
        log.info('serving a new certificate');
      }
    } catch (err) {
      log.warn({ err: String(err) }, 'certificate check failed; keeping the current certificate');
    }
  };
  /** A fresh check at the current time, after any that is under way (a tick finding one under way skips). */
  const check = async (): Promise<void> => {
    while (inFlight) await inFlight;
    inFlight = runCheck().finally(() => (inFlight = undefined));
    return inFlight;
  };
  const cancel: Cancel = opts.clock.setInterval(() => {
    if (!inFlight) void check();
  }, opts.checkIntervalMs ?? CHECK_INTERVAL_MS);
  return {
    server,
    services,
    check,
    async close() {
      cancel();
      await inFlight;
      await server.close();
      await services?.close();
    },
  };
}
