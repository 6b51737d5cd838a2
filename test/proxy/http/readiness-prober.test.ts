import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AGGRESSIVE_PROBE, probeOnce, ReadinessProber } from '../../../proxy/http/readiness-prober.js';
import type { ProbeAction, ReadinessProbeSpec } from '../../../proxy/config.js';
import { deadPort } from '../../common/http/helpers.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function listen(server: Server, port = 0): Promise<number> {
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

const tcp = (port: number): ReadinessProbeSpec => ({ action: { kind: 'tcp', host: '127.0.0.1', port }, successThreshold: 1, periodMs: 0, timeoutMs: 1000 });

describe('readiness prober (§a6)', () => {
  it('§a6 HTTP probes pass on 200–399 and fail otherwise', async () => {
    let status = 204;
    let seenUa = '';
    const port = await listen(
      createServer((req, res) => {
        seenUa = req.headers['user-agent'] ?? '';
        res.writeHead(status).end();
      }),
    );
    const action: ProbeAction = { kind: 'http', host: '127.0.0.1', port, path: '/healthz', scheme: 'http', headers: [] };
    expect(await probeOnce(action, 500)).toBe(true);
    expect(seenUa).toBe('Knative-Queue-Proxy-Probe');
    status = 399;
    expect(await probeOnce(action, 500)).toBe(true);
    status = 400;
    expect(await probeOnce(action, 500)).toBe(false);
  });

  it('§a6 turns ready as soon as the app listens (aggressive 50 ms polling)', async () => {
    const port = await deadPort();
    const prober = new ReadinessProber([tcp(port)]);
    closers.push(() => prober.close());
    const started = Date.now();
    const ready = prober.isReady();
    await new Promise((r) => setTimeout(r, 300));
    const listenAt = Date.now();
    await listen(createServer(), port);
    expect(await ready).toBe(true);
    const lag = Date.now() - listenAt;
    expect(listenAt - started).toBeGreaterThanOrEqual(300);
    // At most one poll interval plus one attempt after the app listens.
    expect(lag).toBeLessThan(AGGRESSIVE_PROBE.intervalMs + AGGRESSIVE_PROBE.attemptTimeoutMs + 100);
  });

  it('§a6 concurrent health checks share one in-flight probe', async () => {
    let attempts = 0;
    let pass: (ok: boolean) => void = () => undefined;
    const prober = new ReadinessProber([tcp(1)], () => {
      attempts++;
      return new Promise<boolean>((r) => (pass = r));
    });
    const a = prober.isReady();
    const b = prober.isReady();
    const c = prober.isReady();
    expect(b).toBe(a);
    expect(c).toBe(a);
    pass(true);
    expect(await Promise.all([a, b, c])).toEqual([true, true, true]);
    expect(attempts).toBe(1);
    // The next check starts a new probe.
    const d = prober.isReady();
    pass(true);
    expect(await d).toBe(true);
    expect(attempts).toBe(2);
  });

  it('§a6 successThreshold counts consecutive passes; all probes must pass', async () => {
    const results = [true, false, true, true];
    let attempts = 0;
    const spec = { ...tcp(1), successThreshold: 2 };
    const prober = new ReadinessProber([spec], () => Promise.resolve(results[attempts++] ?? false));
    expect(await prober.isReady()).toBe(true);
    expect(attempts).toBe(4);
    const failing = new ReadinessProber([{ ...tcp(1), periodMs: 1000 }, { ...tcp(2), periodMs: 1000 }], (a) => Promise.resolve(a.kind === 'tcp' && a.port === 1));
    expect(await failing.isReady()).toBe(false);
  });
});
