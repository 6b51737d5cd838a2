import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runTide } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tide-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const GOOD = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/max-scale: "10"
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: api
  namespace: shop
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/metric: rps
        autoscaling.knative.dev/target: "50"
`;

const BAD = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ok-one
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
  namespace: prod
  annotations:
    autoscaling.knative.dev/minScale: "-1"
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/max-scale: "202"
        autoscaling.knative.dev/minscale: "2"
`;

const CONFIG = `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-autoscaler
  namespace: knative-serving
data:
  max-scale-limit: "100"
  max-scale: "20"
`;

describe('tide validate', () => {
  it('--help explains the flags and the output format', async () => {
    const r = await runTide(['validate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('-f, --file');
    expect(r.stdout).toContain('FILE:LINE:COLUMN: document N, KIND NAMESPACE/NAME: KEY: MESSAGE');
  });

  it('valid input: exit 0 and one ok line per object', async () => {
    const r = await runTide(['validate', '-f', file('good.yaml', GOOD)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'ok  Deployment default/hello (kpa, concurrency target 70, min 0, max 10)\n' +
        'ok  Service shop/api (kpa, rps target 35, min 0, max unlimited)\n',
    );
  });

  it('problems: exit 1, one FILE:LINE:COLUMN line each, valid objects still listed', async () => {
    const path = file('bad.yaml', BAD);
    const r = await runTide(['validate', '-f', path]);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n')).toEqual([
      `${path}:12:5: document 2, Deployment prod/broken: autoscaling.knative.dev/minScale: expected 0 <= -1 <= 2147483647`,
      `${path}:18:9: document 2, Deployment prod/broken: autoscaling.knative.dev/minscale: unknown annotation; did you mean autoscaling.knative.dev/min-scale?`,
      'ok  Deployment default/ok-one (kpa, concurrency target 70, min 0, max unlimited)',
      '2 problems found',
      '',
    ]);
  });

  it('reads stdin with -f -, and a config-autoscaler ConfigMap in the stream applies to all objects', async () => {
    const r = await runTide(['validate', '-f', '-'], { stdin: `${BAD}---\n${CONFIG}` });
    expect(r.code).toBe(1);
    // max-scale 202 is only wrong because of max-scale-limit 100 in the ConfigMap that follows.
    expect(r.stdout).toContain('<stdin>:17:9: document 2, Deployment prod/broken: autoscaling.knative.dev/max-scale: expected 1 <= 202 <= 100\n');
    expect(r.stdout).toContain('ok  ConfigMap knative-serving/config-autoscaler\n');
    expect(r.stdout).toContain('ok  Deployment default/ok-one (kpa, concurrency target 70, min 0, max 20)\n');
    expect(r.stdout).toContain('3 problems found\n');
  });

  it('reports a bad config-autoscaler value at its line', async () => {
    const r = await runTide(['validate', '-f', '-'], { stdin: CONFIG.replace('"20"', '"200"') });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('<stdin>:8:3: document 1, ConfigMap knative-serving/config-autoscaler: max-scale: max-scale = 200, must be in [1, max-scale-limit(100)] range\n');
  });

  it('YAML syntax errors: exit 1 with line and column, other files still checked', async () => {
    const broken = file('broken.yaml', 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n    bad: y\n');
    const good = file('good2.yaml', GOOD);
    const r = await runTide(['validate', '-f', broken, '-f', good]);
    expect(r.code).toBe(1);
    expect(r.stdout.startsWith(`${broken}:4:9: document 1: yaml: syntax error: `)).toBe(true);
    expect(r.stdout).toContain('ok  Deployment default/hello');
  });

  it('-o json gives every object with its resolved spec, and the problems', async () => {
    const r = await runTide(['validate', '-f', '-', '-o', 'json'], { stdin: BAD });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as {
      valid: boolean;
      objects: { name: string; valid: boolean; spec: { decider: { targetValue: number } } }[];
      problems: { file: string; line: number; column: number; document: number; key: string; message: string }[];
    };
    expect(out.valid).toBe(false);
    expect(out.objects.map((o) => [o.name, o.valid])).toEqual([['ok-one', true], ['broken', false]]);
    expect(out.objects[0]!.spec.decider.targetValue).toBe(70);
    expect(out.problems[0]).toEqual({ file: '<stdin>', document: 2, object: 'Deployment prod/broken', line: 12, column: 5, key: 'autoscaling.knative.dev/minScale', message: 'expected 0 <= -1 <= 2147483647' });
  });

  it('input with no workloads says so and exits 0', async () => {
    const r = await runTide(['validate', '-f', '-'], { stdin: 'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('<stdin>: no Deployment or Knative Service, Configuration or Revision found\n');
  });

  describe('a tide.yaml (the services file of tide up)', () => {
    const TIDE_YAML = `config-autoscaler:
  stable-window: 12s
services:
  - name: hello
    command: node
    containerConcurrency: 5
    annotations:
      autoscaling.knative.dev/target: "4"
      autoscaling.knative.dev/max-scale: "10"
  - name: broken
    command: node
    timeoutSeconds: -3
    annotations:
      autoscaling.knative.dev/max-scale: "-1"
      autoscaling.knative.dev/targt: "2"
`;

    it('is read as one, says so, and checks config-autoscaler and every service as tide up would: exit 1 on problems', async () => {
      const path = file('tide.yaml', TIDE_YAML);
      const r = await runTide(['validate', '-f', path]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(1);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe(`${path}: read as a tide.yaml (the services file of tide up)`);
      expect(lines).toContain('ok  service default/hello (kpa, concurrency target 2.8, min 0, max 10)');
      expect(lines.filter((l) => l.startsWith(`${path}: services.broken.`)).sort()).toEqual([
        `${path}: services.broken.annotations.autoscaling.knative.dev/max-scale: expected 0 <= -1 <= 2147483647`,
        `${path}: services.broken.annotations.autoscaling.knative.dev/targt: unknown annotation; did you mean autoscaling.knative.dev/target?`,
        `${path}: services.broken.timeoutSeconds: expected 0 <= -3 <= 600`,
      ]);
      expect(lines.some((l) => l.startsWith('ok  service default/broken'))).toBe(false);
      expect(lines.at(-1)).toBe('3 problems found');
    });

    it('a good one exits 0 with an ok line per service; -o json lists them with their resolved spec', async () => {
      const good = 'namespace: shop\nservices:\n  - name: api\n    command: node\n    annotations:\n      autoscaling.knative.dev/metric: rps\n      autoscaling.knative.dev/target: "50"\n';
      const r = await runTide(['validate', '-f', '-'], { stdin: good });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('<stdin>: read as a tide.yaml (the services file of tide up)\nok  service shop/api (kpa, rps target 35, min 0, max unlimited)\n');
      const j = await runTide(['validate', '-f', '-', '-o', 'json'], { stdin: good });
      expect(j.code).toBe(0);
      const out = JSON.parse(j.stdout) as { valid: boolean; objects: { kind: string; name: string; spec: { decider: { metric: string } } }[] };
      expect(out.valid).toBe(true);
      expect(out.objects.map((o) => [o.kind, o.name, o.spec.decider.metric])).toEqual([['tide.yaml service', 'api', 'rps']]);
    });

    it('the example tide.yaml is valid', async () => {
      const r = await runTide(['validate', '-f', 'examples/tide.yaml']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^examples\/tide\.yaml: read as a tide\.yaml .*\nok {2}service default\/hello \(kpa, concurrency target 7, min 0, max 10\)\n$/);
    });
  });

  it.each([
    { name: 'missing -f', args: [], err: 'tide validate: missing -f FILE' },
    { name: 'unreadable file names the path', args: ['-f', join(dir, 'nope.yaml')], err: `tide validate: cannot read ${join(dir, 'nope.yaml')}: ENOENT` },
    { name: 'unknown flag', args: ['-f', '-', '--frob'], err: "Unknown option '--frob'" },
    { name: 'bad -o', args: ['-f', '-', '-o', 'yaml'], err: 'tide validate: -o must be text or json, not "yaml"' },
  ])('usage error, exit 2: $name', async ({ args, err }) => {
    const r = await runTide(['validate', ...args]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(err);
  });
});
