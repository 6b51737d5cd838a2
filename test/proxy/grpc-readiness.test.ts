/** A `grpc` SERVING_READINESS_PROBE through the whole queue-proxy (§a6: the QP runs the user container's gRPC probe). */
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import { until } from '../common/http/helpers.js';
import { call, KUBE_PROBE, startQp } from './fixtures.js';
import { startHealthServer } from './health-server.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** A gRPC app whose Health service says NOT_SERVING for `service`, and a queue-proxy probing it with `probe`. */
async function setup(service: string, probe: Record<string, unknown>) {
  const app = await startHealthServer();
  closers.push(() => app.close());
  app.statuses.set(service, 'NOT_SERVING');
  const qp = await startQp(app.port, { SERVING_READINESS_PROBE: JSON.stringify(probe) });
  closers.push(() => qp.close());
  const agent = new Agent();
  closers.push(() => agent.close());
  return { app, qp, agent, port: qp.ports.serving };
}

describe('grpc readiness probe through the queue-proxy (§a6)', () => {
  it('§a6 periodSeconds > 0: the health check follows the app’s Health status, one Check per health check', async () => {
    const { app, agent, port } = await setup('hello.v1.Greeter', { grpc: { port: 0, service: 'hello.v1.Greeter' }, periodSeconds: 1, timeoutSeconds: 1 });
    expect(await call(agent, port, { headers: KUBE_PROBE })).toMatchObject({ status: 503, body: '' });
    app.statuses.set('hello.v1.Greeter', 'SERVING');
    expect(await call(agent, port, { headers: KUBE_PROBE })).toMatchObject({ status: 200, body: 'queue' });
    app.statuses.set('hello.v1.Greeter', 'NOT_SERVING');
    expect(await call(agent, port, { headers: KUBE_PROBE })).toMatchObject({ status: 503, body: '' });
    // The probe went to the user port (port 0) and named the service; the start-up probe may add one more.
    expect(app.checks.length).toBeGreaterThanOrEqual(3);
    expect(app.checks.length).toBeLessThanOrEqual(4);
    expect(new Set(app.checks)).toEqual(new Set(['hello.v1.Greeter']));
  });

  it('§a6 periodSeconds 0: polls every 50 ms while NOT_SERVING and turns ready at the first poll after SERVING', async () => {
    const { app, qp, agent, port } = await setup('', { grpc: {} });
    const probe = call(agent, port, { headers: KUBE_PROBE });
    const ready = qp.qp.readiness.isReady();
    // Polls repeat while NOT_SERVING (every 50 ms; waited for with a deadline, not a fixed sleep, so a busy machine
    // slows the test instead of failing it).
    await until(() => app.checks.length >= 2, 5000);
    expect(app.checks.length).toBeGreaterThanOrEqual(2);
    const servingAt = Date.now();
    app.statuses.set('', 'SERVING');
    expect(await ready).toBe(true);
    expect(await probe).toMatchObject({ status: 200, body: 'queue' });
    // One poll interval plus one attempt, with room for a busy machine.
    expect(Date.now() - servingAt).toBeLessThan(500);
  });
});
