import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/errors.js';
import { DEFAULTS, parseStaticConfig, resolveActivatorConfig } from '../../activator/config.js';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.key}: ${p.message}`);
    throw err;
  }
  return [];
}

describe('activator settings', () => {
  it('defaults are Knative numbers where Knative has one', () => {
    expect(DEFAULTS).toMatchObject({ probeIntervalMs: 200, probeTimeoutMs: 300, statsIntervalMs: 1000, drainDelayMs: 45_000, maxWaitingPerRevision: 10_000 });
    expect(resolveActivatorConfig({ maxWaitingTotal: 5 }).maxWaitingTotal).toBe(5);
  });

  it('names every bad key at once', () => {
    const got = problems(() => resolveActivatorConfig({ maxWaitingTotal: 0, probeIntervalMs: 1.5, bogus: 1 } as never));
    expect(got).toEqual([
      expect.stringMatching(/^maxWaitingTotal: expected an integer/),
      expect.stringMatching(/^probeIntervalMs: expected an integer/),
      'bogus: unknown setting',
    ]);
  });
});

describe('static config file', () => {
  it('parses revisions with defaults', () => {
    const cfg = parseStaticConfig({
      activator: { maxWaitingPerRevision: 5 },
      revisions: [{ revision: 'hello-1', hosts: ['Hello.localhost'], endpoints: [{ address: '127.0.0.1:9001' }] }],
    });
    expect(cfg.settings).toEqual({ maxWaitingPerRevision: 5 });
    expect(cfg.revisions[0]).toEqual({
      info: { namespace: 'default', revision: 'hello-1', hosts: ['hello.localhost'], containerConcurrency: 0, timeoutSeconds: 300, responseStartTimeoutSeconds: 300, idleTimeoutSeconds: 0 },
      endpoints: [{ name: '127.0.0.1:9001', address: '127.0.0.1:9001', ready: true }],
      mode: 'proxy',
    });
  });

  it('reports every problem with its key path', () => {
    const got = problems(() =>
      parseStaticConfig({
        activator: { drainDelayMs: -1 },
        revisions: [
          { revision: 'a', hosts: ['x.localhost'], containerConcurrency: -1, mode: 'fast', endpoints: [{ address: 'nohost' }] },
          { revision: 'B', hosts: ['x.localhost'], extra: 1 },
        ],
      }),
    );
    expect(got).toEqual([
      expect.stringMatching(/^activator\.drainDelayMs: /),
      expect.stringMatching(/^revisions\[0\]\.containerConcurrency: expected an integer in \[0, 1000\]/),
      'revisions[0].mode: expected proxy or serve',
      'revisions[0].endpoints[0].address: expected host:port',
      'revisions[1].revision: expected a DNS label',
      expect.stringMatching(/^revisions\[1\]\.hosts\[0\]: host x\.localhost already routes to default\/a/),
      'revisions[1].extra: unknown key',
    ]);
  });
});
