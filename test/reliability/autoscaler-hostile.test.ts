/**
 * Reliability case 11: the autoscaler under hostile peers. While `tide up`'s hello service is under load, peers hit
 * the autoscaler's gRPC stats endpoint with oversized reports (> MAX_REPORT_BYTES), garbage bytes, HTTP/2 prefaces
 * that never go on (endless connections) and reports with absurd numbers for revisions that do not exist. The
 * autoscaler neither stalls nor crashes: its dashboard answers throughout, the oversized reports are refused, and
 * hello still scales up with its load.
 */
import { connect, type Socket } from 'node:net';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { AutoscalerStatsClient, MAX_REPORT_BYTES } from '../../common/http/stats-grpc.js';
import type { RevisionStat } from '../../common/stats.js';
import { HELLO_APP, sleep, upFromYaml, waitFor, type E2E } from '../e2e/support.js';
import { httpIssue, printFigures } from './support.js';

let e2e: E2E | undefined;
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await e2e?.stop();
  e2e = undefined;
});

const YAML = [
  'config-autoscaler:',
  '  stable-window: 6s',
  'services:',
  '  - name: hello',
  '    command: node',
  `    args: [${JSON.stringify(HELLO_APP)}]`,
  '    env: { DELAY_MS: "200" }',
  '    annotations:',
  '      autoscaling.knative.dev/initial-scale: "1"',
  '      autoscaling.knative.dev/min-scale: "1"',
  '      autoscaling.knative.dev/max-scale: "4"',
  '      autoscaling.knative.dev/target: "2"',
  '',
].join('\n');

const stat = (n: number): RevisionStat['stat'] => ({ podName: 'evil', averageConcurrentRequests: n, averageProxiedConcurrentRequests: n, requestCount: n, proxiedRequestCount: n, processUptimeSeconds: n, timestampMs: n });

describe('reliability 11: autoscaler under hostile peers', () => {
  it('oversized, malformed and endless stats neither stall nor crash it; hello keeps scaling', async () => {
    e2e = await upFromYaml(YAML);
    const { up, base } = e2e;
    const statsAddress = `127.0.0.1:${up.statsPort}`;
    const sockets: Socket[] = [];
    closers.push(() => sockets.forEach((s) => s.destroy()));
    let stopHostile = false;
    const hostile = { oversizedRefused: 0, oversizedAccepted: 0, absurdSent: 0, garbageSockets: 0, endlessSockets: 0 };

    const evil = new AutoscalerStatsClient(statsAddress);
    closers.push(() => evil.close());
    const bigBatch: RevisionStat[] = Array.from({ length: Math.ceil(MAX_REPORT_BYTES / 40) + 1000 }, (_, i) => ({ namespace: 'default', revision: `r${i}`, stat: stat(i) }));
    const absurd: RevisionStat[] = [1e308, -1, Number.MAX_SAFE_INTEGER, 0].map((n, i) => ({ namespace: 'evil', revision: `ghost-${i}`, stat: stat(n) }));
    const hostileLoop = (async () => {
      while (!stopHostile) {
        for (let i = 0; i < 5; i++) {
          const s = connect(up.statsPort, '127.0.0.1');
          s.on('error', () => {});
          s.write(Buffer.from('\x00\xff GET / HTTP/1.1\r\n\r\n garbage \x16\x03\x01'));
          sockets.push(s);
          hostile.garbageSockets++;
          const e = connect(up.statsPort, '127.0.0.1');
          e.on('error', () => {});
          e.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'); // the preface, then nothing ever again
          sockets.push(e);
          hostile.endlessSockets++;
        }
        try {
          await evil.report(bigBatch);
          hostile.oversizedAccepted++;
        } catch {
          hostile.oversizedRefused++;
        }
        await evil.report(absurd).catch(() => {});
        hostile.absurdSent++;
        await sleep(200);
      }
    })();

    // The dashboard answers throughout (the autoscaler's event loop is not stalled).
    const dash = new Agent({ connections: 1 });
    closers.push(() => dash.close());
    const dashMs: number[] = [];
    const dashFailed: string[] = [];
    const dashLoop = (async () => {
      while (!stopHostile) {
        const t = performance.now();
        const r = await httpIssue(dash, `http://127.0.0.1:${up.dashboardPort}/healthz`);
        dashMs.push(performance.now() - t);
        if (!r.ok) dashFailed.push(r.error ?? String(r.status));
        await sleep(200);
      }
    })();

    // 12 closed-loop clients at target 2: hello must go above its one replica.
    const agent = new Agent({ connections: 12 });
    closers.push(() => agent.close());
    let sent = 0;
    const failed: Record<string, number> = {};
    let stopLoad = false;
    const load = Promise.all(
      Array.from({ length: 12 }, async () => {
        while (!stopLoad) {
          const r = await httpIssue(agent, `${base}/`, { headers: { host: 'hello.localhost' } });
          sent++;
          if (!r.ok) failed[r.error ?? 'unknown'] = (failed[r.error ?? 'unknown'] ?? 0) + 1;
        }
      }),
    );
    let scaledTo = 1;
    try {
      await waitFor(() => (scaledTo = Math.max(scaledTo, up.backend.replicasOf('default', 'hello').filter((r) => r.ready).length)) >= 3, 30_000, 'hello scaled to 3 ready replicas');
    } finally {
      stopLoad = true;
      stopHostile = true;
      await Promise.all([load, hostileLoop, dashLoop]);
    }
    const nFailed = Object.values(failed).reduce((a, b) => a + b, 0);
    const dashMax = Math.max(...dashMs);
    printFigures('11 (autoscaler, hostile peers)', { sent, succeeded: sent - nFailed, failed, helloReadyReplicas: scaledTo, hostile, dashboardChecks: dashMs.length, dashboardFailed: dashFailed.length, dashboardSlowestMs: Math.round(dashMax) });
    expect(scaledTo).toBeGreaterThanOrEqual(3);
    expect(failed).toEqual({});
    expect(hostile.oversizedAccepted).toBe(0);
    expect(hostile.oversizedRefused).toBeGreaterThan(0);
    expect(dashFailed).toEqual([]);
    expect(dashMax).toBeLessThan(1000);
    // The revisions the peers made up are not tracked.
    expect(up.autoscaler.snapshot().revisions.map((r) => r.revision)).toEqual(['hello']);
  }, 90_000);
});
