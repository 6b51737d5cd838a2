/**
 * The bundled queue-proxy (cli/bundle.ts): what it leaves out of the start (issue 15 item 1: Node's ES facades of
 * built-ins, undici beyond its Pool, node:http2, non-ASCII source), and that the process `tide queue-proxy` really runs
 * serves every port. Checked on the bundle the global setup built and on real starts, not on time.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { request } from 'node:http';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { asciiOnly, builtinImported, lazyHttp2Module, UNDICI_PARTS } from '../../cli/bundle.js';
import { QueueStatsClient } from '../../common/http/stats-grpc.js';
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

describe('asciiOnly', () => {
  it('writes every non-ASCII unit as an escape that means the same in a comment, a string and a regular expression', () => {
    const src = "// ≥ 1 → §a7\nexports.re = /^(µs|μs)$/; exports.s = 'é😀';";
    const out = asciiOnly(src);
    expect(/[\u0080-\uffff]/.test(out)).toBe(false);
    const run = (code: string): { re: RegExp; s: string } => {
      const e = {} as { re: RegExp; s: string };
      runInNewContext(code, { exports: e });
      return e;
    };
    const [a, b] = [run(src), run(out)];
    expect(b.s).toBe(a.s);
    for (const t of ['µs', 'μs', 'ms']) expect(b.re.test(t), t).toBe(a.re.test(t));
  });
});

describe('the undici parts the bundle keeps', () => {
  const requireHere = createRequire(import.meta.url);

  it('names everything the sources import from undici, each the same object undici exports', () => {
    const imported = new Set<string>();
    for (const dir of ['common', 'proxy', 'cli']) {
      for (const f of readdirSync(fromRoot(dir), { recursive: true, encoding: 'utf8' })) {
        if (!f.endsWith('.ts')) continue;
        const text = readFileSync(fromRoot(dir, f), 'utf8');
        for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'undici'/g)) {
          for (const part of m[1]!.split(',')) {
            const name = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!;
            if (name !== '' && !part.trim().startsWith('type ')) imported.add(name);
          }
        }
      }
    }
    expect([...imported].sort()).toEqual(Object.keys(UNDICI_PARTS).sort());
    const undici = requireHere('undici') as Record<string, unknown>;
    expect(requireHere(UNDICI_PARTS['Pool']!)).toBe(undici['Pool']);
    expect(requireHere(UNDICI_PARTS['buildConnector']!)).toBe(undici['buildConnector']);
    const util = requireHere(UNDICI_PARTS['util']!) as Record<string, unknown>;
    for (const [k, v] of Object.entries(undici['util'] as Record<string, unknown>)) expect(util[k], k).toBe(v);
  });

  it("stands in for node:http2 in undici's client-h2.js with every name that file reads from it", () => {
    const file = readFileSync(requireHere.resolve('undici/lib/dispatcher/client-h2.js'), 'utf8');
    const used = new Set([...file.matchAll(/\bhttp2\.(\w+)/g)].map((m) => m[1]!));
    const shim: Record<string, unknown> = {};
    runInNewContext(lazyHttp2Module(), { exports: shim, process });
    for (const name of used) expect(shim, name).toHaveProperty(name);
    // The constants it destructures when loaded are node:http2's own.
    const block = /const \{\s*constants: \{([^}]*)\}\s*\} = http2/.exec(file)?.[1] ?? '';
    const names = block.split(',').map((n) => n.trim()).filter(Boolean);
    expect(names.length).toBeGreaterThan(5);
    const real = process.getBuiltinModule('node:http2').constants as Record<string, unknown>;
    for (const n of names) expect((shim['constants'] as Record<string, unknown>)[n], n).toBe(real[n]);
  });
});

describe('the bundled queue-proxy', () => {
  const dir = fromRoot('dist', 'queue-proxy');

  it('is ASCII only, so that Node decodes it without a two-byte copy', () => {
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.js'))) expect(readFileSync(`${dir}/${f}`).every((b) => b < 0x80), f).toBe(true);
  });

  it('loads neither node:http2 nor node:tls when its main code is loaded', () => {
    const main = readdirSync(dir).find((f) => /^main-.*\.js$/.test(f))!;
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `await import(${JSON.stringify(`${dir}/${main}`)}); console.log(JSON.stringify(process.moduleLoadList.filter((m) => /^NativeModule (http2|tls|https)$/.test(m))))`],
      { encoding: 'utf8' },
    );
    expect(JSON.parse(out)).toEqual([]);
  });

  it('has no ES import of a built-in except node:module (the require banner)', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.js'));
    expect(files.length).toBeGreaterThan(1);
    const imported = new Set<string>();
    for (const f of files) for (const m of readFileSync(`${dir}/${f}`, 'utf8').matchAll(/\bfrom\s*["']((?:node:)?[a-z0-9_/]+)["']/g)) imported.add(m[1]!);
    expect([...imported].filter((m) => !m.startsWith('.'))).toEqual(['node:module']);
  });

  /** `tide queue-proxy` as a user runs it (bin/tide.js → the bundle), its stderr collected. */
  function spawnBundled(env: Record<string, string>): { child: ChildProcess; stderr: () => string; probe: () => Promise<number> } {
    const child: ChildProcess = spawn(process.execPath, [fromRoot('bin', 'tide.js'), 'queue-proxy'], {
      env: { ...process.env, ...BASE_ENV, TIDE_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    cleanups.push(() => {
      child.kill('SIGKILL');
    });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const probe = (): Promise<number> =>
      new Promise((resolve) => {
        const req = request({ host: '127.0.0.1', port: Number(env['QUEUE_SERVING_PORT']), path: '/', headers: { 'user-agent': 'kube-probe/1.31', 'k-network-probe': 'queue' }, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', () => resolve(0));
        req.end();
      });
    return { child, stderr: () => err, probe };
  }

  const traceOf = (stderr: string): Record<string, number> =>
    (JSON.parse(stderr.split('\n').find((l) => l.includes('"startTrace"'))!) as { startTrace: Record<string, number> }).startTrace;

  it('serves the Prometheus metrics and the stats scrape the autoscaler reads, once ready', async () => {
    const app: TestApp = await startApp();
    cleanups.push(() => app.close());
    const [serving, metrics, stats] = (await freePorts(3)) as [number, number, number];
    const qp = spawnBundled({ USER_PORT: String(app.port), QUEUE_SERVING_PORT: String(serving), TIDE_METRICS_PORT: String(metrics), TIDE_STATS_PORT: String(stats) });
    await waitFor(async () => (await qp.probe()) === 200, 15_000, 'the first ready answer');
    const body = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: metrics, path: '/metrics', agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(body.status).toBe(200);
    expect(body.text).toContain('revision_request_count');
    expect(body.text).toContain('revision_app_request_latencies_bucket');
    const client = new QueueStatsClient(`127.0.0.1:${stats}`);
    cleanups.push(() => client.close());
    expect((await client.scrape(5000)).podName).toBe(BASE_ENV['SERVING_POD']);
    expect(qp.stderr()).not.toContain('"level":50');
  });

  it('while a slow app starts, loads node:http2 and prom-client ahead, before the app answers', async () => {
    const [serving, appPort] = (await freePorts(2)) as [number, number];
    const qp = spawnBundled({ USER_PORT: String(appPort), QUEUE_SERVING_PORT: String(serving), TIDE_LOG_LEVEL: 'info', TIDE_START_TRACE: '1' });
    await waitFor(() => qp.stderr().includes('serving path warmed up'), 15_000, 'the warm-up');
    await new Promise((r) => setTimeout(r, 200));
    const app: TestApp = await startApp(undefined, appPort);
    cleanups.push(() => app.close());
    await waitFor(async () => (await qp.probe()) === 200, 15_000, 'the first ready answer');
    await waitFor(() => qp.stderr().includes('"startTrace"'), 5_000, 'the start trace');
    const trace = traceOf(qp.stderr());
    expect(trace['http2 loaded while the app starts']).toBeGreaterThan(trace['warm-up done']!);
    expect(trace['prom-client loaded while the app starts']).toBeLessThan(trace['app probed']!);
    expect(trace['first ready answer']).toBeGreaterThanOrEqual(trace['app probed']!);
  });

  it('with TIDE_START_TRACE=1, reports its start-up marks in order, ready only after the app was probed', async () => {
    const app: TestApp = await startApp();
    cleanups.push(() => app.close());
    const [serving] = (await freePorts(1)) as [number];
    const qp = spawnBundled({ USER_PORT: String(app.port), QUEUE_SERVING_PORT: String(serving), TIDE_START_TRACE: '1' });
    await waitFor(async () => (await qp.probe()) === 200, 15_000, 'the first ready answer');
    await waitFor(() => qp.stderr().includes('"startTrace"'), 5_000, 'the start trace');
    const trace = traceOf(qp.stderr());
    const order = ['bootstrapComplete', 'bin', 'entry', 'main loaded', 'config parsed', 'built', 'listening', 'app probed', 'first ready answer'];
    for (const k of order) expect(trace[k], k).toBeGreaterThan(0);
    for (let i = 1; i < order.length; i++) expect(trace[order[i]!]!, order[i]).toBeGreaterThanOrEqual(trace[order[i - 1]!]!);
    // Ready was never said before the stats server listened (the autoscaler scrapes ready pods).
    expect(trace['first ready answer']).toBeGreaterThanOrEqual(trace['stats listening']!);
    // Ready was never said before the app answered its probe.
    expect(trace['first ready answer']).toBeGreaterThanOrEqual(trace['app probed']!);
  });
});
