/**
 * E2E (issue 5): `tide up` as a real child process. SIGINT (Ctrl-C) stops everything: it exits 0, no replica process
 * (app or queue-proxy) survives, and nothing it opened still accepts connections.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isListening } from '../../local/process/ports.js';
import { HELLO_APP, TIDE_BIN, alive, cleanUpTideUp, get, sleep, waitFor, type TideUpLeftovers } from './support.js';

const leftovers: TideUpLeftovers = { pids: new Set() };
afterEach(() => cleanUpTideUp(leftovers));

describe('tide up: Ctrl-C', () => {
  it('SIGINT stops every replica process and closes every port; exit code 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tide-ctrlc-'));
    leftovers.dir = dir;
    const proc = spawn(process.execPath, [TIDE_BIN, 'up', '--port', '0', '--dashboard-port', '0'], { cwd: dir, env: { ...process.env, TIDE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    leftovers.child = proc;
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));

    await waitFor(() => /dashboard: http:\/\/127\.0\.0\.1:(\d+)\//.test(stdout) || proc.exitCode !== null, 15_000, 'the banner');
    const front = Number(/front door: http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]);
    const dash = Number(/dashboard: http:\/\/127\.0\.0\.1:(\d+)\//.exec(stdout)?.[1]);
    expect(front, stdout + stderr).toBeGreaterThan(0);
    expect(stdout).toContain(`curl -H 'Host: hello.localhost' http://127.0.0.1:${front}/`);

    // Wake the example app from zero so there are replica processes to stop.
    const reply = await get(`http://127.0.0.1:${front}`, 'hello.localhost', '/');
    expect(reply.status, reply.body).toBe(200);
    // tide up prints each replica's pids and queue-proxy address as it starts it.
    const started = [...stdout.matchAll(/starting \(app pid (\d+), queue-proxy pid (\d+) on 127\.0\.0\.1:(\d+);/g)];
    expect(started.length, stdout).toBeGreaterThan(0);
    const pids = started.flatMap((m) => [Number(m[1]), Number(m[2])]);
    for (const p of pids) leftovers.pids.add(p);
    const ports = [front, dash, ...started.map((m) => Number(m[3]))];
    expect((await get(`http://127.0.0.1:${dash}`, '127.0.0.1', '/healthz')).status).toBe(200);
    for (const p of pids) expect(alive(p)).toBe(true);

    const t0 = Date.now();
    proc.kill('SIGINT');
    const code = await Promise.race([exited, sleep(20_000).then(() => 'hung' as const)]);
    console.log(`ctrl-c: exited ${String(code)} ${Date.now() - t0} ms after SIGINT`);
    expect(code, stdout + stderr).toBe(0);
    expect(stdout).toMatch(/stopped/);
    for (const p of pids) expect(alive(p), `pid ${p} still alive`).toBe(false);
    for (const port of ports) expect(await isListening(port), `port ${port} still open`).toBe(false);
  }, 60_000);

  it('SIGINT while an initial replica is still starting stops it too (signals are handled before anything starts)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tide-ctrlc-'));
    leftovers.dir = dir;
    writeFileSync(
      join(dir, 'tide.yaml'),
      `services:\n  - name: slow\n    command: node\n    args: [${JSON.stringify(HELLO_APP)}]\n    env: { STARTUP_MS: "5000" }\n` +
        `    annotations: { autoscaling.knative.dev/initial-scale: "1" }\n`,
    );
    const proc = spawn(process.execPath, [TIDE_BIN, 'up', '-f', 'tide.yaml', '--port', '0', '--dashboard-port', '0'], { cwd: dir, env: { ...process.env, TIDE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    leftovers.child = proc;
    let stdout = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    await waitFor(() => /starting \(app pid \d+/.test(stdout), 15_000, 'the initial replica starting');
    const m = /starting \(app pid (\d+), queue-proxy pid (\d+)/.exec(stdout)!;
    const pids = [Number(m[1]), Number(m[2])];
    for (const p of pids) leftovers.pids.add(p);
    expect(stdout).not.toContain('Ctrl-C stops everything'); // still settling: the banner comes once the replica is ready
    proc.kill('SIGINT');
    const code = await Promise.race([exited, sleep(20_000).then(() => 'hung' as const)]);
    expect(code, stdout).toBe(0);
    for (const p of pids) expect(alive(p), `pid ${p} still alive`).toBe(false);
  }, 60_000);
});
