/** One replica's processes: the app gets its port variable, the queue-proxy Knative's environment (§a2) + TIDE_* ports. */
import { describe, expect, it } from 'vitest';
import { parseQueueProxyConfig } from '../../proxy/config.js';
import { logFiles, prepareLaunch, resolveCommand } from '../../local/launch.js';
import { fakeService } from './support.js';

describe('prepareLaunch', () => {
  it('gives the app its port variable and the queue-proxy an environment its own config reader accepts', async () => {
    const service = fakeService({ name: 'api', portEnv: 'HTTP_PORT', env: { GREETING: 'hi' }, readinessProbe: { httpGet: { path: '/healthz' } } });
    const knobs = { containerConcurrency: 3, timeoutSeconds: 20, responseStartTimeoutSeconds: 5, idleTimeoutSeconds: 2 };
    const l = await prepareLaunch(service, knobs, 'api-7', {
      namespace: 'team',
      queueProxy: ['/bin/tide', 'queue-proxy'],
      logDir: '/logs',
      baseEnv: { PATH: '/usr/bin', HOME: '/home/me' },
      drainQuietSeconds: 1,
      host: '127.0.0.1',
    });
    const userPort = Number(l.app.env['HTTP_PORT']);
    expect(userPort).toBeGreaterThan(0);
    expect(l.app.env).toMatchObject({ GREETING: 'hi', HOME: '/home/me', K_SERVICE: 'api', K_REVISION: 'api' });
    expect(l.app.command).toBe(process.execPath); // `node` is this Node
    expect(l.app.logFile).toBe('/logs/api/api-7.log');
    expect(l.sidecar).toMatchObject({ command: '/bin/tide', args: ['queue-proxy'], logFile: '/logs/api/api-7.queue-proxy.log' });

    const qp = parseQueueProxyConfig(l.sidecar.env);
    expect(qp).toMatchObject({
      containerConcurrency: 3,
      userPort,
      revisionTimeoutMs: 20_000,
      responseStartTimeoutMs: 5000,
      idleTimeoutMs: 2000,
      namespace: 'team',
      revision: 'api',
      pod: 'api-7',
      bindHost: '127.0.0.1',
      drainQuietMs: 1000,
    });
    expect(qp.readinessProbes[0]!.action).toMatchObject({ kind: 'http', path: '/healthz', port: userPort });
    const ports = [userPort, qp.servingPort, qp.adminPort, qp.statsPort, qp.metricsPort];
    expect(new Set(ports).size).toBe(5);
    expect(l.servingAddress).toBe(`127.0.0.1:${qp.servingPort}`);
    expect(l.statsAddress).toBe(`127.0.0.1:${qp.statsPort}`);
    // The app's own environment does not leak into the queue-proxy's.
    expect(l.sidecar.env['GREETING']).toBeUndefined();
  });

  it('§a6 hands a grpc readinessProbe to the queue-proxy, which runs it against the app port on the replica host', async () => {
    const service = fakeService({ name: 'api', readinessProbe: { grpc: { service: 'api.v1.Api' }, periodSeconds: 1 } });
    const knobs = { containerConcurrency: 0, timeoutSeconds: 20, responseStartTimeoutSeconds: 0, idleTimeoutSeconds: 0 };
    const l = await prepareLaunch(service, knobs, 'api-1', {
      namespace: 'team',
      queueProxy: ['/bin/tide', 'queue-proxy'],
      logDir: '/logs',
      baseEnv: {},
      drainQuietSeconds: 1,
      host: '127.0.0.1',
    });
    const qp = parseQueueProxyConfig(l.sidecar.env);
    expect(qp.readinessProbes).toEqual([
      { action: { kind: 'grpc', host: '127.0.0.1', port: Number(l.app.env['PORT']), service: 'api.v1.Api' }, successThreshold: 1, periodMs: 1000, timeoutMs: 1000 },
    ]);
  });

  it('resolves `node` to this Node binary and leaves other commands alone', () => {
    expect(resolveCommand('node')).toBe(process.execPath);
    expect(resolveCommand('python3')).toBe('python3');
    expect(logFiles('/l', 's', 's-1')).toEqual({ app: '/l/s/s-1.log', sidecar: '/l/s/s-1.queue-proxy.log' });
  });
});
