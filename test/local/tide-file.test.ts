/** tide.yaml: parsing, defaults, and every problem named by service and key before anything starts. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import { parseTideFile } from '../../local/tide-file.js';
import { resolveTideFile } from '../../local/resolve.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/tide.yaml', import.meta.url));

function check(text: string) {
  const parsed = parseTideFile(text, '/base');
  const resolved = parsed.file ? resolveTideFile(parsed.file) : undefined;
  return { parsed, resolved, problems: [...parsed.problems, ...(resolved?.problems ?? [])] };
}

const svc = (extra: string): string => `services:\n  - name: hello\n    command: node\n    args: [server.mjs]\n${extra}`;

describe('tide.yaml', () => {
  it('the bundled example is valid and starts its service at zero', () => {
    const { problems, resolved } = check(readFileSync(EXAMPLE, 'utf8'));
    expect(problems).toEqual([]);
    const hello = resolved!.services[0]!;
    expect(hello.decl.name).toBe('hello');
    expect(hello.spec.scaler.initialScale).toBe(0);
    expect(hello.spec.scaler.minScale).toBe(0);
    expect(parseTideFile(readFileSync(EXAMPLE, 'utf8'), dirname(EXAMPLE)).file!.services[0]!.cwd).toBe(dirname(EXAMPLE));
  });

  it('applies defaults: PORT, cwd = the file folder, Knative timeouts, grace = timeoutSeconds (§a7)', () => {
    const { problems, resolved } = check(svc(''));
    expect(problems).toEqual([]);
    const s = resolved!.services[0]!;
    expect(s.decl).toMatchObject({ command: 'node', args: ['server.mjs'], cwd: '/base', portEnv: 'PORT', env: {} });
    expect(s.spec.containerConcurrency).toBe(0);
    expect(s.spec.timeoutSeconds).toBe(300);
    expect(s.gracePeriodMs).toBe(300_000);
    expect(resolved!.namespace).toBe('default');
  });

  it('reads every service field and passes spec fields through tide validate’s checks', () => {
    const { problems, resolved } = check(
      svc(`    cwd: app\n    env: { DELAY_MS: 5, DEBUG: true }\n    portEnv: HTTP_PORT\n    containerConcurrency: 4\n    timeoutSeconds: 20\n` +
        `    responseStartTimeoutSeconds: 5\n    idleTimeoutSeconds: 3\n    terminationGracePeriodSeconds: 7\n` +
        `    readinessProbe: { httpGet: { path: /healthz } }\n    annotations: { autoscaling.knative.dev/target: 3 }\n`) +
        `config-autoscaler:\n  stable-window: 6s\n  scale-to-zero-grace-period: 2s\n`,
    );
    expect(problems).toEqual([]);
    const s = resolved!.services[0]!;
    expect(s.decl).toMatchObject({ cwd: '/base/app', env: { DELAY_MS: '5', DEBUG: 'true' }, portEnv: 'HTTP_PORT', readinessProbe: { httpGet: { path: '/healthz' } } });
    expect(s.spec).toMatchObject({ containerConcurrency: 4, timeoutSeconds: 20, responseStartTimeoutSeconds: 5, idleTimeoutSeconds: 3 });
    expect(s.spec.decider.targetValue).toBeCloseTo(3 * 0.7);
    expect(s.spec.decider.stableWindowMs).toBe(6000);
    expect(s.spec.scaler.scaleToZeroGracePeriodMs).toBe(2000);
    expect(s.gracePeriodMs).toBe(7000);
  });

  it('§a6 a grpc readinessProbe passes tide validate’s checks, as the queue-proxy now runs it', () => {
    const { problems, resolved } = check(svc('    readinessProbe: { grpc: { port: 0, service: hello.v1.Greeter }, periodSeconds: 2 }\n'));
    expect(problems).toEqual([]);
    expect(resolved!.services[0]!.decl.readinessProbe).toEqual({ grpc: { port: 0, service: 'hello.v1.Greeter' }, periodSeconds: 2 });
  });

  it.each([
    { name: 'unknown top-level key', text: svc('') + 'servics: []\n', key: 'servics', msg: /unknown key/ },
    { name: 'no services', text: 'services: []\n', key: 'services', msg: /non-empty list/ },
    { name: 'missing command', text: 'services:\n  - name: hello\n', key: 'services.hello.command', msg: /is required/ },
    { name: 'missing name', text: 'services:\n  - command: node\n', key: 'services[0].name', msg: /is required/ },
    { name: 'name not a DNS label', text: 'services:\n  - name: Hello_World\n    command: node\n', key: 'services[0].name', msg: /DNS label/ },
    { name: 'duplicate name', text: svc('') + '  - name: hello\n    command: node\n', key: 'services.hello.name', msg: /duplicate/ },
    { name: 'unknown service key', text: svc('    replicas: 3\n'), key: 'services.hello.replicas', msg: /unknown key/ },
    { name: 'bad port variable', text: svc('    portEnv: "my port"\n'), key: 'services.hello.portEnv', msg: /environment variable name/ },
    { name: 'port variable also in env', text: svc('    env: { PORT: "80" }\n'), key: 'services.hello.env.PORT', msg: /tide up sets it/ },
    { name: 'env value not a scalar', text: svc('    env: { A: [1] }\n'), key: 'services.hello.env.A', msg: /expected a string/ },
    { name: 'args not a list', text: svc('    args: server.mjs\n').replace('    args: [server.mjs]\n', ''), key: 'services.hello.args', msg: /list of strings/ },
    // The following come from tide validate's own checks (resolveRevisionSpec / parseAutoscalerConfig).
    { name: 'containerConcurrency out of range', text: svc('    containerConcurrency: 5000\n'), key: 'services.hello.containerConcurrency', msg: /5000/ },
    { name: 'timeoutSeconds above the max', text: svc('    timeoutSeconds: 601\n'), key: 'services.hello.timeoutSeconds', msg: /601/ },
    { name: 'bad annotation value', text: svc('    annotations: { autoscaling.knative.dev/min-scale: "-1" }\n'), key: 'services.hello.annotations.autoscaling.knative.dev/min-scale', msg: /-1/ },
    { name: 'misspelt annotation', text: svc('    annotations: { autoscaling.knative.dev/max-scal: "3" }\n'), key: 'services.hello.annotations.autoscaling.knative.dev/max-scal', msg: /unknown annotation/ },
    { name: 'bad config-autoscaler value', text: svc('') + 'config-autoscaler:\n  stable-window: 2s\n', key: 'config-autoscaler.stable-window', msg: /./ },
    { name: 'bad readiness probe', text: svc('    readinessProbe: { exec: nope }\n'), key: 'services.hello.readinessProbe', msg: /tcpSocket, httpGet, grpc or exec/ },
    { name: 'bad grpc probe service', text: svc('    readinessProbe: { grpc: { service: 5 } }\n'), key: 'services.hello.readinessProbe.grpc.service', msg: /expected a string, got 5/ },
    { name: 'YAML syntax error', text: 'services: [\n', key: 'line', msg: /./ },
  ])('$name → a problem at $key', ({ text, key, msg }) => {
    const { problems } = check(text);
    const hit = problems.find((p) => p.key === key || (key === 'line' && p.key.startsWith('line ')));
    expect(hit, JSON.stringify(problems)).toBeDefined();
    expect(hit!.message).toMatch(msg);
  });
});
