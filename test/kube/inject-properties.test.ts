/** Property tests of `tide inject` over generated workloads: idempotent, and `uninject` undoes it exactly. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { DEFAULT_IMAGE } from '../../kubernetes/inject/constants.js';
import { transformYaml } from '../../kubernetes/inject/yaml-stream.js';

const opts = { image: DEFAULT_IMAGE, version: 'test-version' };

const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);
const appPort = fc.integer({ min: 1, max: 65_535 }).filter((p) => ![8012, 8022, 9090, 9091].includes(p));
const portName = fc.constantFrom(undefined, 'http', 'http1', 'h2c', 'metrics', 'admin');

const probe = fc.oneof(
  fc.constant(undefined),
  fc.record({ httpGet: fc.record({ path: fc.constantFrom('/', '/ready'), port: fc.oneof(appPort, fc.constant('http')) }), periodSeconds: fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }) }, { requiredKeys: ['httpGet'] }),
  fc.record({ tcpSocket: fc.record({ port: appPort }), timeoutSeconds: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ grpc: fc.record({ port: appPort, service: fc.constantFrom('', 'ready') }) }),
  fc.record({ exec: fc.constant({ command: ['true'] }) }),
);

const container = fc.record(
  {
    name,
    image: fc.constantFrom('example/a:1', 'example/b@sha256:0'),
    ports: fc.array(fc.record({ name: portName, containerPort: appPort }, { requiredKeys: ['containerPort'] }), { minLength: 0, maxLength: 3 }),
    readinessProbe: probe,
    lifecycle: fc.option(fc.constant({ postStart: { exec: { command: ['true'] } } }), { nil: undefined }),
  },
  { requiredKeys: ['name', 'image'] },
);

const workload = fc
  .record({
    name,
    namespace: fc.option(fc.constantFrom('default', 'shop', 'team-a'), { nil: undefined }),
    containers: fc.uniqueArray(container, { minLength: 1, maxLength: 3, selector: (c) => c.name }),
    native: fc.boolean(),
    grace: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: undefined }),
    cc: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
    timeout: fc.option(fc.integer({ min: 1, max: 600 }), { nil: undefined }),
    withService: fc.boolean(),
    servicePorts: fc.array(fc.record({ port: appPort, targetPort: fc.option(fc.oneof(appPort, fc.constant('http')), { nil: undefined }) }, { requiredKeys: ['port'] }), { minLength: 1, maxLength: 2 }),
  })
  .map((w) => {
    const annotations: Record<string, string> = {};
    if (w.cc !== undefined) annotations['tide.dev/container-concurrency'] = String(w.cc);
    if (w.timeout !== undefined) annotations['tide.dev/timeout-seconds'] = String(w.timeout);
    if (w.native) annotations['tide.dev/native-sidecar'] = 'true';
    const clean = <T extends object>(o: T): T => JSON.parse(JSON.stringify(o)) as T; // drops undefined fields
    const deployment = clean({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: w.name, ...(w.namespace ? { namespace: w.namespace } : {}), ...(Object.keys(annotations).length ? { annotations } : {}) },
      spec: {
        selector: { matchLabels: { app: w.name } },
        template: {
          metadata: { labels: { app: w.name } },
          spec: { ...(w.grace === undefined ? {} : { terminationGracePeriodSeconds: w.grace }), containers: w.containers.map((c) => ((c.ports ?? []).length ? c : { ...c, ports: undefined })) },
        },
      },
    });
    const service = clean({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: w.name, ...(w.namespace ? { namespace: w.namespace } : {}) },
      spec: { selector: { app: w.name }, ports: w.servicePorts.map((p, i) => ({ name: `p${i}`, ...p })) },
    });
    return w.withService ? [deployment, service] : [deployment];
  });

const toYaml = (objects: unknown[]): string => objects.map((o) => stringify(o)).join('---\n');
const objectsOf = (text: string): unknown[] => parseAllDocuments(text).map((d) => d.toJS() as unknown);

describe('tide inject properties', () => {
  it('injecting twice equals injecting once, and uninject restores every object exactly', () => {
    let injected = 0;
    fc.assert(
      fc.property(workload, (objects) => {
        const text = toYaml(objects);
        const once = transformYaml(text, 'inject', opts);
        if (once.errors.length > 0) {
          // Refusals name the workload and write nothing.
          expect(once.output).toBe('');
          for (const e of once.errors) expect(e).toContain(`Deployment `);
          return;
        }
        injected++;
        const twice = transformYaml(once.output, 'inject', opts);
        expect(twice.errors).toEqual([]);
        expect(twice.output).toBe(once.output);
        const back = transformYaml(once.output, 'uninject', opts);
        expect(back.errors).toEqual([]);
        expect(objectsOf(back.output)).toEqual(objects);
        // Uninjecting again changes nothing either.
        expect(transformYaml(back.output, 'uninject', opts).output).toBe(back.output);
      }),
      { numRuns: 150, seed: 13 },
    );
    // The generator must mostly produce injectable workloads, or the property says little.
    expect(injected).toBeGreaterThan(50);
  });

  it('the injected pod always has exactly one queue-proxy and the app port in USER_PORT', () => {
    fc.assert(
      fc.property(workload, (objects) => {
        const once = transformYaml(toYaml(objects), 'inject', opts);
        if (once.errors.length > 0) return;
        const dep = objectsOf(once.output)[0] as { spec: { template: { spec: { containers: { name: string; env?: { name: string; value?: string }[]; ports?: { containerPort: number }[] }[]; initContainers?: { name: string; env?: { name: string; value?: string }[] }[] } } } };
        const pod = dep.spec.template.spec;
        const all = [...pod.containers, ...(pod.initContainers ?? [])];
        const qps = all.filter((c) => c.name === 'queue-proxy');
        expect(qps).toHaveLength(1);
        const userPort = Number(qps[0]!.env!.find((e) => e.name === 'USER_PORT')!.value);
        expect(pod.containers.some((c) => c.name !== 'queue-proxy' && (c.ports ?? []).some((p) => p.containerPort === userPort))).toBe(true);
      }),
      { numRuns: 100, seed: 7 },
    );
  });
});
