/** `tide up` refuses bad input before anything starts: exit 2, one line per problem naming the service and key. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runTide } from '../support/cli.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function yamlFile(text: string): string {
  dir = mkdtempSync(join(tmpdir(), 'tide-up-cli-'));
  const file = join(dir, 'tide.yaml');
  writeFileSync(file, text);
  return file;
}

describe('tide up (CLI)', () => {
  it('bad tide.yaml: exit 2, every problem named by service and key, nothing started', async () => {
    const file = yamlFile(
      'config-autoscaler:\n  stable-window: 1s\nservices:\n  - name: api\n    command: node\n    portEnv: "no good"\n' +
        '    annotations: { autoscaling.knative.dev/max-scale: "-3" }\n  - name: worker\n',
    );
    const r = await runTide(['up', '-f', file, '--port', '0', '--dashboard-port', '0'], { cwd: dir! });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('nothing started');
    expect(r.stderr).toMatch(/config-autoscaler\.stable-window: /);
    expect(r.stderr).toMatch(/services\.api\.portEnv: /);
    expect(r.stderr).toMatch(/services\.api\.annotations\.autoscaling\.knative\.dev\/max-scale: .*-3/);
    expect(r.stderr).toMatch(/services\.worker\.command: is required/);
    expect(existsSync(join(dir!, '.tide'))).toBe(false);
  });

  it.each([
    [['up', '--port', 'eighty'], /--port must be a port number/],
    [['up', '--dashboard-port', '70000'], /--dashboard-port must be a port number/],
    [['up', '--log-level', 'loud'], /--log-level must be one of/],
    [['up', '--bogus'], /Unknown option/],
    [['up', '-f', '/nonexistent/tide.yaml'], /cannot read/],
  ])('tide %j → exit 2 naming the flag', async (args, msg) => {
    const r = await runTide(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
  });

  it('--help documents the flags', async () => {
    const r = await runTide(['up', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['-f, --file', '--port', '--dashboard-port', '--log-dir']) expect(r.stdout).toContain(flag);
  });
});
