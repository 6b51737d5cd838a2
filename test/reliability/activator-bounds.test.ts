/**
 * Reliability case 4: the activator's bounds under a burst at a revision with no pod (activator/README.md, Settings):
 * beyond `maxWaitingPerRevision` → 503 + Retry-After at once; beyond `maxHeldBodyBytes` → 503; held past the
 * revision's timeout (4 s here, so the whole burst is in before the first expires) → 504 "activator request
 * timeout". Memory per held request stays bounded: under 32 KB with the client's side of each request in the same heap
 * (the activator alone measured ≈ 10.3 KB, README, Performance); after the burst nothing is left: no request inside,
 * no extra socket or timer handle, and the heap after GC back within 2 MB of where it started.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { buildActivator } from '../../activator/app.js';
import { StaticEndpointsSource, StaticRevisionSource } from '../../activator/static-source.js';
import { systemClock } from '../../common/clock.js';
import { createListener } from '../../common/http/server.js';
import { silentLogger } from '../../common/logger.js';
import { httpIssue, printFigures } from './support.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function gc(): void {
  setFlagsFromString('--expose-gc');
  const g = runInNewContext('gc') as () => void;
  for (let i = 0; i < 3; i++) g();
}

/** Handles by type (TCPSocketWrap, Timeout, …), as node reports them. */
function handles(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const h of process.getActiveResourcesInfo()) out[h] = (out[h] ?? 0) + 1;
  return out;
}

const PER_REVISION = 300;
const BODY_SLOTS = 5;

describe('reliability 4: activator bounds', () => {
  it('count, byte and time limits answer 503/504 as documented; memory bounded; nothing leaks after the burst', async () => {
    const revisions = new StaticRevisionSource([
      { namespace: 'default', revision: 'hello', hosts: ['hello.localhost'], containerConcurrency: 0, timeoutSeconds: 4, responseStartTimeoutSeconds: 4, idleTimeoutSeconds: 0 },
    ]);
    const app = buildActivator({
      revisions,
      endpoints: new StaticEndpointsSource(),
      stats: { report: () => Promise.resolve(), isReachable: () => true },
      clock: systemClock,
      random: Math.random,
      logger: silentLogger(),
      config: { maxWaitingPerRevision: PER_REVISION, maxWaitingTotal: 10_000, heldBodyBytesPerRequest: 160 * 1024, maxHeldBodyBytes: BODY_SLOTS * 160 * 1024, drainDelayMs: 0 },
    });
    app.start();
    const listener = createListener({ handler: app.handler });
    const port = await listener.listen(0, '127.0.0.1');
    closers.push(async () => {
      await listener.close({ timeoutMs: 1000 });
      await app.stop();
    });
    const url = `http://127.0.0.1:${port}/`;
    const headers = { host: 'hello.localhost' };

    // Warm everything once (code paths, pools) so the baseline below is a steady state.
    const warm = new Agent({ connections: 10 });
    await Promise.all(Array.from({ length: 10 }, () => httpIssue(warm, url, { headers })));
    await warm.close();
    gc();
    const heap0 = process.memoryUsage();
    const handles0 = handles();

    const agent = new Agent({ connections: 500 });
    const t0 = performance.now();
    const gets = Array.from({ length: 400 }, () => httpIssue(agent, url, { headers }).then((r) => ({ ...r, ms: performance.now() - t0 })));
    // While the 300 are held: memory per held request.
    const deadline = Date.now() + 5000;
    while ((app.revisionState('default', 'hello')?.waiting ?? 0) < PER_REVISION && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const held = app.revisionState('default', 'hello')?.waiting ?? 0;
    gc();
    const heapHeld = process.memoryUsage();
    const perRequestKb = (heapHeld.heapUsed + heapHeld.external - heap0.heapUsed - heap0.external) / held / 1024;
    const replies = await Promise.all(gets);

    // Bodies: every POST held for its whole 160 KiB allowance; BODY_SLOTS fit, the rest are refused.
    const body = 'x'.repeat(64 * 1024);
    const posts = await Promise.all(Array.from({ length: BODY_SLOTS + 3 }, () => httpIssue(agent, url, { method: 'POST', headers: { ...headers, 'content-type': 'text/plain' }, body })));
    await agent.close();
    await app.idle();
    await new Promise((r) => setTimeout(r, 100));
    gc();
    const heapAfter = process.memoryUsage();
    const handlesAfter = handles();

    const count = (rs: { status: number }[], s: number): number => rs.filter((r) => r.status === s).length;
    const refused = replies.filter((r) => r.status === 503);
    const timedOut = replies.filter((r) => r.status === 504);
    const heapGrowthMb = (heapAfter.heapUsed - heap0.heapUsed) / 1024 / 1024;
    printFigures('4 (activator bounds)', {
      sent: 400 + posts.length,
      succeeded: 0,
      failed: { 'status 503 (count)': refused.length, 'status 504 (timeout)': timedOut.length, 'status 503 (body bytes)': count(posts, 503), 'status 504 (held POSTs)': count(posts, 504) },
      held,
      slowest503Ms: Math.round(Math.max(...refused.map((r) => r.ms))),
      first504Ms: Math.round(Math.min(...timedOut.map((r) => r.ms))),
      heldKbPerRequest: Number(perRequestKb.toFixed(1)),
      heapGrowthAfterMb: Number(heapGrowthMb.toFixed(2)),
      handlesBefore: handles0,
      handlesAfter,
    });
    expect(held).toBe(PER_REVISION);
    expect(refused).toHaveLength(100);
    expect(refused.every((r) => r.headers?.['retry-after'] === '1')).toBe(true);
    expect(timedOut).toHaveLength(PER_REVISION);
    // 503s come at once, 504s at the 4 s timeout.
    expect(Math.max(...refused.map((r) => r.ms))).toBeLessThan(Math.min(...timedOut.map((r) => r.ms)));
    expect(Math.min(...timedOut.map((r) => r.ms))).toBeGreaterThanOrEqual(3950);
    expect(count(posts, 504)).toBe(BODY_SLOTS);
    expect(count(posts, 503)).toBe(3);
    expect(perRequestKb).toBeLessThan(32);
    expect(app.inFlight).toBe(0);
    expect(handlesAfter['TCPSocketWrap'] ?? 0).toBeLessThanOrEqual(handles0['TCPSocketWrap'] ?? 0);
    expect(handlesAfter['Timeout'] ?? 0).toBeLessThanOrEqual((handles0['Timeout'] ?? 0) + 2);
    expect(heapGrowthMb).toBeLessThan(2);
  }, 60_000);
});
