import { describe, expect, it } from 'vitest';
import { AUTOSCALER_DEFAULTS } from '../../../autoscaler/config/autoscaler-config.js';
import { readWorkloads } from '../../../autoscaler/config/workloads.js';

const A = 'autoscaling.knative.dev/';

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
  namespace: web
  annotations:
    autoscaling.knative.dev/min-scale: "1"
    autoscaling.knative.dev/max-scale: "4"
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/max-scale: "10"
        autoscaling.knative.dev/target: "20"
    spec:
      containers: [{ name: app, image: hello }]
`;

describe('readWorkloads', () => {
  it('merges Deployment annotations, the pod template winning, and remembers each key\'s line', () => {
    const { workloads, problems, config, configMap } = readWorkloads(deployment);
    expect(problems).toEqual([]);
    expect(config).toBe(AUTOSCALER_DEFAULTS);
    expect(configMap).toBeUndefined();
    expect(workloads).toHaveLength(1);
    const w = workloads[0]!;
    expect([w.document, w.apiVersion, w.kind, w.namespace, w.name]).toEqual([1, 'apps/v1', 'Deployment', 'web', 'hello']);
    expect(w.annotations).toEqual({ [A + 'min-scale']: '1', [A + 'max-scale']: '10', [A + 'target']: '20' });
    expect(w.annotationPositions[A + 'min-scale']).toEqual({ line: 7, column: 5 });
    expect(w.annotationPositions[A + 'max-scale']).toEqual({ line: 13, column: 9 });
    expect(w.position).toEqual({ line: 1, column: 1 });
    expect([w.spec.scaler.minScale, w.spec.scaler.maxScale, w.spec.decider.targetValue]).toEqual([1, 10, 14]);
  });

  it('locates annotation problems at the key, per document, with the object named', () => {
    const text = `apiVersion: v1
kind: Service
metadata: { name: ignored }
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bad
  annotations:
    autoscaling.knative.dev/window: "5s"
`;
    const { workloads, problems } = readWorkloads(text);
    expect(workloads.map((w) => w.name)).toEqual(['bad']);
    expect(problems).toEqual([
      { document: 2, object: 'Deployment default/bad', line: 10, column: 5, key: A + 'window', message: 'expected 6s <= 5s <= 1h0m0s' },
    ]);
    expect(workloads[0]!.problems).toEqual(problems);
    expect(workloads[0]!.spec.decider.stableWindowMs).toBe(60_000);
  });

  it('a config-autoscaler ConfigMap anywhere in the stream configures every workload', () => {
    const text = `${deployment}---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-autoscaler
  namespace: knative-serving
data:
  container-concurrency-target-percentage: "50"
  max-scale-limit: "8"
  max-scale: "5"
`;
    const { workloads, problems, config, configMap } = readWorkloads(text);
    expect(configMap).toEqual({ document: 2, object: 'ConfigMap knative-serving/config-autoscaler' });
    expect(config.containerConcurrencyTargetFraction).toBe(0.5);
    expect(workloads[0]!.spec.decider.targetValue).toBe(10); // target 20 × 50 %
    // max-scale 10 is now above max-scale-limit 8.
    expect(problems).toEqual([
      { document: 1, object: 'Deployment web/hello', line: 13, column: 9, key: A + 'max-scale', message: 'expected 1 <= 10 <= 8' },
    ]);
  });

  it('config-autoscaler problems point at the data key', () => {
    const text = `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-autoscaler
data:
  stable-window: "5s"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-autoscaler
data: {}
`;
    const { problems, config } = readWorkloads(text);
    expect(config.stableWindowMs).toBe(60_000);
    expect(problems).toEqual([
      { document: 1, object: 'ConfigMap default/config-autoscaler', line: 6, column: 3, key: 'stable-window', message: 'stable-window = 5s, must be in [6s; 1h0m0s] range' },
      { document: 2, object: 'ConfigMap default/config-autoscaler', line: 8, column: 1, key: 'metadata.name', message: 'another config-autoscaler ConfigMap; only the first one (document 1) is used' },
    ]);
  });

  it("Knative's config-defaults and config-deployment feed their keys; config-autoscaler wins on overlap", () => {
    const text = `apiVersion: v1
kind: ConfigMap
metadata: { name: config-defaults, namespace: knative-serving }
data:
  container-concurrency-max-limit: "50"
  max-revision-timeout-seconds: "900"
  max-scale: "3"
  revision-idle-timeout-seconds: "-1"
---
apiVersion: v1
kind: ConfigMap
metadata: { name: config-deployment, namespace: knative-serving }
data:
  progressDeadline: "100s"
---
apiVersion: v1
kind: ConfigMap
metadata: { name: config-autoscaler, namespace: knative-serving }
data:
  max-revision-timeout-seconds: "700"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
  annotations:
    tide.dev/container-concurrency: "60"
`;
    const { config, configMap, configMaps, workloads, problems } = readWorkloads(text);
    expect(config.containerConcurrencyMaxLimit).toBe(50);
    expect(config.maxRevisionTimeoutSeconds).toBe(700);
    expect(config.maxScale).toBe(0); // not a config-defaults key
    expect(workloads[0]!.spec.scaler.activationTimeoutMs).toBe(130_000);
    expect(configMap).toEqual({ document: 3, object: 'ConfigMap knative-serving/config-autoscaler' });
    expect(configMaps.map((c) => c.document)).toEqual([1, 2, 3]);
    expect(problems).toEqual([
      { document: 1, object: 'ConfigMap knative-serving/config-defaults', line: 8, column: 3, key: 'revision-idle-timeout-seconds', message: 'revision-idle-timeout-seconds = -1, must be at least 0' },
      { document: 4, object: 'Deployment default/d', line: 27, column: 5, key: 'tide.dev/container-concurrency', message: 'expected 0 <= 60 <= 50' },
    ]);
  });

  it('reports YAML syntax errors with line and column and still reads the other documents', () => {
    const text = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: one
  annotations: { a: [1 }
---
${deployment}`;
    const { workloads, problems } = readWorkloads(text);
    expect(workloads.map((w) => w.name)).toEqual(['hello']);
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) {
      expect(p).toMatchObject({ document: 1, key: 'yaml' });
      expect(p.message).toMatch(/^syntax error: /);
      expect(p.line).toBe(5);
      expect(p.column).toBeGreaterThan(1);
    }
  });

  it('duplicate keys are a syntax error', () => {
    const { problems } = readWorkloads('kind: Deployment\nkind: Deployment\n');
    expect(problems[0]).toMatchObject({ key: 'yaml', line: 2, column: 1 });
  });

  it('unquoted numbers in annotations are reported (Kubernetes wants strings) but still checked', () => {
    const text = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: n
  annotations:
    autoscaling.knative.dev/min-scale: 2
    autoscaling.knative.dev/max-scale: 1
`;
    const { workloads, problems } = readWorkloads(text);
    expect(problems.map((p) => [p.line, p.key, p.message])).toEqual([
      [6, A + 'min-scale', 'value must be a string: quote it ("2")'],
      [7, A + 'max-scale', 'value must be a string: quote it ("1")'],
      [7, A + 'max-scale', 'max-scale=1 is less than min-scale=2'],
    ]);
    expect(workloads[0]!.spec.scaler.minScale).toBe(2);
  });

  it('reads Knative Services: template annotations and spec fields under their own names', () => {
    const text = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: ksvc
  namespace: prod
  annotations:
    autoscaling.knative.dev/min-scale: "9"
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/metric: rps
    spec:
      containerConcurrency: 2000
      timeoutSeconds: 60
`;
    const { workloads, problems } = readWorkloads(text);
    const w = workloads[0]!;
    expect([w.kind, w.namespace, w.name]).toEqual(['Service', 'prod', 'ksvc']);
    // The Service's own metadata annotations do not configure its revisions.
    expect(w.spec.scaler.minScale).toBe(0);
    expect(w.spec.decider.metric).toBe('rps');
    expect(w.spec.timeoutSeconds).toBe(60);
    expect(problems).toEqual([
      { document: 1, object: 'Service prod/ksvc', line: 14, column: 7, key: 'spec.template.spec.containerConcurrency', message: 'expected 0 <= 2000 <= 1000' },
    ]);
  });

  it('reads Knative Revisions from their own metadata and spec', () => {
    const text = `apiVersion: serving.knative.dev/v1
kind: Revision
metadata:
  name: r-00001
  annotations:
    autoscaling.knative.dev/target: "10"
spec:
  containerConcurrency: 4
`;
    const w = readWorkloads(text).workloads[0]!;
    expect([w.spec.containerConcurrency, w.spec.decider.totalValue]).toEqual([4, 4]); // min(target 10, CC 4)
  });

  it('reads the items of a List (kubectl get -o yaml)', () => {
    const text = `apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: a
      annotations:
        autoscaling.knative.dev/min-scale: "x"
  - apiVersion: apps/v1
    kind: Deployment
    metadata: { name: b }
`;
    const { workloads, problems } = readWorkloads(text);
    expect(workloads.map((w) => [w.document, w.name, w.position.line])).toEqual([[1, 'a', 4], [1, 'b', 10]]);
    expect(problems).toEqual([{ document: 1, object: 'Deployment default/a', line: 9, column: 9, key: A + 'min-scale', message: 'invalid value: x' }]);
  });

  it('empty input and non-objects give nothing', () => {
    expect(readWorkloads('')).toMatchObject({ workloads: [], problems: [] });
    expect(readWorkloads('--- \n- a\n- b\n---\njust text\n')).toMatchObject({ workloads: [], problems: [] });
  });
});
