/**
 * Reliability cases 2 and 3 through `tide up` in this process (real activator, autoscaler, queue-proxy and app
 * processes), with an app that records every request id it receives (fixtures/counting-app.mjs).
 * 2. Replica killed under load: 3 replicas, 50 closed-loop clients, a kill every 5 s for 20 s (4 kills) to fit CI;
 *    TIDE_RELIABILITY_FULL=1 runs the issue's shape, a kill every 10 s for 60 s (6 kills). SIGTERM to a queue-proxy (a pod deleted): 100%
 *    success. SIGKILL to an app: ≥ 99%, and no request reaches an app twice (a retry only where the app never got it).
 * 3. Scale from zero under a burst: 1,000 concurrent requests while pods start (at most 4): all succeed, no pod ever
 *    holds more than its containerConcurrency (10).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { alive, sleep, upFromYaml, waitFor, type E2E } from '../e2e/support.js';
import { httpIssue, printFigures } from './support.js';

const APP = fileURLToPath(new URL('./fixtures/counting-app.mjs', import.meta.url));

let e2e: E2E | undefined;
let seenDir: string | undefined;
afterEach(async () => {
  await e2e?.stop();
  e2e = undefined;
  if (seenDir) rmSync(seenDir, { recursive: true, force: true });
  seenDir = undefined;
});

function yaml(dir: string, delayMs: number, annotations: Record<string, string | number>, cc = 0): string {
  return [
    'config-autoscaler:',
    '  stable-window: 6s',
    '  scale-to-zero-grace-period: 2s',
    '  allow-zero-initial-scale: "true"',
    'services:',
    '  - name: hello',
    '    command: node',
    `    args: [${JSON.stringify(APP)}]`,
    `    env: { DELAY_MS: "${delayMs}", SEEN_DIR: ${JSON.stringify(dir)} }`,
    '    timeoutSeconds: 30',
    ...(cc > 0 ? [`    containerConcurrency: ${cc}`] : []),
    '    annotations:',
    ...Object.entries(annotations).map(([k, v]) => `      autoscaling.knative.dev/${k}: "${v}"`),
    '',
  ].join('\n');
}

/** How many times each request id reached any app process. */
function seenCounts(dir: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const f of readdirSync(dir)) {
    for (const id of readFileSync(join(dir, f), 'utf8').split('\n')) if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

const FULL = process.env['TIDE_RELIABILITY_FULL'] === '1';
const KILLS = FULL ? 6 : 4;
const KILL_EVERY_MS = FULL ? 10_000 : 5_000;
const SHAPE = `every ${KILL_EVERY_MS / 1000} s for ${(KILLS * KILL_EVERY_MS) / 1000} s`;
const CASE_TIMEOUT_MS = KILLS * KILL_EVERY_MS + 70_000;

async function killUnderLoad(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  seenDir = mkdtempSync(join(tmpdir(), 'tide-seen-'));
  e2e = await upFromYaml(yaml(seenDir, 20, { 'min-scale': 3, 'max-scale': 3, 'initial-scale': 3, 'target-burst-capacity': -1 }));
  const { up, base } = e2e;
  const replicas = () => up.backend.replicasOf('default', 'hello');
  await waitFor(() => replicas().filter((r) => r.ready).length === 3, 30_000, 'three ready replicas');
  const agent = new Agent({ connections: 50 });
  const failed: Record<string, number> = {};
  let sent = 0;
  let stop = false;
  const clients = Promise.all(
    Array.from({ length: 50 }, async (_, c) => {
      for (let i = 0; !stop; i++) {
        const r = await httpIssue(agent, `${base}/`, { headers: { host: 'hello.localhost', 'x-req-id': `${c}-${i}` } });
        sent++;
        if (!r.ok) failed[r.error ?? 'unknown'] = (failed[r.error ?? 'unknown'] ?? 0) + 1;
      }
    }),
  );
  const kills: number[] = [];
  try {
    for (let k = 0; k < KILLS; k++) {
      await sleep(KILL_EVERY_MS);
      // The oldest ready replica; for SIGTERM its queue-proxy (the pod deleted), for SIGKILL its app.
      const victim = replicas().find((r) => r.ready);
      const pid = signal === 'SIGTERM' ? victim?.pids.sidecar : victim?.pids.app;
      if (pid !== undefined && alive(pid)) {
        process.kill(pid, signal);
        kills.push(pid);
      }
    }
    await sleep(1000);
  } finally {
    stop = true;
    await clients;
    await agent.close();
  }
  const nFailed = Object.values(failed).reduce((a, b) => a + b, 0);
  const counts = seenCounts(seenDir);
  const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  const restarts = replicas().reduce((a, r) => a + r.restarts, 0);
  printFigures(`2 (replica killed, ${signal})`, { sent, succeeded: sent - nFailed, failed, kills: kills.length, appSaw: [...counts.values()].reduce((a, b) => a + b, 0), reachedAnAppTwice: twice.length, replicaRestarts: restarts, successPercent: Number((((sent - nFailed) / sent) * 100).toFixed(3)) });
  expect(kills).toHaveLength(KILLS);
  expect(sent).toBeGreaterThan(1000);
  expect(twice).toEqual([]);
  if (signal === 'SIGTERM') expect(failed).toEqual({});
  else expect(sent - nFailed).toBeGreaterThanOrEqual(0.99 * sent);
}

describe('reliability 2: a replica killed under load', () => {
  it(`SIGTERM to a queue-proxy ${SHAPE}, 50 clients, 3 replicas: 100% success`, () => killUnderLoad('SIGTERM'), CASE_TIMEOUT_MS);
  it(`SIGKILL to an app ${SHAPE}, 50 clients, 3 replicas: ≥ 99% success, no request reaches an app twice`, () => killUnderLoad('SIGKILL'), CASE_TIMEOUT_MS);
});

describe('reliability 3: scale from zero under a burst', () => {
  it('1,000 concurrent requests at a service at zero (containerConcurrency 10, max 4 pods): all 200, no pod over 10 in flight', async () => {
    seenDir = mkdtempSync(join(tmpdir(), 'tide-seen-'));
    // At most 4 pods (8 processes on a two-core machine): 40 slots for 1,000 requests of 50 ms.
    e2e = await upFromYaml(yaml(seenDir, 50, { 'initial-scale': 0, 'max-scale': 4, target: 10 }, 10));
    const { up, base } = e2e;
    expect(up.backend.pods('default', 'hello')).toEqual([]);
    const agent = new Agent({ connections: 1000 });
    const t0 = performance.now();
    const replies = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => httpIssue(agent, `${base}/`, { headers: { host: 'hello.localhost', 'x-req-id': `b-${i}` } }).then((r) => ({ ...r, ms: performance.now() - t0 }))),
    );
    await agent.close();
    const failed: Record<string, number> = {};
    for (const r of replies) if (!r.ok) failed[r.error ?? 'unknown'] = (failed[r.error ?? 'unknown'] ?? 0) + 1;
    const maxInFlight = Math.max(...replies.map((r) => Number(r.headers?.['x-max-in-flight'] ?? 0)));
    const pods = new Set(replies.map((r) => r.headers?.['x-pid'])).size;
    const ms = replies.map((r) => r.ms).sort((a, b) => a - b);
    const counts = seenCounts(seenDir);
    printFigures('3 (scale from zero, 1,000 burst)', { sent: 1000, succeeded: replies.filter((r) => r.ok).length, failed, podsServing: pods, maxInFlightOnAnyPod: maxInFlight, firstMs: Math.round(ms[0]!), p50Ms: Math.round(ms[500]!), lastMs: Math.round(ms[999]!), appSaw: counts.size });
    expect(failed).toEqual({});
    expect(maxInFlight).toBeLessThanOrEqual(10);
    expect(maxInFlight).toBeGreaterThan(0);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(counts.size).toBe(1000);
  }, 90_000);
});
