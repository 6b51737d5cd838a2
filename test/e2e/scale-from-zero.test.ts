/**
 * E2E (issue 5): bursts to a service at zero. Every request succeeds; the activator holds them until a replica is
 * ready, and the first waits no longer than the replica's own start plus a small overhead, which this test measures
 * and prints. Two bursts: the first wakes a service that has never run (the autoscaler has no valid decision yet,
 * so the activator's report is acted on at the next 2 s tick, as in Knative); the second comes after it scaled back
 * to zero, when the activator's first stat pokes the autoscaler into deciding at once (§b5).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { helloYaml, get, upFromYaml, waitFor, type E2E } from './support.js';

const DELAY_MS = 50;
const BURST = 20;
const YAML = helloYaml({ delayMs: DELAY_MS, timeoutSeconds: 30, annotations: { 'initial-scale': 0, target: 10 } });

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.stop();
  e2e = undefined;
});

/** Sends a burst at zero and returns the measured parts of the first response's wait. */
async function burstFromZero(e: E2E, label: string): Promise<{ decisionMs: number; overheadMs: number }> {
  const { up, base, events, scales } = e;
  expect(up.backend.pods('default', 'hello')).toEqual([]);
  const seenEvents = events.length;
  const seenScales = scales.length;
  const t0 = Date.now();
  const replies = await Promise.all(Array.from({ length: BURST }, () => get(base, 'hello.localhost', '/')));
  expect(replies.map((r) => r.status)).toEqual(Array(BURST).fill(200));
  expect(replies.every((r) => r.body.startsWith('hello from'))).toBe(true);

  const first = Math.min(...replies.map((r) => r.endMs)) - t0;
  const mine = events.slice(seenEvents);
  const started = mine.find((ev) => ev.phase === 'starting')!;
  const ready = mine.find((ev) => ev.name === started.name && ev.phase === 'ready')!;
  const replicaStartMs = ready.atMs - started.atMs;
  const decisionMs = scales[seenScales]!.atMs - t0;
  const overheadMs = first - decisionMs - replicaStartMs - DELAY_MS;
  console.log(
    `scale-from-zero (${label}): first response ${first} ms = decision ${decisionMs} ms + replica start ${replicaStartMs} ms ` +
      `(app + queue-proxy to ready) + request ${DELAY_MS} ms + overhead ${overheadMs} ms`,
  );
  expect(scales[seenScales]).toMatchObject({ from: 0 });
  // Overhead: port allocation, spawn bookkeeping, the activator noticing readiness (probe every 200 ms, §b4), proxying.
  expect(overheadMs).toBeLessThan(1000);
  return { decisionMs, overheadMs };
}

describe('tide up: from zero', () => {
  it(`bursts of ${BURST} concurrent requests to a service at zero all succeed; the first waits replica start + a small overhead`, async () => {
    e2e = await upFromYaml(YAML);
    const { up } = e2e;
    expect(up.backend.replicas('default', 'hello')).toBe(0);

    const cold = await burstFromZero(e2e, 'never run');
    // No valid decision existed yet: at most one decision tick (2 s, §c1).
    expect(cold.decisionMs).toBeLessThan(2500);

    await waitFor(() => up.backend.replicas('default', 'hello') === 0 && up.backend.pods('default', 'hello').length === 0, 30_000, 'back to zero');
    const again = await burstFromZero(e2e, 'after scale to zero');
    // The poke: the autoscaler decides on the activator's first stat instead of at the next tick.
    expect(again.decisionMs).toBeLessThan(500);
  }, 60_000);
});
