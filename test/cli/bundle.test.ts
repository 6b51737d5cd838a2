/**
 * The bundled queue-proxy (cli/bundle.ts) imports Node's built-ins through process.getBuiltinModule, never as ES
 * modules (issue 15 item 1: node:http's ES facade loads Node's internal undici). Checked on the bundle the global setup
 * built and on a real start with TIDE_START_TRACE=1, not on time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { builtinImported } from '../../cli/bundle.js';
import { fromRoot } from '../../common/paths.js';
import { freePorts } from '../../local/process/ports.js';
import { BASE_ENV, startApp, type TestApp } from '../proxy/fixtures.js';
import { waitFor } from '../local/support.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('builtinImported', () => {
  it.each([
    ['node:http', 'import-statement', 'node:http'],
    ['http', 'import-statement', 'node:http'],
    ['node:fs/promises', 'dynamic-import', 'node:fs/promises'],
    ['node:sqlite', 'import-statement', 'node:sqlite'],
  ])('%s (%s) → %s', (path, kind, name) => expect(builtinImported(path, kind)).toBe(name));

  it.each([
    ['node:http', 'require-call'],
    ['undici', 'import-statement'],
    ['./server.js', 'import-statement'],
    ['node:no-such-module', 'import-statement'],
  ])('leaves %s (%s) alone', (path, kind) => expect(builtinImported(path, kind)).toBeUndefined());
});

describe('the bundled queue-proxy', () => {
  const dir = fromRoot('dist', 'queue-proxy');

  it('has no ES import of a built-in except node:module (the require banner)', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.js'));
    expect(files.length).toBeGreaterThan(1);
    const imported = new Set<string>();
    for (const f of files) for (const m of readFileSync(`${dir}/${f}`, 'utf8').matchAll(/\bfrom\s*["']((?:node:)?[a-z_/]+)["']/g)) imported.add(m[1]!);
    expect([...imported].filter((m) => !m.startsWith('.'))).toEqual(['node:module']);
  });

  it('with TIDE_START_TRACE=1, reports its start-up marks in order, ready only after the app was probed', async () => {
    const app: TestApp = await startApp();
    cleanups.push(() => app.close());
    const [serving] = (await freePorts(1)) as [number];
    const child: ChildProcess = spawn(process.execPath, [fromRoot('bin', 'tide.js'), 'queue-proxy'], {
      env: { ...process.env, ...BASE_ENV, USER_PORT: String(app.port), QUEUE_SERVING_PORT: String(serving), TIDE_LOG_LEVEL: 'warn', TIDE_START_TRACE: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    cleanups.push(() => {
      child.kill('SIGKILL');
    });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const probe = (): Promise<number> =>
      new Promise((resolve) => {
        const req = request({ host: '127.0.0.1', port: serving, path: '/', headers: { 'user-agent': 'kube-probe/1.31', 'k-network-probe': 'queue' }, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', () => resolve(0));
        req.end();
      });
    await waitFor(async () => (await probe()) === 200, 15_000, 'the first ready answer');
    await waitFor(() => err.includes('"startTrace"'), 5_000, 'the start trace');
    const line = err.split('\n').find((l) => l.includes('"startTrace"'))!;
    const trace = (JSON.parse(line) as { startTrace: Record<string, number> }).startTrace;
    const order = ['bootstrapComplete', 'bin', 'entry', 'main loaded', 'config parsed', 'built', 'listening', 'app probed', 'first ready answer'];
    for (const k of order) expect(trace[k], k).toBeGreaterThan(0);
    for (let i = 1; i < order.length; i++) expect(trace[order[i]!]!, order[i]).toBeGreaterThanOrEqual(trace[order[i - 1]!]!);
    // Ready was never said before the app answered its probe.
    expect(trace['first ready answer']).toBeGreaterThanOrEqual(trace['app probed']!);
  });
});
