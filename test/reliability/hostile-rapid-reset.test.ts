/**
 * HTTP/2 rapid reset (CVE-2023-44487) against the queue-proxy and the activator's listener, with normal HTTP/1.1
 * traffic alongside: success during and after the attack, how many reset streams reached the app, peak RSS.
 * Loopback; the attack lasts 3 s.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { probeTraffic, rapidReset, rssSampler } from './hostile-support.js';
import { hostileTargets, type Target } from './targets.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const ATTACK_MS = 3_000;

async function attack(target: Target): Promise<void> {
  const rss = rssSampler();
  let stopProbes = false;
  const traffic = probeTraffic(target.port, { concurrency: 4, timeoutMs: 1_000, stop: () => stopProbes, headers: target.headers });
  const appBefore = target.appRequests();
  const t0 = Date.now();
  const sent = await rapidReset(target.port, { connections: 4, durationMs: ATTACK_MS, host: target.host, split: true });
  const attackEndMs = Date.now() - t0;
  await new Promise((r) => setTimeout(r, 1_500));
  stopProbes = true;
  const { probes, t0: p0 } = await traffic;
  const offset = t0 - p0;
  const during = probes.filter((p) => p.atMs - offset <= attackEndMs);
  const after = probes.filter((p) => p.atMs - offset > attackEndMs + 1_000);
  const okDuring = during.filter((p) => p.ok).length;
  const normal = probes.filter((p) => p.ok).length;
  const appSide = target.appRequests() - appBefore - normal;
  const firstOkAfter = probes.find((p) => p.ok && p.atMs - offset > attackEndMs);
  const figures = {
    target: target.name,
    attackStreams: sent.streams,
    attackConnections: sent.connections,
    normalSent: probes.length,
    normalSucceeded: normal,
    normalFailed: probes.length - normal,
    successDuringAttack: during.length > 0 ? +(okDuring / during.length).toFixed(3) : 0,
    probesAfterRecovery: after.length,
    failedAfterRecovery: after.filter((p) => !p.ok).length,
    firstOkAfterAttackMs: firstOkAfter ? firstOkAfter.atMs - offset - attackEndMs : -1,
    appSideAttackRequests: appSide,
    peakRssMb: rss.stop(),
  };
  console.log(`rapid reset: ${JSON.stringify(figures)}`);
  expect(sent.streams).toBeGreaterThan(10_000);
  expect(during.length).toBeGreaterThan(20);
  expect(figures.successDuringAttack).toBeGreaterThanOrEqual(0.95);
  expect(after.length).toBeGreaterThan(0);
  expect(figures.failedAfterRecovery).toBe(0);
  // Streams reset in the same read as their HEADERS never reach the app; a few reset later may (their upstream
  // request is then cancelled at once).
  expect(appSide).toBeLessThan(sent.streams / 100);
}

describe.each(hostileTargets)('rapid reset against the $name', (t) => {
  it('normal traffic keeps ≥ 95 % success during a 3 s attack on 4 reconnecting connections and is whole 1 s after', async () => {
    const target = await t.start();
    cleanups.push(() => target.close());
    await attack(target);
  }, 20_000);
});
