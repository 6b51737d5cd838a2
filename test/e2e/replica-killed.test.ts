/**
 * E2E (issue 5): a replica's app is SIGKILLed under load. The local backend sees the crash, takes the replica out of
 * the endpoints and restarts it; the activator sends new requests to the other replica. Only requests already inside
 * the killed app can fail (Knative does not retry a request the app has received); everything sent after the kill
 * succeeds, and the replica comes back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { HELLO_APP, alive, closedLoopLoad, sleep, upFromYaml, waitFor, type E2E } from './support.js';

const CLIENTS = 4;

const YAML = `
config-autoscaler:
  stable-window: 6s
  scale-to-zero-grace-period: 2s
services:
  - name: hello
    command: node
    args: [${JSON.stringify(HELLO_APP)}]
    env: { DELAY_MS: "20" }
    timeoutSeconds: 30
    annotations:
      autoscaling.knative.dev/min-scale: "2"
      autoscaling.knative.dev/initial-scale: "2"
      autoscaling.knative.dev/target: "10"
      autoscaling.knative.dev/target-burst-capacity: "-1"
`;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.stop();
  e2e = undefined;
});

describe('tide up: a replica killed under load', () => {
  it('requests keep succeeding; the killed replica restarts', async () => {
    e2e = await upFromYaml(YAML);
    const { up, base } = e2e;
    const replicas = () => up.backend.replicasOf('default', 'hello');
    await waitFor(() => replicas().filter((r) => r.ready).length === 2, 20_000, 'two ready replicas');

    let stop = false;
    const load = closedLoopLoad({ base, host: 'hello.localhost', path: '/', clients: CLIENTS, maxMs: 20_000, until: () => stop });
    await sleep(1500);
    const victim = replicas()[0]!;
    const pid = victim.pids.app!;
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !alive(pid), 2000, 'app gone');
    await waitFor(() => victim.restarts >= 1 && victim.ready, 10_000, 'victim restarted and ready');
    const restartMs = Date.now() - killedAt;
    await sleep(1500);
    stop = true;
    const replies = await load;

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
    e2e = await upFromYaml(YAML);
    const { up, base } = e2e;
    const replicas = () => up.backend.replicasOf('default', 'hello');
    await waitFor(() => replicas().filter((r) => r.ready).length === 2, 20_000, 'two ready replicas');

    let stop = false;
    const load = closedLoopLoad({ base, host: 'hello.localhost', path: '/', clients: CLIENTS, maxMs: 20_000, until: () => stop });
    await sleep(1500);
    const victim = replicas()[0]!;
    const pid = victim.pids.sidecar!;
    // §a7: readiness fails at once, requests keep being served through the quiet period, then the sidecar exits;
    // requests that then find its port closed were never sent, so the activator gives them to the other replica.
    process.kill(pid, 'SIGTERM');
    await waitFor(() => !alive(pid), 10_000, 'queue-proxy drained and gone');
    await waitFor(() => victim.restarts >= 1 && victim.ready, 10_000, 'victim restarted and ready');
    await sleep(1000);
    stop = true;
    const replies = await load;

    const failed = replies.filter((r) => r.status !== 200);
    console.log(`replica-terminated: ${replies.length} requests, ${failed.length} failed (${failed.map((f) => f.status).join(',')})`);
    expect(replies.length).toBeGreaterThan(50);
    expect(failed).toEqual([]);
  }, 60_000);
});
