import { describe, expect, it } from 'vitest';
import { runTide } from './support/cli.js';

describe('tide executable', () => {
  it('prints usage listing every command with --help', async () => {
    const r = await runTide(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['up', 'queue-proxy', 'activator', 'autoscaler', 'validate', 'simulate', 'replay']) expect(r.stdout).toContain(c);
  });

  it('names an unknown command and exits 2', async () => {
    const r = await runTide(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
  });
});
