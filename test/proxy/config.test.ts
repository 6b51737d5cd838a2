import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/errors.js';
import { DEFAULTS, parseQueueProxyConfig } from '../../proxy/config.js';

const BASE: Record<string, string> = {
  CONTAINER_CONCURRENCY: '10',
  QUEUE_SERVING_PORT: '8012',
  USER_PORT: '8080',
  REVISION_TIMEOUT_SECONDS: '300',
  SERVING_NAMESPACE: 'default',
  SERVING_CONFIGURATION: 'hello',
  SERVING_REVISION: 'hello-00001',
  SERVING_POD: 'hello-00001-deployment-abc',
  SERVING_POD_IP: '10.0.0.7',
};

function problems(env: Record<string, string | undefined>): string[] {
  try {
    parseQueueProxyConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => p.key);
    throw err;
  }
  return [];
}

describe('parseQueueProxyConfig (§a2)', () => {
  it('§a2 reads Knative names and applies Knative defaults', () => {
    const c = parseQueueProxyConfig(BASE);
    expect(c).toMatchObject({
      containerConcurrency: 10,
      servingPort: 8012,
      userPort: 8080,
      revisionTimeoutMs: 300_000,
      responseStartTimeoutMs: 0,
      idleTimeoutMs: 0,
      namespace: 'default',
      configuration: 'hello',
      revision: 'hello-00001',
      pod: 'hello-00001-deployment-abc',
      podIp: '10.0.0.7',
      adminPort: 8022,
      statsPort: 9090,
      metricsPort: 9091,
      drainQuietMs: 30_000,
      websocketGraceMs: 60_000,
    });
    expect(c.retry).toEqual({ maxRetries: 2, budgetPercent: 20, budgetMinPerSecond: 10, backoffBaseMs: 25, backoffMaxMs: 250, maxBodyBytes: 65_536 });
    expect(c.circuit.enabled).toBe(DEFAULTS.circuitEnabled);
    // §a6 default probe: TCP on the user port, aggressive.
    expect(c.readinessProbes).toEqual([{ action: { kind: 'tcp', host: '127.0.0.1', port: 8080 }, successThreshold: 1, periodMs: 0, timeoutMs: 1000 }]);
    expect(Object.isFrozen(c) && Object.isFrozen(c.retry)).toBe(true);
  });

  it.each([
    'CONTAINER_CONCURRENCY',
    'USER_PORT',
    'REVISION_TIMEOUT_SECONDS',
    'SERVING_NAMESPACE',
    'SERVING_CONFIGURATION',
    'SERVING_REVISION',
    'SERVING_POD',
    'SERVING_POD_IP',
  ])('§a2 a missing required %s is named', (key) => {
    expect(problems({ ...BASE, [key]: undefined })).toEqual([key]);
  });

  it.each([
    ['CONTAINER_CONCURRENCY', 'ten'],
    ['CONTAINER_CONCURRENCY', '-1'],
    ['USER_PORT', '70000'],
    ['QUEUE_SERVING_PORT', '1.5'],
    ['REVISION_TIMEOUT_SECONDS', 'abc'],
    ['REVISION_IDLE_TIMEOUT_SECONDS', '-3'],
    ['TIDE_RETRY_MAX', '11'],
    ['TIDE_CIRCUIT_ENABLED', 'maybe'],
    ['TIDE_CIRCUIT_ERROR_PERCENT', '101'],
    ['TIDE_DRAIN_QUIET_SECONDS', 'x'],
    ['TIDE_ADMIN_PORT', '-1'],
  ])('a malformed %s=%s is named', (key, value) => {
    expect(problems({ ...BASE, [key]: value })).toEqual([key]);
  });

  it('reports every problem at once', () => {
    expect(problems({ ...BASE, USER_PORT: 'x', TIDE_RETRY_MAX: 'y', SERVING_POD: undefined }).sort()).toEqual(['SERVING_POD', 'TIDE_RETRY_MAX', 'USER_PORT']);
  });

  it('TIDE_ ports may be 0 and Tide settings are read', () => {
    const c = parseQueueProxyConfig({
      ...BASE,
      QUEUE_SERVING_PORT: '0',
      TIDE_ADMIN_PORT: '0',
      TIDE_STATS_PORT: '0',
      TIDE_METRICS_PORT: '0',
      TIDE_RETRY_MAX: '0',
      TIDE_CIRCUIT_ENABLED: 'true',
      TIDE_CIRCUIT_MIN_REQUESTS: '5',
      TIDE_CIRCUIT_RESET_SECONDS: '0.5',
      TIDE_DRAIN_QUIET_SECONDS: '0.2',
      REVISION_RESPONSE_START_TIMEOUT_SECONDS: '7',
    });
    expect([c.servingPort, c.adminPort, c.statsPort, c.metricsPort]).toEqual([0, 0, 0, 0]);
    expect(c.retry.maxRetries).toBe(0);
    expect(c.circuit).toMatchObject({ enabled: true, minRequests: 5, resetMs: 500 });
    expect(c.drainQuietMs).toBe(200);
    expect(c.responseStartTimeoutMs).toBe(7000);
  });

  describe('SERVING_READINESS_PROBE (§a6)', () => {
    it('httpGet with headers, threshold and period', () => {
      const c = parseQueueProxyConfig({
        ...BASE,
        SERVING_READINESS_PROBE: JSON.stringify({ httpGet: { path: 'healthz', port: 0, httpHeaders: [{ name: 'X-A', value: 'b' }] }, successThreshold: 2, periodSeconds: 3, timeoutSeconds: 2 }),
      });
      expect(c.readinessProbes).toEqual([
        { action: { kind: 'http', host: '127.0.0.1', port: 8080, path: '/healthz', scheme: 'http', headers: [['X-A', 'b']] }, successThreshold: 2, periodMs: 3000, timeoutMs: 2000 },
      ]);
    });
    it('tcpSocket on a named port means the user port; exec becomes TCP on the user port; arrays give several', () => {
      const c = parseQueueProxyConfig({ ...BASE, SERVING_READINESS_PROBE: JSON.stringify([{ tcpSocket: { port: 'http' } }, { exec: { command: ['true'] } }]) });
      expect(c.readinessProbes.map((p) => p.action)).toEqual([
        { kind: 'tcp', host: '127.0.0.1', port: 8080 },
        { kind: 'tcp', host: '127.0.0.1', port: 8080 },
      ]);
    });
    it('§a6 grpc with port and service; periodSeconds, timeoutSeconds and successThreshold as for the other kinds', () => {
      const c = parseQueueProxyConfig({
        ...BASE,
        TIDE_USER_HOST: '127.0.0.2',
        SERVING_READINESS_PROBE: JSON.stringify({ grpc: { port: 9000, service: 'hello.v1.Greeter' }, successThreshold: 3, periodSeconds: 5, timeoutSeconds: 2 }),
      });
      expect(c.readinessProbes).toEqual([
        { action: { kind: 'grpc', host: '127.0.0.2', port: 9000, service: 'hello.v1.Greeter' }, successThreshold: 3, periodMs: 5000, timeoutMs: 2000 },
      ]);
    });
    it('§a6 grpc port 0 or absent means the user port, a missing service is "" (the whole server), Kubernetes defaults apply', () => {
      const c = parseQueueProxyConfig({ ...BASE, SERVING_READINESS_PROBE: JSON.stringify([{ grpc: { port: 0 } }, { grpc: {} }, { grpc: { service: null } }]) });
      const want = { action: { kind: 'grpc', host: '127.0.0.1', port: 8080, service: '' }, successThreshold: 1, periodMs: 0, timeoutMs: 1000 };
      expect(c.readinessProbes).toEqual([want, want, want]);
    });
    it.each([
      ['a number', '{"grpc":{"service":5}}', 'SERVING_READINESS_PROBE.grpc.service', 'expected a string, got 5'],
      ['an object, in an array', '[{"tcpSocket":{}},{"grpc":{"service":{}}}]', 'SERVING_READINESS_PROBE[1].grpc.service', 'expected a string, got {}'],
    ])('§a6 a grpc service that is %s is a problem naming the field', (_name, value, key, message) => {
      try {
        parseQueueProxyConfig({ ...BASE, SERVING_READINESS_PROBE: value });
        expect.fail('no ConfigError');
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).problems).toEqual([{ key, message }]);
      }
    });
    it('a bad timing on a grpc probe names the field', () => {
      expect(problems({ ...BASE, SERVING_READINESS_PROBE: '{"grpc":{},"timeoutSeconds":0}' })).toEqual(['SERVING_READINESS_PROBE.timeoutSeconds']);
    });
    it.each([
      ['not json', '{'],
      ['no handler', '{}'],
      ['grpc that is not an object', '{"grpc":8080}'],
      ['empty array', '[]'],
    ])('%s is a problem naming the variable', (_name, value) => {
      expect(problems({ ...BASE, SERVING_READINESS_PROBE: value })[0]).toMatch(/^SERVING_READINESS_PROBE/);
    });
    it('a bad field names the field', () => {
      expect(problems({ ...BASE, SERVING_READINESS_PROBE: '{"tcpSocket":{},"successThreshold":0}' })).toEqual(['SERVING_READINESS_PROBE.successThreshold']);
    });
  });
});
