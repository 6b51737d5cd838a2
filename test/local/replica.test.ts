/** The local replica: app + queue-proxy processes, readiness from the probe, crash → restart, graceful stop (§a7). */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { systemClock } from '../../common/clock.js';
import { silentLogger } from '../../common/logger.js';
import { probeQueueProxy } from '../../local/http/probe.js';
import { Replica, type ReplicaPhase } from '../../local/process/replica.js';
import { isListening } from '../../local/process/ports.js';
import { alive, fakeLaunch, fakeService, read, tempDir, waitFor } from './support.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startReplica(opts: { env?: Record<string, string>; qpEnv?: Record<string, string>; graceMs?: number } = {}) {
  const tmp = tempDir();
  cleanups.push(tmp.remove);
  const service = fakeService({ env: opts.env ?? {} });
  const launch = await fakeLaunch(service, 'fake-1', tmp.dir, opts.qpEnv);
  const phases: ReplicaPhase[] = [];
  const replica = new Replica({
    name: 'fake-1',
    launch,
    probe: probeQueueProxy,
    clock: systemClock,
    logger: silentLogger(),
    gracePeriodMs: opts.graceMs ?? 5000,
    readyProbeMs: 100,
    onChange: (r) => phases.push(r.phase),
  });
  cleanups.push(() => replica.killNow());
  replica.start();
  return { replica, launch, phases, dir: tmp.dir };
}

describe('local replica', () => {
  it('starts the app and its queue-proxy and turns ready when the queue-proxy probe passes (§a6)', async () => {
    const { replica, launch } = await startReplica();
    expect(replica.phase).toBe('starting');
    await waitFor(() => replica.ready, 5000, 'ready');
    expect(replica.readySinceMs).toBeGreaterThan(0);
    expect(alive(replica.pids.app)).toBe(true);
    expect(alive(replica.pids.sidecar)).toBe(true);
    expect(await probeQueueProxy(launch.servingAddress, 500)).toBe(true);
    // Output is kept in a log file per process.
    await waitFor(() => read(launch.app.logFile).includes('fake-app'), 2000, 'app log');
    expect(read(launch.app.logFile)).toContain('tide: starting app of fake-1');
  });

  it('restarts both processes after the app crashes, with backoff, and becomes ready again', async () => {
    const marker = tempDir();
    cleanups.push(marker.remove);
    const { replica, phases } = await startReplica({ env: { FAKE_CRASH_ONCE_FILE: join(marker.dir, 'crashed-once'), FAKE_CRASH_AFTER_MS: '300' } });
    await waitFor(() => replica.ready, 5000, 'first ready');
    const first = replica.pids;
    await waitFor(() => replica.restarts === 1 && replica.ready, 8000, 'ready after restart');
    expect(phases).toContain('crashed');
    // The first generation is gone: the crashed app and the queue-proxy that was killed with it.
    await waitFor(() => !alive(first.app) && !alive(first.sidecar), 2000, 'old processes gone');
    expect(replica.pids.app).not.toBe(first.app);
    expect(read(replica.launch.app.logFile)).toContain('tide: app exited with code 1');
  });

  it('§a7 graceful stop: SIGTERM to the queue-proxy first, the app only after the queue-proxy has drained', async () => {
    const { replica, launch } = await startReplica({ qpEnv: { FAKE_DRAIN_MS: '300' } });
    await waitFor(() => replica.ready, 5000, 'ready');
    const { app, sidecar } = replica.pids;
    await replica.stop();
    expect(replica.phase).toBe('stopped');
    expect(alive(app)).toBe(false);
    expect(alive(sidecar)).toBe(false);
    const qpExit = Number(/fake-qp exiting at (\d+)/.exec(read(launch.sidecar.logFile))?.[1]);
    const appTerm = Number(/fake-app got SIGTERM at (\d+)/.exec(read(launch.app.logFile))?.[1]);
    expect(qpExit).toBeGreaterThan(0);
    expect(appTerm).toBeGreaterThanOrEqual(qpExit);
    expect(await isListening(Number(launch.servingAddress.split(':')[1]))).toBe(false);
  });

  it('SIGKILLs an app that ignores SIGTERM once the grace period is over', async () => {
    const { replica } = await startReplica({ env: { FAKE_IGNORE_TERM: '1' }, graceMs: 400 });
    await waitFor(() => replica.ready, 5000, 'ready');
    const { app } = replica.pids;
    const t0 = Date.now();
    await replica.stop();
    const took = Date.now() - t0;
    expect(alive(app)).toBe(false);
    expect(took).toBeGreaterThanOrEqual(350);
    expect(took).toBeLessThan(3000);
    expect(read(replica.launch.app.logFile)).toContain('killed by SIGKILL');
  });

  it('killNow() SIGKILLs both processes and is not taken for a crash (no restart)', async () => {
    const { replica } = await startReplica();
    await waitFor(() => replica.ready, 5000, 'ready');
    const { app, sidecar } = replica.pids;
    replica.killNow();
    await waitFor(() => replica.phase === 'stopped', 2000, 'stopped');
    await new Promise((r) => setTimeout(r, 600)); // longer than the first restart backoff
    expect(alive(app) || alive(sidecar)).toBe(false);
    expect(replica.restarts).toBe(0);
    expect(replica.pids).toEqual({ app: undefined, sidecar: undefined });
  });

  it('a command that cannot start counts as a crash and is retried, never thrown', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const launch = await fakeLaunch(fakeService({ command: '/nonexistent/tide-test-binary' }), 'bad-1', tmp.dir);
    const replica = new Replica({ name: 'bad-1', launch, probe: probeQueueProxy, clock: systemClock, logger: silentLogger(), gracePeriodMs: 1000, onChange: () => {} });
    cleanups.push(() => replica.killNow());
    replica.start();
    await waitFor(() => replica.restarts >= 1, 3000, 'a restart');
    expect(replica.ready).toBe(false);
    expect(read(launch.app.logFile)).toContain('failed to start');
    await replica.stop();
    expect(replica.phase).toBe('stopped');
  });
});
