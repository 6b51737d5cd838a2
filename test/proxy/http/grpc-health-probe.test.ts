/** `grpc` readiness probe attempts against a real grpc-js Health server (§a6: gRPC probes run in the queue-proxy). */
import { afterEach, describe, expect, it } from 'vitest';
import { probeGrpcHealth } from '../../../proxy/http/grpc-health-probe.js';
import { AGGRESSIVE_PROBE, probeOnce, ReadinessProber } from '../../../proxy/http/readiness-prober.js';
import type { ReadinessProbeSpec } from '../../../proxy/config.js';
import { startHealthServer, type ServingStatus } from '../health-server.js';
import { deadPort, startSilentServer } from '../../common/http/helpers.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function health(opts: Parameters<typeof startHealthServer>[0] = {}) {
  const h = await startHealthServer(opts);
  closers.push(() => h.close());
  return h;
}

/** Times one attempt. */
async function timed(p: Promise<boolean>): Promise<{ ok: boolean; ms: number }> {
  const t = Date.now();
  const ok = await p;
  return { ok, ms: Date.now() - t };
}

describe('grpc readiness probe attempt (§a6, grpc.health.v1.Health/Check)', () => {
  it('§a6 SERVING passes; the request names the service ("" for the whole server)', async () => {
    const h = await health();
    h.statuses.set('hello.v1.Greeter', 'SERVING');
    expect(await probeGrpcHealth('127.0.0.1', h.port, '', 1000)).toBe(true);
    expect(await probeOnce({ kind: 'grpc', host: '127.0.0.1', port: h.port, service: 'hello.v1.Greeter' }, 1000)).toBe(true);
    expect(h.checks).toEqual(['', 'hello.v1.Greeter']);
    // Tide: the User-Agent of the HTTP probe, so the app can tell probes from traffic.
    expect(h.userAgents[0]).toMatch(/^Knative-Queue-Proxy-Probe /);
  });

  it.each<ServingStatus>(['NOT_SERVING', 'UNKNOWN', 'SERVICE_UNKNOWN'])('§a6 %s fails', async (status) => {
    const h = await health();
    h.statuses.set('', status);
    expect(await probeGrpcHealth('127.0.0.1', h.port, '', 1000)).toBe(false);
    expect(h.checks).toEqual(['']);
  });

  it('§a6 an unknown service (the server answers NOT_FOUND) fails', async () => {
    const h = await health();
    expect(await probeGrpcHealth('127.0.0.1', h.port, 'no.such.Service', 1000)).toBe(false);
    expect(h.checks).toEqual(['no.such.Service']);
  });

  it('§a6 a server without the Health service (UNIMPLEMENTED) fails at once', async () => {
    const h = await health({ health: false });
    const r = await timed(probeGrpcHealth('127.0.0.1', h.port, '', 1000));
    expect(r.ok).toBe(false);
    expect(r.ms).toBeLessThan(500);
  });

  it('§a6 nothing listening fails quickly, well within the timeout', async () => {
    const r = await timed(probeGrpcHealth('127.0.0.1', await deadPort(), '', 2000));
    expect(r.ok).toBe(false);
    expect(r.ms).toBeLessThan(500);
  });

  it('§a6 a Check that never answers fails at the attempt timeout', async () => {
    const h = await health();
    h.hang = true;
    const r = await timed(probeGrpcHealth('127.0.0.1', h.port, '', 200));
    expect(r.ok).toBe(false);
    expect(r.ms).toBeGreaterThanOrEqual(190);
    expect(r.ms).toBeLessThan(600);
    expect(h.checks).toEqual(['']);
  });

  it('§a6 a listener that never speaks HTTP/2 fails at the attempt timeout', async () => {
    const silent = await startSilentServer();
    closers.push(() => silent.close());
    const r = await timed(probeGrpcHealth('127.0.0.1', silent.port, '', 200));
    expect(r.ok).toBe(false);
    expect(r.ms).toBeGreaterThanOrEqual(190);
    expect(r.ms).toBeLessThan(600);
  });

  it('§a6 every attempt dials afresh: SERVING is seen at the first poll after the app listens, not after a reconnect backoff', async () => {
    // A long-lived grpc-js channel waits 1 s (then more) before redialling a refused address; Knative dials per probe.
    const port = await deadPort();
    const spec: ReadinessProbeSpec = { action: { kind: 'grpc', host: '127.0.0.1', port, service: '' }, successThreshold: 1, periodMs: 0, timeoutMs: 1000 };
    const prober = new ReadinessProber([spec]);
    closers.push(() => prober.close());
    const ready = prober.isReady();
    await new Promise((r) => setTimeout(r, 300));
    const listenAt = Date.now();
    await health({ port });
    expect(await ready).toBe(true);
    expect(Date.now() - listenAt).toBeLessThan(AGGRESSIVE_PROBE.intervalMs + AGGRESSIVE_PROBE.attemptTimeoutMs + 150);
  });
});
