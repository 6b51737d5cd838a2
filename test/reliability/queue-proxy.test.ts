/**
 * Reliability cases 1, 5, 6 and 7 against a whole queue-proxy in this process (proxy/main.ts) and a scriptable app:
 * drain under load, breaker overflow, the app circuit breaker and the retry budget. Each prints its figures.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import { call, KUBE_PROBE, sleep, slow, startApp, startQp, until, type TestApp } from '../proxy/fixtures.js';
import type { RunningQueueProxy } from '../../proxy/main.js';
import { figuresOf, httpIssue, openLoad, printFigures } from './support.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function rig(env: Record<string, string>, app?: TestApp): Promise<{ app: TestApp; qp: RunningQueueProxy; agent: Agent; url: string }> {
  const a = app ?? (await startApp());
  if (!app) closers.push(() => a.close());
  const qp = await startQp(a.port, env);
  closers.push(() => qp.close());
  const agent = new Agent({ connections: 200 });
  closers.push(() => agent.close());
  return { app: a, qp, agent, url: `http://127.0.0.1:${qp.ports.serving}/` };
}

async function metric(qp: RunningQueueProxy, agent: Agent, name: string): Promise<number> {
  const text = (await call(agent, qp.ports.metrics, { path: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(name) && !l.startsWith('#'));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('reliability 1: drain under load', () => {
  it('SIGTERM with 40 long requests in flight and load still arriving: every request 200, readiness fails within 100 ms, responses after SIGTERM say Connection: close', async () => {
    const { app, qp, agent, url } = await rig({ TIDE_DRAIN_QUIET_SECONDS: '1' });
    // The kubelet's probe connection, open before the load starts (as a kubelet's keep-alive connection is).
    const prober = new Agent({ connections: 1 });
    closers.push(() => prober.close());
    expect((await call(prober, qp.ports.serving, { headers: KUBE_PROBE })).status).toBe(200);
    app.behave(slow(1500));
    const after: { status: number; connection: unknown }[] = [];
    let terminatedAt = Infinity;
    // 40 requests/s for 1.5 s; SIGTERM at 1 s, when ~40 long requests are in flight and 20 more are still to come.
    const load = openLoad({
      rate: 40,
      durationMs: 1500,
      maxInFlight: 200,
      issue: async (signal) => {
        const r = await httpIssue(agent, url, {}, signal);
        if (performance.now() > terminatedAt) after.push({ status: r.status, connection: r.headers?.['connection'] });
        return r;
      },
    });
    await sleep(1000);
    const inFlightAtSigterm = qp.qp.breaker?.inFlight ?? app.seen.length;
    const t0 = performance.now();
    terminatedAt = t0;
    const terminated = qp.terminate();
    const probe = await call(prober, qp.ports.serving, { headers: KUBE_PROBE });
    const readinessMs = performance.now() - t0;
    const result = await load;
    await terminated;
    const f = figuresOf(result);
    printFigures('1 (drain)', { ...f, inFlightAtSigterm: app.seen.length > 0 ? inFlightAtSigterm : 0, readinessFailedAfterMs: Math.round(readinessMs), responsesAfterSigterm: after.length, withConnectionClose: after.filter((a) => a.connection === 'close').length });
    expect(probe.status).toBe(503);
    expect(readinessMs).toBeLessThan(100);
    expect(f.sent).toBe(60);
    expect(f.failed).toEqual({});
    expect(f.succeeded).toBe(60);
    expect(app.seen).toHaveLength(60);
    expect(after.length).toBeGreaterThanOrEqual(40);
    expect(after.filter((a) => a.connection !== 'close')).toEqual([]);
  });
});

describe('reliability 5: breaker overflow', () => {
  it('concurrency 1, queue 10, 12 concurrent, 20 rounds: exactly one immediate 503 each round', async () => {
    const { app, agent, url } = await rig({ CONTAINER_CONCURRENCY: '1' });
    app.behave(slow(20));
    // Warm the pool: 12 connections open, so each round's requests leave at once.
    await Promise.all(Array.from({ length: 12 }, () => httpIssue(agent, url)));
    app.seen.length = 0;
    let sent = 0;
    const refusedPerRound: number[] = [];
    const lateRefusals: number[] = [];
    const failed: Record<string, number> = {};
    for (let round = 0; round < 20; round++) {
      const t0 = performance.now();
      const replies = await Promise.all(Array.from({ length: 12 }, async () => ({ ...(await httpIssue(agent, url)), ms: performance.now() - t0 })));
      sent += 12;
      const refused = replies.filter((r) => r.status === 503);
      refusedPerRound.push(refused.length);
      // "Immediate": the 503 comes back before the second admitted request could finish (each takes 20 ms, one at a time).
      const secondSuccess = replies.filter((r) => r.status === 200).map((r) => r.ms).sort((a, b) => a - b)[1] ?? Infinity;
      lateRefusals.push(...refused.filter((r) => r.ms >= secondSuccess).map(() => round));
      for (const r of replies) if (r.status !== 200 && r.status !== 503) failed[r.error ?? 'unknown'] = (failed[r.error ?? 'unknown'] ?? 0) + 1;
    }
    const refusedTotal = refusedPerRound.reduce((a, b) => a + b, 0);
    printFigures('5 (breaker overflow)', { sent, succeeded: sent - refusedTotal, failed: { ...failed, 'status 503 (queue full)': refusedTotal }, refusalsAfterTheSecondSuccess: lateRefusals.length, appSaw: app.seen.length });
    expect(refusedPerRound).toEqual(Array.from({ length: 20 }, () => 1));
    expect(failed).toEqual({});
    expect(app.seen).toHaveLength(20 * 11);
    expect(lateRefusals).toEqual([]);
  });
});

describe('reliability 6: app circuit breaker under load', () => {
  it('opens after the configured failures, fails fast without touching the app, half-opens with one trial, closes on success', async () => {
    const { app, qp, agent, url } = await rig({ TIDE_CIRCUIT_ENABLED: 'true', TIDE_CIRCUIT_MIN_REQUESTS: '10', TIDE_CIRCUIT_ERROR_PERCENT: '50', TIDE_CIRCUIT_RESET_SECONDS: '0.5' });
    app.behave(slow(0, 500));
    // 200/s for 1 s at a failing app.
    const failing = await openLoad({ rate: 200, durationMs: 1000, maxInFlight: 100, issue: (s) => httpIssue(agent, url, {}, s) });
    const f = figuresOf(failing);
    const appSawWhileFailing = app.seen.length;
    const fast = (failing.metrics.get('http_req_duration') as { percentile(p: number): number }).percentile(50);
    expect(qp.qp.circuit!.state()).toBe('open');
    // Half-open after the reset time: of 20 concurrent requests exactly one reaches the now healthy app.
    await until(() => qp.qp.circuit!.state() === 'half-open', 3000);
    app.behave(slow(50));
    const before = app.seen.length;
    const trial = await Promise.all(Array.from({ length: 20 }, () => httpIssue(agent, url)));
    const trialReached = app.seen.length - before;
    expect(qp.qp.circuit!.state()).toBe('closed');
    const healthy = await openLoad({ rate: 100, durationMs: 500, maxInFlight: 100, issue: (s) => httpIssue(agent, url, {}, s) });
    const h = figuresOf(healthy);
    printFigures('6 (circuit breaker)', {
      sent: f.sent + 20 + h.sent,
      succeeded: h.succeeded + trial.filter((r) => r.ok).length,
      failed: { 'status 500 (app, before opening)': f.failed['status 500'] ?? 0, 'status 503 (circuit open)': (f.failed['status 503'] ?? 0) + trial.filter((r) => r.status === 503).length },
      appSawWhileFailing,
      medianWhileFailingMs: Number(fast.toFixed(2)),
      halfOpenTrialsReachingApp: trialReached,
      afterCloseSucceeded: h.succeeded,
    });
    // Opened at the 10th failure; only requests already admitted by then (a few, at 200/s) still reached the app.
    expect(appSawWhileFailing).toBeGreaterThanOrEqual(10);
    expect(appSawWhileFailing).toBeLessThanOrEqual(15);
    expect(f.failed['status 500']).toBe(appSawWhileFailing);
    expect(f.failed['status 503']).toBe(f.sent - appSawWhileFailing);
    expect(fast).toBeLessThan(5);
    expect(trialReached).toBe(1);
    expect(trial.filter((r) => r.status === 200)).toHaveLength(1);
    expect(h.failed).toEqual({});
  });
});

describe('reliability 7: retry budget', () => {
  it('an unreachable app: retries stay within 20% of the requests plus the floor (1/s over the 10 s window)', async () => {
    const placeholder = await startApp();
    const deadPort = placeholder.port;
    await placeholder.close();
    const { qp, agent } = await rig({ TIDE_RETRY_MAX: '3', TIDE_RETRY_BUDGET_PERCENT: '20', TIDE_RETRY_BUDGET_MIN_PER_SECOND: '1', TIDE_RETRY_BACKOFF_BASE_MS: '1', TIDE_RETRY_BACKOFF_MAX_MS: '5' }, { port: deadPort, seen: [], behave: () => {}, server: undefined as never, close: () => Promise.resolve() });
    const url = `http://127.0.0.1:${qp.ports.serving}/`;
    const r = await openLoad({ rate: 200, durationMs: 2000, maxInFlight: 200, issue: (s) => httpIssue(agent, url, {}, s) });
    const f = figuresOf(r);
    const retried = await metric(qp, agent, 'tide_queue_proxy_retries_total');
    // The budget (common/retry-policy.ts): over its 10 s window, retries ≤ 1/s × 10 s + 20% of original requests.
    const budget = 1 * 10 + 0.2 * f.sent;
    printFigures('7 (retry budget, app unreachable)', { ...f, retried, budget });
    expect(f.sent).toBe(400);
    expect(f.failed['status 502']).toBe(400);
    expect(retried).toBeGreaterThan(0);
    // Never the 3 × 400 that TIDE_RETRY_MAX alone allows, and the budget is used (the app never got a request).
    expect(retried).toBeLessThanOrEqual(budget);
    expect(retried).toBeGreaterThanOrEqual(budget - 1);
  });

  it('an app that drops the connection after reading: no POST reaches it twice, though GETs it never received are retried', async () => {
    const { app, qp, agent, url } = await rig({ TIDE_RETRY_MAX: '2', TIDE_RETRY_BACKOFF_BASE_MS: '1', TIDE_RETRY_BACKOFF_MAX_MS: '5' });
    app.behave((_req, res) => {
      res.socket?.destroy();
    });
    let n = 0;
    const r = await openLoad({
      rate: 100,
      durationMs: 1000,
      maxInFlight: 100,
      issue: (s) => httpIssue(agent, url, { method: 'POST', body: `payment ${n++}`, headers: { 'content-type': 'text/plain' } }, s),
    });
    const f = figuresOf(r);
    const bodies = app.seen.filter((s) => s.method === 'POST').map((s) => s.body);
    const twice = bodies.filter((b, i) => bodies.indexOf(b) !== i);
    const retried = await metric(qp, agent, 'tide_queue_proxy_retries_total');
    printFigures('7 (no duplicate POST)', { ...f, retried, appSawPosts: bodies.length, seenTwice: twice.length });
    expect(f.sent).toBe(100);
    expect(bodies).toHaveLength(100);
    expect(twice).toEqual([]);
    expect(f.failed['status 502']).toBe(100);
  });
});
