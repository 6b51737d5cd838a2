import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runTide, TIDE_BIN } from '../support/cli.js';
import { send } from './harness.js';
import { startPod, type FakePod } from './pods.js';

let dir = '';
const pods: FakePod[] = [];
afterEach(async () => {
  for (const p of pods.splice(0)) await p.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

function writeConfig(text: string): string {
  dir = mkdtempSync(join(tmpdir(), 'tide-act-cli-'));
  const file = join(dir, 'activator.yaml');
  writeFileSync(file, text);
  return file;
}

describe('tide activator', () => {
  it.each([
    { name: 'no --config', args: [], want: /--config FILE is required/ },
    { name: 'bad --port', args: ['--config', 'x.yaml', '--port', 'http'], want: /--port must be a port number/ },
    { name: 'bad --autoscaler', args: ['--config', 'x.yaml', '--autoscaler', 'nohost'], want: /--autoscaler: expected HOST:PORT/ },
    { name: 'unknown flag', args: ['--config', 'x.yaml', '--bogus'], want: /Unknown option '--bogus'/ },
  ])('$name → exit 2 naming the flag', async ({ args, want }) => {
    const r = await runTide(['activator', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(want);
  });

  it('a bad config file → exit 2 naming the key', async () => {
    const file = writeConfig('revisions:\n  - revision: hello\n    containerConcurrency: lots\n');
    const r = await runTide(['activator', '--config', file, '--port', '0', '--metrics-port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('revisions[0].containerConcurrency');
  });

  it('serves a static revision, then drains on SIGTERM and exits 0', async () => {
    const pod = await startPod('a');
    pods.push(pod);
    const file = writeConfig(
      [
        'activator: { drainDelayMs: 50 }',
        'revisions:',
        '  - revision: hello',
        '    hosts: [hello.localhost]',
        '    containerConcurrency: 1',
        `    endpoints: [{ name: a, address: "${pod.address}" }]`,
      ].join('\n'),
    );
    const child = spawn(process.execPath, [TIDE_BIN, 'activator', '--config', file, '--port', '0', '--metrics-port', '0', '--host', '127.0.0.1'], {
      env: { ...process.env, TIDE_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    try {
      let stderr = '';
      const port = await new Promise<number>((resolve, reject) => {
        child.stderr.setEncoding('utf8').on('data', (d: string) => {
          stderr += d;
          const m = /"port":(\d+)[^\n]*activator listening/.exec(stderr);
          if (m) resolve(Number(m[1]));
        });
        child.on('exit', () => reject(new Error(`exited early: ${stderr}`)));
      });
      const r = await send(port);
      expect([r.status, r.body]).toEqual([200, 'a:0']);
      const code = await new Promise<number | null>((resolve) => {
        child.on('exit', (c) => resolve(c));
        child.kill('SIGTERM');
      });
      expect(code).toBe(0);
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
    }
  });
});
