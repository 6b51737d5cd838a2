import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAutoscalerFlags } from '../../../cli/autoscaler.js';
import { DEFAULTS as QUEUE_PROXY_DEFAULTS } from '../../../proxy/config.js';
import { runTide, TIDE_BIN } from '../../support/cli.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('tide autoscaler', () => {
  it('default ports: stats 8080, HTTP 9095, neither one a queue-proxy port, so every component fits on one host', () => {
    const flags = parseAutoscalerFlags([], {});
    expect({ stats: flags.statsPort, http: flags.httpPort }).toEqual({ stats: 8080, http: 9095 });
    const queueProxy = [QUEUE_PROXY_DEFAULTS.servingPort, QUEUE_PROXY_DEFAULTS.adminPort, QUEUE_PROXY_DEFAULTS.statsPort, QUEUE_PROXY_DEFAULTS.metricsPort];
    expect(queueProxy).not.toContain(flags.httpPort);
    expect(queueProxy).not.toContain(flags.statsPort);
  });

  it('--backend kubernetes with an unreachable API server prints one error line and exits 1 (test/kube/backend-cli.test.ts has the rest)', async () => {
    const r = await runTide(['autoscaler', '--backend', 'kubernetes', '--kubeconfig', '/nonexistent/kubeconfig'], { timeoutMs: 40_000 });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('tide autoscaler: cannot load kubeconfig /nonexistent/kubeconfig');
  });

  it.each([
    { args: ['--stats-port', 'abc'], want: '--stats-port must be a port number' },
    { args: ['--http-port', '70000'], want: '--http-port must be a port number' },
    { args: ['--backend', 'docker'], want: '--backend: expected local or kubernetes' },
    { args: ['--frobnicate'], want: "Unknown option '--frobnicate'" },
  ])('bad flag $args exits 2 naming it', async ({ args, want }) => {
    const r = await runTide(['autoscaler', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(want);
  });

  it('--backend local serves the stats receiver and the dashboard, prints both addresses, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [TIDE_BIN, 'autoscaler', '--backend', 'local', '--stats-port', '0', '--http-port', '0'], {
      env: { ...process.env, TIDE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const dashboard = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no dashboard address within 10 s; stdout=${stdout} stderr=${stderr}`)), 10_000);
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        const m = /dashboard:\s+(http:\/\/\S+)/.exec(stdout);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
    expect(stdout).toMatch(/stats \(gRPC\): 127\.0\.0\.1:\d+/);
    expect(stdout).toContain('tide up');
    expect((await fetch(new URL('healthz', dashboard))).status).toBe(200);
    const revisions = (await (await fetch(new URL('api/revisions', dashboard))).json()) as { revisions: unknown[] };
    expect(revisions.revisions).toEqual([]);
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
  });
});
