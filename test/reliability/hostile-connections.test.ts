/**
 * Connection-level attacks against the queue-proxy and the activator: idle h2c sessions, a preface dripped one byte at a
 * time, and more connections than the cap, with normal traffic checked after each. Timeouts are shortened through the
 * listener options (the defaults are 10 s for the preface and 5 min for idle sessions).
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { idleH2, probeTraffic, rssSampler, slowPreface } from './hostile-support.js';
import { hostileTargets } from './targets.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const HEADERS_TIMEOUT_MS = 1_000;
const IDLE_MS = 1_000;
const CHECK_MS = 100;

/** One round of normal traffic: `n` sequential requests, each within 1 s; returns how many got 200. */
async function normal(port: number, headers: Record<string, string>, n: number): Promise<number> {
  let count = 0;
  const { probes } = await probeTraffic(port, { concurrency: 1, timeoutMs: 1_000, headers, stop: () => count++ >= n });
  return probes.filter((p) => p.ok).length;
}

describe.each(hostileTargets)('connection attacks against the $name', (t) => {
  it('idle h2c sessions are closed at the idle timeout; a dripped preface at the header timeout from accept', async () => {
    const rss = rssSampler();
    const target = await t.start({ listener: { headersTimeoutMs: HEADERS_TIMEOUT_MS, http2IdleTimeoutMs: IDLE_MS, checkIntervalMs: CHECK_MS } });
    cleanups.push(() => target.close());
    const idle = Array.from({ length: 50 }, () => idleH2(target.port));
    const slow = Array.from({ length: 10 }, () => slowPreface(target.port, 100)); // whole preface: 2.4 s
    cleanups.push(() => [...idle, ...slow].forEach((c) => c.socket.destroy()));
    const idleClosed = await Promise.all(idle.map((c) => c.closed));
    const slowClosed = await Promise.all(slow.map((c) => c.closed));
    const ok = await normal(target.port, target.headers as Record<string, string>, 20);
    const figures = {
      target: t.name,
      idleSessions: idle.length,
      idleClosedMs: [Math.min(...idleClosed), Math.max(...idleClosed)],
      slowPrefaces: slow.length,
      slowClosedMs: [Math.min(...slowClosed), Math.max(...slowClosed)],
      normalSent: 20,
      normalSucceeded: ok,
      peakRssMb: rss.stop(),
    };
    console.log(`idle and slow connections: ${JSON.stringify(figures)}`);
    expect(Math.min(...idleClosed)).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(Math.max(...idleClosed)).toBeLessThan(IDLE_MS + CHECK_MS + 700);
    expect(Math.min(...slowClosed)).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expect(Math.max(...slowClosed)).toBeLessThan(HEADERS_TIMEOUT_MS + CHECK_MS + 700);
    expect(ok).toBe(20);
  }, 20_000);

  it('connections past maxConnections are closed at once with one log line; traffic is served again once the idle ones are reaped', async () => {
    const notices: string[] = [];
    const target = await t.start({
      listener: { maxConnections: 30, headersTimeoutMs: HEADERS_TIMEOUT_MS, checkIntervalMs: CHECK_MS, onNotice: (m, d) => notices.push(`${m} ${JSON.stringify(d)}`) },
    });
    cleanups.push(() => target.close());
    const t0 = Date.now();
    const hogs: { socket: net.Socket; closedAt: number }[] = [];
    for (let i = 0; i < 60; i++) {
      const socket = net.connect(target.port, '127.0.0.1');
      const h = { socket, closedAt: 0 };
      socket.on('error', () => undefined);
      socket.once('close', () => (h.closedAt = Date.now() - t0));
      hogs.push(h);
    }
    cleanups.push(() => hogs.forEach((h) => h.socket.destroy()));
    await new Promise((r) => setTimeout(r, 300));
    const droppedAtOnce = hogs.filter((h) => h.closedAt > 0).length;
    // The cap is full of silent sockets: normal traffic waits for the header timeout to reap them (1 s).
    await new Promise((r) => setTimeout(r, HEADERS_TIMEOUT_MS + CHECK_MS + 200));
    const ok = await normal(target.port, target.headers as Record<string, string>, 20);
    const figures = { target: t.name, opened: hogs.length, maxConnections: 30, droppedAtOnce, notices: notices.length, normalSent: 20, normalSucceeded: ok };
    console.log(`connection cap: ${JSON.stringify(figures)} ${notices[0] ?? ''}`);
    expect(droppedAtOnce).toBe(30);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/^connection limit reached: 30 open connections/);
    expect(hogs.every((h) => h.closedAt > 0)).toBe(true);
    expect(ok).toBe(20);
  }, 20_000);
});
