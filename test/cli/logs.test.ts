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
