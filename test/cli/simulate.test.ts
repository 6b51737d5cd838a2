import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fullAnnotationKey } from '../../cli/simulate.js';
import { runTide } from '../support/cli.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tide-simulate-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

interface JsonOut {
  run: { source: string; format: string; settings: string[] };
  summary: { finalReplicas: number; maxReplicas: number; coldStarts: number; seconds: number; waitMaxSeconds: number };
}

describe('tide simulate', () => {
  it('§c4/§c5 --shape step with target=10: -o json reports ceil(50/7) = 8 final replicas', async () => {
    const r = await runTide(['simulate', '--shape', 'step:from=0,to=50,at=60,duration=400', '-a', 'target=10', '-o', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as JsonOut;
    expect(out.summary.finalReplicas).toBe(8);
    expect(out.summary.maxReplicas).toBe(8);
    expect(out.summary.seconds).toBe(400);
    expect(out.run.settings[0]).toContain('target 7/pod');
  });

  it('writes the timeline CSV, the HTML chart (uPlot inlined) and the SVG chart; prints the text summary', async () => {
    const trace = file('arrivals.csv', 'arrival_seconds,duration_seconds\n# one request at zero\n10.5,1\n');
    const r = await runTide(
      ['simulate', '-f', trace, '--initial-pods', '0', '--duration', '30', '--timeline', 'tl.csv', '--chart', 'c.html', '--chart', 'c.svg'],
      { cwd: dir },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('cold starts        1');
    // §b5 poke: the request waits only for the 2 s pod start.
    expect(r.stdout).toContain('max 2s');
    const csv = readFileSync(join(dir, 'tl.csv'), 'utf8').trim().split('\n');
    expect(csv[0]!.startsWith('t,load,arrivals,concurrency,waiting,timedOut,stable,panic,target,desired,replicas,ready')).toBe(true);
    expect(csv).toHaveLength(31);
    const html = readFileSync(join(dir, 'c.html'), 'utf8');
    expect(html).toContain('https://github.com/leeoniya/uPlot');
    expect(html).toContain('var DATA = ');
    expect(readFileSync(join(dir, 'c.svg'), 'utf8')).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
  });

  it('reads the trace from stdin with -f - and writes a JSON timeline', async () => {
    const r = await runTide(['simulate', '-f', '-', '--timeline', 'tl.json'], { cwd: dir, stdin: 'second,rps\n0,10\n1,10\n2,10\n' });
    expect(r.code).toBe(0);
    const rows = JSON.parse(readFileSync(join(dir, 'tl.json'), 'utf8')) as { t: number; arrivals: number }[];
    expect(rows.map((x) => x.arrivals)).toEqual([10, 10, 10]);
  });

  it('a bad trace line exits 2 naming file:line and the problem, and writes nothing', async () => {
    const trace = file('bad.csv', 'second,concurrency\n0,1\n1,lots\n');
    const r = await runTide(['simulate', '-f', trace, '--chart', 'never.html'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${trace}:3: concurrency "lots" is not a number`);
    expect(existsSync(join(dir, 'never.html'))).toBe(false);
  });

  it('§d invalid annotations are reported like tide validate and nothing is simulated (exit 2)', async () => {
    const r = await runTide(['simulate', '--shape', 'step', '-a', 'target=0.001', '-a', 'autoscaling.knative.dev/windw=10s']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('--annotation autoscaling.knative.dev/target: target 0.001 should be at least 0.01');
    expect(r.stderr).toContain('did you mean autoscaling.knative.dev/window?');
    expect(r.stderr).toContain('2 problems found; nothing simulated');
  });

  it('--deployment: problems carry file:line:column; a valid file supplies the annotations', async () => {
    const bad = file('bad.yaml', 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n    autoscaling.knative.dev/max-scale: "-2"\n');
    const r1 = await runTide(['simulate', '--shape', 'step', '--deployment', bad]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain(`${bad}:6:5: Deployment default/web: autoscaling.knative.dev/max-scale: expected 0 <= -2 <= 2147483647`);

    const good = file(
      'good.yaml',
      [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata: { name: web }',
        'spec:',
        '  template:',
        '    metadata:',
        '      annotations:',
        '        autoscaling.knative.dev/target: "10"',
        '        tide.dev/container-concurrency: "20"',
        '',
      ].join('\n'),
    );
    const r2 = await runTide(['simulate', '--shape', 'step:duration=120', '--deployment', good, '-a', 'max-scale=3', '-o', 'json']);
    expect(r2.stderr).toBe('');
    expect(r2.code).toBe(0);
    const out = JSON.parse(r2.stdout) as JsonOut;
    // target min(10, CC 20) = 10 × 0.7 = 7; max-scale from the flag caps the 8 pods 50 concurrent would need.
    expect(out.run.settings).toContain('containerConcurrency 20');
    expect(out.run.settings[0]).toContain('target 7/pod');
    expect(out.summary.maxReplicas).toBe(3);
  });

  it('--deployment with several workloads needs --workload; --workload picks one', async () => {
    const two = file(
      'two.yaml',
      [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata: { name: a, annotations: { autoscaling.knative.dev/max-scale: "2" } }',
        '---',
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata: { name: b, annotations: { autoscaling.knative.dev/max-scale: "5" } }',
        '',
      ].join('\n'),
    );
    const r1 = await runTide(['simulate', '--shape', 'step:duration=120', '--deployment', two]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain('holds 2 workloads (default/a, default/b); pick one with --workload NAME');
    const r2 = await runTide(['simulate', '--shape', 'step:duration=120', '--deployment', two, '--workload', 'b', '-a', 'target=1', '-o', 'json']);
    expect(r2.code).toBe(0);
    expect((JSON.parse(r2.stdout) as JsonOut).summary.maxReplicas).toBe(5);
  });

  it('--config sets config-autoscaler keys and rejects unknown or invalid ones', async () => {
    const ok = await runTide(['simulate', '--shape', 'step:duration=60', '-c', 'stable-window=30s', '-o', 'json']);
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.stdout) as JsonOut).run.settings.join(';')).toContain('windows 30s/3s');
    const bad = await runTide(['simulate', '--shape', 'step', '-c', 'stable-window=3s', '-c', 'bogus=1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--config bogus: unknown config-autoscaler key');
    expect(bad.stderr).toContain('--config stable-window:');
  });

  it.each([
    { name: 'no input', args: [], msg: 'give exactly one of -f TRACE or --shape SHAPE' },
    { name: 'two inputs', args: ['-f', 'x.csv', '--shape', 'step'], msg: 'give exactly one of' },
    { name: 'bad chart extension', args: ['--shape', 'step', '--chart', 'c.png'], msg: '--chart c.png: the file must end in .html or .svg' },
    { name: 'bad timeline extension', args: ['--shape', 'step', '--timeline', 't.txt'], msg: 'must end in .csv or .json' },
    { name: 'bad shape', args: ['--shape', 'square'], msg: '--shape unknown shape "square"' },
    { name: 'bad pod start', args: ['--shape', 'step', '--pod-start=-1'], msg: '--pod-start must be a number >= 0' },
    { name: 'missing file', args: ['-f', 'nope.csv'], msg: 'cannot read trace nope.csv' },
  ])('usage error: $name → exit 2', async ({ args, msg }) => {
    const r = await runTide(['simulate', ...args], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(msg);
  });

  it.each([
    { key: 'target', want: 'autoscaling.knative.dev/target' },
    { key: 'min-scale', want: 'autoscaling.knative.dev/min-scale' },
    { key: 'container-concurrency', want: 'tide.dev/container-concurrency' },
    { key: 'progress-deadline', want: 'serving.knative.dev/progress-deadline' },
    { key: 'windw', want: 'autoscaling.knative.dev/windw' },
    { key: 'example.com/x', want: 'example.com/x' },
  ])('short annotation key $key → $want', ({ key, want }) => {
    expect(fullAnnotationKey(key)).toBe(want);
  });

  it('--help lists the trace formats and the shapes', async () => {
    const r = await runTide(['simulate', '--help']);
    expect(r.code).toBe(0);
    for (const s of ['second,concurrency', 'second,rps', 'arrival_seconds,duration_seconds', 'step:', 'spike:', 'ramp:', 'sine:', '--pod-start']) {
      expect(r.stdout).toContain(s);
    }
  });
});
