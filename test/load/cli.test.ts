/** `tide load` end to end in this process: flags, exit codes, the summary export, the report, and each request type. */
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { WebSocketServer } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { echoService } from '../../load/requests.js';
import type { SummaryData } from '../../loadtest/scenarios/summary.ts';
import { deadPort, startUpstream } from '../common/http/helpers.js';

let dir: string;
const cleanups: (() => Promise<void> | void)[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tide-load-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function tide(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await main(['load', ...args], { stdin: new PassThrough(), stdout, stderr, env: {}, cwd: dir });
  return { code, stdout: out, stderr: err };
}

describe('tide load: flags', () => {
  it.each([
    [['steady'], '--target is required'],
    [['steady', '--target', '::nope'], '--target must be a URL'],
    [['steady', '--target', 'ftp://x/'], '--target must be an http: URL'],
    [['nope', '--target', 'http://127.0.0.1:1'], 'unknown scenario "nope"'],
    [['steady', '--target', 'http://127.0.0.1:1', '--rate=-3'], '--rate must be a number > 0'],
    [['steady', '--target', 'http://127.0.0.1:1', '--vus', '2.5'], '--vus must be a whole number > 0'],
    [['steady', '--target', 'http://127.0.0.1:1', '--vus', '2', '--rate', '3'], '--vus and --rate exclude each other'],
    [['steady', '--target', 'http://127.0.0.1:1', '--duration', '30'], '--duration: "30" is not a positive duration'],
    [['steady', '--target', 'http://127.0.0.1:1', '--timeout', 'soon'], '--timeout: "soon" is not a positive duration'],
    [['steady', '--target', 'http://127.0.0.1:1', '--report', 'out.txt'], '--report must name an .html file'],
    [['steady', '--target', 'http://127.0.0.1:1', '--host', 'a b'], '--host must be a host name'],
    [['steady', '--target', 'http://127.0.0.1:1', '--bogus'], "Unknown option '--bogus'"],
  ])('%j exits 2 naming the flag', async (args, message) => {
    const r = await tide(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });

  it('--help lists every scenario and exits 0', async () => {
    const r = await tide(['--help']);
    expect(r.code).toBe(0);
    for (const s of ['steady', 'ramp', 'spike', 'from-zero', 'long-mix', 'websocket', 'grpc']) expect(r.stdout).toContain(s);
  });
});

describe('tide load: runs', () => {
  it('steady at 50/s for 1 s: starts on the schedule within the stated tolerance, exit 0, handleSummary JSON written', async () => {
    const seen: number[] = [];
    const up = await startUpstream((req, res) => {
      seen.push(performance.now());
      expect(req.headers.host).toBe('hello.localhost');
      setTimeout(() => res.end('ok'), 200);
    });
    cleanups.push(() => up.close());
    const r = await tide(['steady', '--target', `http://127.0.0.1:${up.port}`, '--host', 'hello.localhost', '--rate', '50', '--duration', '1s', '--summary-export', 'out.json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(seen).toHaveLength(50);
    // The schedule itself is checked exactly on a fake clock (engine.test.ts). Here, on the real clock and a shared
    // two-core machine, the stated tolerance is: the last request reaches the server within 250 ms of its slot (980 ms
    // after the first), although each response takes 200 ms, so starts never waited for responses (a closed loop of
    // the same size would need 10 s).
    expect(seen[49]! - seen[0]!).toBeGreaterThan(980 - 250);
    expect(seen[49]! - seen[0]!).toBeLessThan(980 + 250);
    const data = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as SummaryData;
    expect(data.metrics['http_reqs']?.values['count']).toBe(50);
    expect(data.metrics['http_req_failed']).toMatchObject({ type: 'rate', values: { rate: 0, passes: 0, fails: 50 }, thresholds: { 'rate<0.01': { ok: true } } });
    expect(data.metrics['http_req_duration']).toMatchObject({ type: 'trend', contains: 'time' });
    expect(Object.keys(data.metrics['http_req_duration']!.values)).toEqual(['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)']);
    expect(r.stdout).toContain("✓ 'rate<0.01'");
    expect(r.stdout).toMatch(/http_reqs\.+: 50 /);
  });

  it('a failing target crosses http_req_failed rate<0.01: exit 99 and the cause is printed', async () => {
    const up = await startUpstream((_q, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    cleanups.push(() => up.close());
    const r = await tide(['steady', '--target', `http://127.0.0.1:${up.port}`, '--rate', '20', '--duration', '500ms']);
    expect(r.code).toBe(99);
    expect(r.stdout).toContain("✗ 'rate<0.01'");
    expect(r.stdout).toContain('status 503 ×10');
  });

  it('a target that refuses connections fails every request (exit 99), without hanging', async () => {
    const r = await tide(['steady', '--target', `http://127.0.0.1:${await deadPort()}`, '--rate', '10', '--duration', '300ms']);
    expect(r.code).toBe(99);
    expect(r.stdout).toContain('ECONNREFUSED ×3');
  });

  it('--report writes one self-contained page with uPlot and says why there are no replicas', async () => {
    const up = await startUpstream((_q, res) => res.end('ok'));
    cleanups.push(() => up.close());
    const r = await tide(['steady', '--target', `http://127.0.0.1:${up.port}`, '--rate', '20', '--duration', '1s', '--report', 'r.html', '--dashboard', `http://127.0.0.1:${await deadPort()}/`]);
    expect(r.code).toBe(0);
    const html = readFileSync(join(dir, 'r.html'), 'utf8');
    expect(html).toContain('new uPlot(');
    expect(html).toMatch(/uPlot=function|var uPlot/);
    expect(html).toContain('No replicas:');
    expect(html).toContain('ECONNREFUSED');
    expect(html).not.toMatch(/<script src=/);
  });

  it('websocket: sessions through an echo server, each echoing 10 messages', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.on('message', (d, binary) => ws.send(d, { binary })));
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    cleanups.push(() => new Promise<void>((res) => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.close(() => res());
    }));
    const port = (server.address() as AddressInfo).port;
    const r = await tide(['websocket', '--target', `http://127.0.0.1:${port}`, '--vus', '2', '--duration', '1s', '--summary-export', 'ws.json']);
    expect(r.code, r.stdout).toBe(0);
    const data = JSON.parse(readFileSync(join(dir, 'ws.json'), 'utf8')) as SummaryData;
    expect(data.metrics['ws_sessions']!.values['count']).toBeGreaterThan(4);
    expect(data.metrics['checks']!.values['fails']).toBe(0);
  });

  it('grpc: unary Echo/Say calls over h2c, with the authority from --host', async () => {
    const authorities: string[] = [];
    const server = new grpc.Server();
    server.addService(echoService(), {
      Say: (call: grpc.ServerUnaryCall<{ message: string }, { message: string }>, cb: grpc.sendUnaryData<{ message: string }>) => {
        authorities.push(String(call.metadata.get(':authority')[0] ?? call.getPath()));
        cb(null, { message: call.request.message });
      },
    });
    const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    cleanups.push(() => new Promise<void>((res) => server.tryShutdown(() => res())));
    const r = await tide(['grpc', '--target', `http://127.0.0.1:${port}`, '--rate', '20', '--duration', '1s', '--summary-export', 'g.json']);
    expect(r.code, r.stdout).toBe(0);
    const data = JSON.parse(readFileSync(join(dir, 'g.json'), 'utf8')) as SummaryData;
    expect(data.metrics['grpc_reqs']!.values['count']).toBe(20);
    expect(data.metrics['grpc_req_duration']!.thresholds!['p(95)<500']!.ok).toBe(true);
    expect(authorities).toHaveLength(20);
  });
});
