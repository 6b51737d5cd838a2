/** Drain on SIGTERM and /wait-for-drain (§a7) through the whole queue-proxy, plus the real binary's start-up and exit. */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { Agent } from 'undici';
import { runTide, TIDE_BIN } from '../support/cli.js';
import { BASE_ENV, call, KUBE_PROBE, sleep, slow, startApp, startQp, until } from './fixtures.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

describe('drain (§a7)', () => {
  it('§a7 in-flight and queued requests all finish, health fails at once, new requests during the quiet period are served with Connection: close', async () => {
    const app = await startApp(slow(150));
    closers.push(() => app.close());
    const qp = await startQp(app.port, { CONTAINER_CONCURRENCY: '1', TIDE_DRAIN_QUIET_SECONDS: '0.3' });
    closers.push(() => qp.close());
    const agent = new Agent({ connections: 20 });
    closers.push(() => agent.close());
    const port = qp.ports.serving;
    const early = Promise.all(Array.from({ length: 3 }, () => call(agent, port)));
    await until(() => qp.qp.breaker!.inFlight === 3);
    const t0 = Date.now();
    const terminated = qp.terminate();
    const health = await call(agent, port, { headers: KUBE_PROBE });
    expect(health).toMatchObject({ status: 503, body: 'shutting down' });
    expect(Date.now() - t0).toBeLessThan(100);
    await sleep(200);
    // Arrives during the quiet period: served, and restarts the timer.
    const late = await call(agent, port);
    expect(late.status).toBe(200);
    expect(late.headers['connection']).toBe('close');
    const done = await early;
    expect(done.map((r) => r.status)).toEqual([200, 200, 200]);
    await terminated;
    // The quiet period restarted when the late request arrived (≈200 ms after SIGTERM), so it ended ≥ 200 + 300 ms.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    expect(app.seen).toHaveLength(4);
    expect(await refused(port)).toBe(true);
  });

  it('§a7 /wait-for-drain returns 200 when the drain started by SIGTERM finishes', async () => {
    const app = await startApp();
    closers.push(() => app.close());
    const qp = await startQp(app.port, { TIDE_DRAIN_QUIET_SECONDS: '0.3' });
    closers.push(() => qp.close());
    const agent = new Agent();
    closers.push(() => agent.close());
    const t0 = Date.now();
    const waiting = call(agent, qp.ports.admin, { path: '/wait-for-drain' });
    await sleep(50);
    const terminated = qp.terminate();
    const r = await waiting;
    expect(r.status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    await terminated;
  });

  it('§a7 /wait-for-drain without a SIGTERM within 1 s resets the drainer (health passes again)', async () => {
    const app = await startApp();
    closers.push(() => app.close());
    const qp = await startQp(app.port, { TIDE_DRAIN_QUIET_SECONDS: '5' });
    closers.push(() => qp.close());
    const agent = new Agent();
    closers.push(() => agent.close());
    const t0 = Date.now();
    const waiting = call(agent, qp.ports.admin, { path: '/wait-for-drain' });
    await sleep(100);
    expect(await call(agent, qp.ports.serving, { headers: KUBE_PROBE })).toMatchObject({ status: 503, body: 'shutting down' });
    expect((await waiting).status).toBe(200);
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(1000);
    expect(waited).toBeLessThan(2500);
    expect(qp.qp.drainer.isDraining).toBe(false);
    expect(await call(agent, qp.ports.serving, { headers: KUBE_PROBE })).toMatchObject({ status: 200, body: 'queue' });
    expect((await call(agent, qp.ports.admin, { path: '/other' })).status).toBe(404);
  });
});

describe('tide queue-proxy binary', () => {
  it('§a2 a missing or malformed variable stops start-up with a message naming it', async () => {
    const env = { ...BASE_ENV, USER_PORT: '', CONTAINER_CONCURRENCY: 'lots' };
    const r = await runTide(['queue-proxy'], { env, timeoutMs: 10_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('USER_PORT: is required but not set');
    expect(r.stderr).toContain('CONTAINER_CONCURRENCY: invalid value "lots"');
    expect(r.stdout).toBe('');
  });

  it('§a7 serves, then on SIGTERM drains and exits 0; logs are JSON on stderr, nothing on stdout', async () => {
    const app = await startApp();
    closers.push(() => app.close());
    const child = spawn(process.execPath, [TIDE_BIN, 'queue-proxy'], {
      env: { ...process.env, ...BASE_ENV, USER_PORT: String(app.port), TIDE_LOG_LEVEL: 'info', TIDE_DRAIN_QUIET_SECONDS: '0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    closers.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await until(() => stderr.includes('queue-proxy listening'), 10_000);
    const line = stderr.split('\n').find((l) => l.includes('queue-proxy listening'))!;
    const ports = (JSON.parse(line) as { ports: { serving: number } }).ports;
    const agent = new Agent();
    closers.push(() => agent.close());
    expect((await call(agent, ports.serving)).status).toBe(200);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toBe('');
    for (const l of stderr.trim().split('\n')) expect(() => JSON.parse(l) as unknown).not.toThrow();
    expect(stderr).toContain('queue-proxy stopped');
  });
});
