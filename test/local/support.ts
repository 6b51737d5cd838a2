/** Shared helpers for local-backend tests: a fake app + fake queue-proxy replica, waits, and process checks. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareLaunch } from '../../local/launch.js';
import type { ReplicaLaunch } from '../../local/process/replica.js';
import type { ServiceDecl } from '../../local/tide-file.js';

export const FAKE_APP = fileURLToPath(new URL('./fixtures/fake-app.mjs', import.meta.url));
export const FAKE_QP = fileURLToPath(new URL('./fixtures/fake-queue-proxy.mjs', import.meta.url));

export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tide-local-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function fakeService(over: Partial<ServiceDecl> = {}): ServiceDecl {
  return {
    name: 'fake',
    command: 'node',
    args: [FAKE_APP],
    cwd: process.cwd(),
    env: {},
    portEnv: 'PORT',
    terminationGracePeriodSeconds: 5,
    readinessProbe: undefined,
    annotations: {},
    ...over,
  };
}

/** A launch of the fake app behind the fake queue-proxy; `qpEnv` is added to the queue-proxy's environment. */
export async function fakeLaunch(service: ServiceDecl, replica: string, logDir: string, qpEnv: Record<string, string> = {}): Promise<ReplicaLaunch> {
  const l = await prepareLaunch(service, { containerConcurrency: 0, timeoutSeconds: 300, responseStartTimeoutSeconds: 0, idleTimeoutSeconds: 0 }, replica, {
    namespace: 'default',
    queueProxy: [process.execPath, FAKE_QP],
    logDir,
    baseEnv: { PATH: process.env['PATH'] },
    drainQuietSeconds: 0,
    host: '127.0.0.1',
  });
  return { ...l, sidecar: { ...l.sidecar, env: { ...l.sidecar.env, ...qpEnv } } };
}

/** Polls `cond` every 20 ms until true; throws after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** True if a process with this pid exists (zombies of our own children count as gone once reaped). */
export function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
