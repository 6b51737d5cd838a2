/** `tide webhook` as users run it: flags, and the cert-manager mode (`--cert-dir`) end to end, including reload. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../common/logger.js';
import { systemClock } from '../../common/clock.js';
import { DEFAULT_IMAGE } from '../../kubernetes/inject/constants.js';
import { createCa, issueServingCert } from '../../kubernetes/webhook/certs.js';
import { startWebhook } from '../../kubernetes/webhook/main.js';
import { TIDE_BIN, runTide } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tide-webhook-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ca = createCa(Date.now());
function writeCerts(folder: string): void {
  const serving = issueServingCert(ca, ['localhost'], Date.now());
  writeFileSync(join(folder, 'tls.crt'), serving.cert);
  writeFileSync(join(folder, 'tls.key'), serving.key);
}

function get(port: number, path: string): Promise<{ status: number; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.cert, agent: false, path }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, serial: (res.socket as unknown as { getPeerCertificate(): { serialNumber: string } }).getPeerCertificate().serialNumber }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('tide webhook CLI', () => {
  it.each([
    { args: ['webhook', '--bogus'], want: "Unknown option '--bogus'" },
    { args: ['webhook', '--port', 'x'], want: '--port must be a port number in [0, 65535], got "x"' },
    { args: ['webhook', '--secret', 'Not_A_Name'], want: '--secret: not a Kubernetes object name: "Not_A_Name"' },
    { args: ['webhook', '--image', ''], want: '--image: expected an image reference, got ""' },
    { args: ['webhook', '--system-namespace', 'NO'], want: '--system-namespace: not a namespace name: "NO"' },
  ])('bad flags exit 2: $args', async ({ args, want }) => {
    const r = await runTide(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(want);
  });

  it('with no cluster to reach it says so in one line and exits 1', async () => {
    const r = await runTide(['webhook', '--kubeconfig', join(dir, 'missing-kubeconfig')], { env: { KUBERNETES_SERVICE_HOST: '' } });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^tide webhook: /);
  });

  it('--cert-dir serves the files it is given, and exits 0 on SIGTERM', async () => {
    const certs = join(dir, 'certs');
    rmSync(certs, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(certs);
    writeCerts(certs);
    const child = spawn(process.execPath, [TIDE_BIN, 'webhook', '--cert-dir', certs, '--port', '0', '--host', '127.0.0.1'], { env: { ...process.env, TIDE_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let err = '';
        child.stderr.setEncoding('utf8').on('data', (d: string) => {
          err += d;
          const m = /"port":(\d+)[^\n]*webhook listening/.exec(err);
          if (m) resolve(Number(m[1]));
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      expect((await get(port, '/healthz')).status).toBe(200);
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('--cert-dir: new files are served after the next check, without a restart', async () => {
    const certs = join(dir, 'reload');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(certs);
    writeCerts(certs);
    const w = await startWebhook({ host: '127.0.0.1', port: 0, certs: { kind: 'files', dir: certs }, admission: { image: DEFAULT_IMAGE, version: 'x' }, clock: systemClock, logger: silentLogger() });
    try {
      const before = await get(w.server.port, '/healthz');
      writeCerts(certs);
      await w.check();
      const after = await get(w.server.port, '/healthz');
      expect(after.status).toBe(200);
      expect(after.serial).not.toBe(before.serial);
    } finally {
      await w.close();
    }
  });
});
