/** Pure parts of the Kubernetes backend: the Service switch, slices, workload specs, the activators' capacity split. */
import { describe, expect, it } from 'vitest';
import { activatorAssignment } from '../../kubernetes/activator-sources.js';
import { nextBackoff } from '../../kubernetes/informer.js';
import {
  buildPrivateService,
  buildSwitchSlices,
  effectiveMode,
  originalSelector,
  sameSlice,
  serviceHosts,
  servingPort,
  statsPort,
  targetsOf,
} from '../../kubernetes/logic/switch.js';
import { problemsMessage, resolveWorkload } from '../../kubernetes/logic/workload.js';
import type { Deployment, EndpointSlice, Service } from '../../kubernetes/objects.js';
import { assignPods, sortAddresses } from '../../activator/logic/capacity.js';

const svc: Service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: {
    name: 'hello',
    namespace: 'apps',
    uid: 'svc-uid',
    labels: { 'tide.dev/managed': 'true' },
    annotations: { 'tide.dev/deployment': 'hello', 'tide.dev/original-selector': '{"app":"hello"}' },
  },
  spec: { ports: [{ name: 'web', port: 80 }, { name: 'grpc', port: 81 }] },
};
const dep: Deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'hello', namespace: 'apps', uid: 'dep-uid' } };

function slice(endpoints: { ip: string; pod: string; ready?: boolean; terminating?: boolean }[], ports: Record<string, number>): EndpointSlice {
  return {
    addressType: 'IPv4',
    metadata: { name: `s-${endpoints.map((e) => e.pod).join('-')}`, namespace: 'apps' },
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true, terminating: e.terminating ?? false },
      targetRef: { kind: 'Pod', name: e.pod },
    })),
    ports: Object.entries(ports).map(([name, port]) => ({ name, port })),
  };
}

describe('effectiveMode (the switch never points at nothing it could avoid)', () => {
  it.each([
    { desired: 'serve', pods: 0, acts: 2, want: 'proxy', why: 'serve needs a ready pod' },
    { desired: 'serve', pods: 1, acts: 2, want: 'serve', why: 'serve with ready pods' },
    { desired: 'proxy', pods: 3, acts: 1, want: 'proxy', why: 'proxy while activators are ready' },
    { desired: 'proxy', pods: 3, acts: 0, want: 'serve', why: 'no ready activator: the pods beat nothing' },
    { desired: 'proxy', pods: 0, acts: 0, want: 'proxy', why: 'nothing ready anywhere: proxy (the activator holds once it comes)' },
  ] as const)('$desired with $pods pods and $acts activators → $want ($why)', ({ desired, pods, acts, want }) => {
    expect(effectiveMode(desired, pods, acts)).toBe(want);
  });
});

describe('targetsOf', () => {
  it('reads addresses, ports by name and readiness; terminating endpoints are not ready; duplicates keep the ready copy', () => {
    const t = targetsOf([
      slice([{ ip: '10.0.0.2', pod: 'b', ready: false }], { http: 8012, 'tide-stats': 9090 }),
      slice([{ ip: '10.0.0.1', pod: 'a' }, { ip: '10.0.0.3', pod: 'c', ready: true, terminating: true }], { http: 8012, 'tide-stats': 9090 }),
      slice([{ ip: '10.0.0.2', pod: 'b', ready: true }], { http: 8012, 'tide-stats': 9090 }),
    ]);
    expect(t.map((x) => [x.name, x.ip, x.ready, x.terminating])).toEqual([
      ['a', '10.0.0.1', true, false],
      ['b', '10.0.0.2', true, false],
      ['c', '10.0.0.3', false, true],
    ]);
    expect(servingPort(t[0]!)).toBe(8012);
    expect(statsPort(t[0]!)).toBe(9090);
  });

  it('a slice with one unnamed port serves stats on it too (test pods); a slice without ports falls back to 8012 and 9090', () => {
    const [one] = targetsOf([slice([{ ip: '127.0.0.1', pod: 'p' }], { '': 41000 })]);
    expect([servingPort(one!), statsPort(one!)]).toEqual([41000, 41000]);
    const [none] = targetsOf([{ addressType: 'IPv4', metadata: { name: 'x' }, endpoints: [{ addresses: ['10.1.1.1'] }], ports: [] }]);
    expect([servingPort(none!), statsPort(none!), none!.ready]).toEqual([8012, 9090, true]);
  });
});

describe('buildSwitchSlices', () => {
  it('names <S>-tide, labels it for S and for Tide, lists each target under every port name of S, owned by S', () => {
    const [s, ...rest] = buildSwitchSlices(svc, [
      { ip: '10.0.0.9', name: 'act-1', port: 8012 },
      { ip: '10.0.0.4', name: 'act-0', port: 8012 },
    ]);
    expect(rest).toEqual([]);
    expect(s!.metadata.name).toBe('hello-tide');
    expect(s!.metadata.labels).toMatchObject({ 'kubernetes.io/service-name': 'hello', 'endpointslice.kubernetes.io/managed-by': 'tide.dev/autoscaler' });
    expect(s!.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Service', name: 'hello', uid: 'svc-uid' })]);
    expect(s!.endpoints!.map((e) => e.addresses[0])).toEqual(['10.0.0.4', '10.0.0.9']);
    expect(s!.ports).toEqual([
      { name: 'web', port: 8012, protocol: 'TCP' },
      { name: 'grpc', port: 8012, protocol: 'TCP' },
    ]);
  });

  it('targets on different ports go to one slice per port (a slice’s ports apply to all its endpoints)', () => {
    const slices = buildSwitchSlices(svc, [
      { ip: '127.0.0.1', name: 'p1', port: 4001 },
      { ip: '127.0.0.1', name: 'p2', port: 4002 },
    ]);
    expect(slices.map((s) => [s.metadata.name, s.ports?.[0]?.port, s.endpoints?.length])).toEqual([
      ['hello-tide', 4001, 1],
      ['hello-tide-1', 4002, 1],
    ]);
  });

  it('no targets: one empty slice, so the Service has no endpoints rather than stale ones', () => {
    const slices = buildSwitchSlices(svc, []);
    expect(slices).toHaveLength(1);
    expect(slices[0]!.endpoints).toEqual([]);
  });

  it('sameSlice ignores metadata noise but not endpoints or ports', () => {
    const [a] = buildSwitchSlices(svc, [{ ip: '10.0.0.1', name: 'a', port: 8012 }]);
    const withRv = { ...a!, metadata: { ...a!.metadata, resourceVersion: '42', uid: 'x' } };
    expect(sameSlice(a!, withRv)).toBe(true);
    const [b] = buildSwitchSlices(svc, [{ ip: '10.0.0.2', name: 'a', port: 8012 }]);
    expect(sameSlice(a!, b!)).toBe(false);
    const [c] = buildSwitchSlices(svc, [{ ip: '10.0.0.1', name: 'a', port: 8013 }]);
    expect(sameSlice(a!, c!)).toBe(false);
  });
});

describe('private Service', () => {
  it('has the original selector, the queue-proxy ports and an owner reference to the Deployment', () => {
    const p = buildPrivateService(svc, dep, originalSelector(svc)!);
    expect(p.metadata).toMatchObject({ name: 'hello-private', namespace: 'apps', labels: { 'tide.dev/managed': 'true', 'tide.dev/deployment': 'hello' } });
    expect(p.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Deployment', name: 'hello', uid: 'dep-uid' })]);
    expect(p.spec?.selector).toEqual({ app: 'hello' });
    expect(p.spec?.ports?.map((x) => [x.name, x.port, x.targetPort])).toEqual([
      ['http', 80, 8012],
      ['http-usermetric', 9091, 9091],
      ['tide-stats', 9090, 9090],
    ]);
  });

  it.each([['not json'], ['[]'], ['{"app":1}'], ['{}']])('a bad original-selector annotation %s gives no selector', (raw) => {
    expect(originalSelector({ ...svc, metadata: { ...svc.metadata, annotations: { 'tide.dev/original-selector': raw } } })).toBeUndefined();
  });

  it('hosts are the Kubernetes DNS forms of the Service', () => {
    expect(serviceHosts('hello', 'apps')).toEqual(['hello', 'hello.apps', 'hello.apps.svc', 'hello.apps.svc.cluster.local']);
  });
});

describe('resolveWorkload', () => {
  it('template annotations override the Deployment’s; tide.dev/container-concurrency and timeouts are read', () => {
    const d: Deployment = {
      metadata: { name: 'x', annotations: { 'autoscaling.knative.dev/max-scale': '5', 'tide.dev/container-concurrency': '3' } },
      spec: { template: { metadata: { annotations: { 'autoscaling.knative.dev/max-scale': '7', 'tide.dev/timeout-seconds': '30' } } } },
    };
    const { spec, problems } = resolveWorkload(d, undefined as never);
    expect(problems).toEqual([]);
    expect(spec.scaler.maxScale).toBe(7);
    expect(spec.containerConcurrency).toBe(3);
    expect(spec.timeoutSeconds).toBe(30);
  });

  it('a bad value falls back to the default and the Event message names the key as tide validate prints it', () => {
    const d: Deployment = { metadata: { name: 'x', annotations: { 'autoscaling.knative.dev/min-scale': 'lots' } } };
    const { spec, problems } = resolveWorkload(d, undefined as never);
    expect(spec.scaler.minScale).toBe(0);
    expect(problemsMessage(problems)).toBe('autoscaling.knative.dev/min-scale: invalid value: lots; the default applies');
  });

  it('the fingerprint changes with annotations, not with anything else', () => {
    const a = resolveWorkload({ metadata: { name: 'x', annotations: { 'autoscaling.knative.dev/target': '5' } } }, undefined as never);
    const b = resolveWorkload({ metadata: { name: 'x', resourceVersion: '9', annotations: { 'autoscaling.knative.dev/target': '5' } }, spec: { replicas: 4 } }, undefined as never);
    const c = resolveWorkload({ metadata: { name: 'x', annotations: { 'autoscaling.knative.dev/target': '6' } } }, undefined as never);
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(a.fingerprint).not.toBe(c.fingerprint);
  });
});

describe('activator assignment (Knative’s capacity split)', () => {
  it('index is the position of POD_IP among the ready activators sorted as strings; unknown → −1', () => {
    expect(activatorAssignment(['10.0.0.9', '10.0.0.10', '10.0.0.2'], '10.0.0.2')).toEqual({ index: 1, count: 3 });
    expect(activatorAssignment(['10.0.0.9', '10.0.0.10', '10.0.0.2'], '10.0.0.10')).toEqual({ index: 0, count: 3 });
    expect(activatorAssignment(['10.0.0.9'], '10.0.0.7')).toEqual({ index: -1, count: 1 });
    expect(activatorAssignment([], undefined)).toEqual({ index: -1, count: 1 });
  });

  it('three activators split seven pods between them with no pod twice and none left out', () => {
    const pods = sortAddresses(Array.from({ length: 7 }, (_, i) => ({ address: `10.1.0.${i + 1}:8012` })));
    const ips = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
    const shares = ips.map((ip) => {
      const { index, count } = activatorAssignment(ips, ip);
      return assignPods(pods, index, count).map((p) => p.address);
    });
    expect(shares.map((s) => s.length)).toEqual([3, 2, 2]);
    expect(new Set(shares.flat()).size).toBe(7);
  });
});

describe('informer backoff', () => {
  it('doubles from the first delay up to the cap', () => {
    const seq: number[] = [];
    let b = 0;
    for (let i = 0; i < 8; i++) seq.push((b = nextBackoff(b, 500, 30_000)));
    expect(seq).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });
});
