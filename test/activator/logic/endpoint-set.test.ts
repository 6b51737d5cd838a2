import { describe, expect, it } from 'vitest';
import { EndpointSet } from '../../../activator/logic/endpoint-set.js';

const ep = (n: number, ready = true) => ({ name: `pod-${n}`, address: `10.0.0.${n}:8012`, ready });

describe('§b4 pod states', () => {
  it('new pods are unverified until their probe passes, then healthy even if not ready yet', () => {
    const s = new EndpointSet();
    const d = s.update([ep(1, false), ep(2)]);
    expect(d.added.map((e) => e.name)).toEqual(['pod-1', 'pod-2']);
    expect(s.healthy()).toEqual([]);
    expect(s.markHealthy('10.0.0.1:8012')).toBe(true);
    expect(s.healthy().map((e) => e.name)).toEqual(['pod-1']);
    expect(s.unverified().map((e) => e.name)).toEqual(['pod-2']);
  });

  it('removed pods are reported and forgotten', () => {
    const s = new EndpointSet();
    s.update([ep(1), ep(2)]);
    s.markHealthy('10.0.0.1:8012');
    const d = s.update([ep(2)]);
    expect(d.removed.map((e) => e.name)).toEqual(['pod-1']);
    expect(s.healthy()).toEqual([]);
    expect(s.markHealthy('10.0.0.1:8012')).toBe(false);
  });

  it('a pod that fails is dropped and probed again; a ready→not-ready pod too', () => {
    const s = new EndpointSet();
    s.update([ep(1), ep(2)]);
    s.markHealthy('10.0.0.1:8012');
    s.markHealthy('10.0.0.2:8012');
    expect(s.markFailed('10.0.0.1:8012')).toBe(true);
    expect(s.markFailed('10.0.0.1:8012')).toBe(false);
    s.update([ep(1), ep(2, false)]);
    expect(s.healthy()).toEqual([]);
    expect(s.unverified().map((e) => e.name)).toEqual(['pod-1', 'pod-2']);
  });

  it('trustReady uses ready pods without probing (Knative outside mesh mode)', () => {
    const s = new EndpointSet({ trustReady: true });
    s.update([ep(1), ep(2, false)]);
    expect(s.healthy().map((e) => e.name)).toEqual(['pod-1']);
  });
});
