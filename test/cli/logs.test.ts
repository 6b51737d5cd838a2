/** `tide logs SERVICE`: every replica's file, lines prefixed by replica, in replica order; errors name what is missing. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runTide } from '../support/cli.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function logs(): string {
  dir = mkdtempSync(join(tmpdir(), 'tide-logs-'));
  const svc = join(dir, '.tide', 'logs', 'hello');
  mkdirSync(svc, { recursive: true });
  writeFileSync(join(svc, 'hello-10.log'), 'ten a\nten b\n');
  writeFileSync(join(svc, 'hello-2.log'), 'two a\ntwo b (no newline)');
  writeFileSync(join(svc, 'hello-2.queue-proxy.log'), '{"msg":"qp"}\n');
  return dir;
}

describe('tide logs', () => {
  it('prints the app logs of every replica, prefixed, hello-2 before hello-10', async () => {
    const r = await runTide(['logs', 'hello'], { cwd: logs() });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('hello-2 | two a\nhello-2 | two b (no newline)\nhello-10 | ten a\nhello-10 | ten b\n');
  });

  it('--queue-proxy prints the queue-proxy logs instead', async () => {
    const r = await runTide(['logs', 'hello', '--queue-proxy'], { cwd: logs() });
    expect(r.stdout).toBe('hello-2/qp | {"msg":"qp"}\n');
  });

  it('an unknown service exits 1 and says where it looked', async () => {
    const r = await runTide(['logs', 'nope'], { cwd: logs() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no logs for "nope" in .*\.tide\/logs\/nope/);
  });

  it('missing or bad SERVICE is a usage error', async () => {
    expect((await runTide(['logs'])).code).toBe(2);
    expect((await runTide(['logs', '../etc'])).code).toBe(2);
  });
});

describe('tide logs -f', () => {
  it('follows appended lines and new replicas until SIGINT', async () => {
    const { spawn } = await import('node:child_process');
    const { appendFileSync } = await import('node:fs');
    const { TIDE_BIN } = await import('../support/cli.js');
    const cwd = logs();
    const child = spawn(process.execPath, [TIDE_BIN, 'logs', 'hello', '-f'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const until = async (text: string): Promise<void> => {
        for (let i = 0; i < 100 && !out.includes(text); i++) await new Promise((r) => setTimeout(r, 50));
        expect(out).toContain(text);
      };
      await until('hello-10 | ten b\n');
      appendFileSync(join(cwd, '.tide', 'logs', 'hello', 'hello-2.log'), ' and more\nthird\n');
      writeFileSync(join(cwd, '.tide', 'logs', 'hello', 'hello-11.log'), 'eleven\n');
      await until('hello-2 | two b (no newline) and more\nhello-2 | third\n');
      await until('hello-11 | eleven\n');
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
