/**
 * Reliability case 14: `tide up` SIGKILLed, or its terminal closed (SIGHUP, which it does not handle): every replica
 * process it started (app and queue-proxy, each in its own process group) exits within 2 s and frees its port.
 * Before the reaper (local/process/reaper.ts) they survived, since nothing in tide up runs after SIGKILL.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isListening } from '../../local/process/ports.js';
import { HELLO_APP, TIDE_BIN, alive, cleanUpTideUp, get, sleep, waitFor, type TideUpLeftovers } from '../e2e/support.js';

/**
 * True while `pid` runs. A process that has exited but whose status the new parent (init, after tide up died) has not
 * collected yet is a zombie: it holds no port or memory, so it counts as exited (Linux: state Z in /proc/PID/stat).
 */
function running(pid: number): boolean {
  if (!alive(pid)) return false;
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return alive(pid);
  }
}

const leftovers: TideUpLeftovers = { pids: new Set() };
afterEach(() => cleanUpTideUp(leftovers));

describe('reliability 14: tide up killed', () => {
  it.each(['SIGKILL', 'SIGHUP'] as const)('%s to tide up: two replicas (4 processes) exit within 2 s and free their ports', async (signal) => {
    const dir = mkdtempSync(join(tmpdir(), 'tide-killed-'));
    leftovers.dir = dir;
    writeFileSync(
      join(dir, 'tide.yaml'),
      `services:\n  - name: hello\n    command: node\n    args: [${JSON.stringify(HELLO_APP)}]\n` +
        `    annotations: { autoscaling.knative.dev/initial-scale: "2", autoscaling.knative.dev/min-scale: "2" }\n`,
    );
    const proc = spawn(process.execPath, [TIDE_BIN, 'up', '-f', 'tide.yaml', '--port', '0', '--dashboard-port', '0'], {
      cwd: dir,
      env: { ...process.env, TIDE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    leftovers.child = proc;
    let stdout = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    proc.stderr.resume();
    await waitFor(() => stdout.includes('Ctrl-C stops everything') || proc.exitCode !== null, 30_000, 'tide up ready');
    const front = Number(/front door: http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]);
    expect((await get(`http://127.0.0.1:${front}`, 'hello.localhost', '/')).status).toBe(200);
    const started = [...stdout.matchAll(/starting \(app pid (\d+), queue-proxy pid (\d+) on 127\.0\.0\.1:(\d+);/g)];
    expect(started.length, stdout).toBe(2);
    const pids = started.flatMap((m) => [Number(m[1]), Number(m[2])]);
    for (const p of pids) leftovers.pids.add(p);
    const ports = started.map((m) => Number(m[3]));
    for (const p of pids) expect(alive(p)).toBe(true);

    const t0 = Date.now();
    proc.kill(signal);
    const end = t0 + 2000;
    let pidsGoneMs = -1;
    let portsClosedMs = -1;
    while (Date.now() < end && (pidsGoneMs < 0 || portsClosedMs < 0)) {
      if (pidsGoneMs < 0 && !pids.some(running)) pidsGoneMs = Date.now() - t0;
      if (portsClosedMs < 0 && !(await Promise.all(ports.map((p) => isListening(p)))).some(Boolean)) portsClosedMs = Date.now() - t0;
      await sleep(20);
    }
    const ms = Math.max(pidsGoneMs, portsClosedMs);
    const left = pids.filter(running);
    const open = (await Promise.all(ports.map(async (p) => ((await isListening(p)) ? p : 0)))).filter(Boolean);
    console.log(`reliability 14 (${signal}): ${pids.length} replica processes and ${ports.length} ports; processes gone after ${pidsGoneMs} ms, ports closed after ${portsClosedMs} ms; ${left.length} alive and ${open.length} open at the end`);
    expect(left, `alive after 2 s: ${left.join(', ')}`).toEqual([]);
    expect(open).toEqual([]);
    expect(pidsGoneMs).toBeGreaterThanOrEqual(0);
    expect(portsClosedMs).toBeGreaterThanOrEqual(0);
    expect(ms).toBeLessThanOrEqual(2000);
  }, 60_000);
});
