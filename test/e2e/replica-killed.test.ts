/**
 * E2E (issue 5): a replica's app is SIGKILLed under load. The local backend sees the crash, takes the replica out of
 * the endpoints and restarts it; the activator sends new requests to the other replica. Only requests already inside
 * the killed app can fail (Knative does not retry a request the app has received); everything sent after the kill
 * succeeds, and the replica comes back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Replica } from '../../local/process/replica.js';
import { helloYaml, alive, closedLoopLoad, sleep, upFromYaml, waitFor, type E2E, type Reply } from './support.js';

const CLIENTS = 4;

const YAML = helloYaml({
  delayMs: 20,
  timeoutSeconds: 30,
  allowZeroInitialScale: false,
  annotations: { 'min-scale': 2, 'initial-scale': 2, target: 10, 'target-burst-capacity': -1 },
});

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.stop();
  e2e = undefined;
});

/** `tide up` with two ready replicas and closed-loop load running for 1.5 s; `endLoad()` stops it and gives the replies. */
async function twoReplicasUnderLoad(): Promise<{ victim: Replica; endLoad: () => Promise<Reply[]> }> {
  e2e = await upFromYaml(YAML);
  const { up, base } = e2e;
  const replicas = () => up.backend.replicasOf('default', 'hello');
  await waitFor(() => replicas().filter((r) => r.ready).length === 2, 20_000, 'two ready replicas');
  let stop = false;
  const load = closedLoopLoad({ base, host: 'hello.localhost', path: '/', clients: CLIENTS, maxMs: 20_000, until: () => stop });
  await sleep(1500);
  return {
    victim: replicas()[0]!,
    endLoad: () => {
      stop = true;
      return load;
    },
  };
}

describe('tide up: a replica killed under load', () => {
  it('requests keep succeeding; the killed replica restarts', async () => {
    const { victim, endLoad } = await twoReplicasUnderLoad();
    const pid = victim.pids.app!;
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !alive(pid), 2000, 'app gone');
    await waitFor(() => victim.restarts >= 1 && victim.ready, 10_000, 'victim restarted and ready');
    const restartMs = Date.now() - killedAt;
    await sleep(1500);
    const replies = await endLoad();

    const failed = replies.filter((r) => r.status !== 200);
    const afterKill = replies.filter((r) => r.startMs > killedAt + 250);
    console.log(`replica-killed: ${replies.length} requests, ${failed.length} failed (${failed.map((f) => f.status).join(',')}), ${afterKill.length} sent >250 ms after the kill; ready again ${restartMs} ms after the kill`);
    expect(replies.length).toBeGreaterThan(50);
    // At most the requests that were inside the killed app (each client has one request in flight).
    expect(failed.length).toBeLessThanOrEqual(CLIENTS);
    expect(afterKill.filter((r) => r.status !== 200)).toEqual([]);
    expect(afterKill.length).toBeGreaterThan(20);
  }, 60_000);

  it('a replica terminated gracefully (SIGTERM to its queue-proxy, as when a pod is deleted) loses no request', async () => {
    const { victim, endLoad } = await twoReplicasUnderLoad();
    const pid = victim.pids.sidecar!;
    // §a7: readiness fails at once, requests keep being served through the quiet period, then the sidecar exits;
    // requests that then find its port closed were never sent, so the activator gives them to the other replica.
    process.kill(pid, 'SIGTERM');
    await waitFor(() => !alive(pid), 10_000, 'queue-proxy drained and gone');
    await waitFor(() => victim.restarts >= 1 && victim.ready, 10_000, 'victim restarted and ready');
    await sleep(1000);
    const replies = await endLoad();

    const failed = replies.filter((r) => r.status !== 200);
    console.log(`replica-terminated: ${replies.length} requests, ${failed.length} failed (${failed.map((f) => f.status).join(',')})`);
    expect(replies.length).toBeGreaterThan(50);
    expect(failed).toEqual([]);
  }, 60_000);
});
