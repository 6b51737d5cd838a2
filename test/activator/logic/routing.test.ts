import { describe, expect, it } from 'vitest';
import { normalizeHost, route } from '../../../activator/logic/routing.js';
import { StaticRevisionSource } from '../../../activator/static-source.js';

const hello = {
  namespace: 'default',
  revision: 'hello-1',
  hosts: ['hello.default.svc.cluster.local', 'hello.localhost'],
  containerConcurrency: 1,
  timeoutSeconds: 300,
  responseStartTimeoutSeconds: 300,
  idleTimeoutSeconds: 0,
};
const revisions = new StaticRevisionSource([hello]);

describe('§b2 routing', () => {
  it.each([
    { name: 'kubelet UA → health', headers: { 'user-agent': 'kube-probe/1.29' }, host: 'x', want: 'health' },
    { name: 'K-Kubelet-Probe → health', headers: { 'k-kubelet-probe': 'x' }, host: 'x', want: 'health' },
    { name: 'K-Network-Probe: probe → hash echo', headers: { 'k-network-probe': 'probe', 'k-network-hash': 'h' }, host: 'x', want: 'hash-probe' },
    { name: 'K-Network-Probe: activator', headers: { 'k-network-probe': 'activator' }, host: 'x', want: 'activator-probe' },
    { name: 'K-Network-Probe: queue → 400', headers: { 'k-network-probe': 'queue' }, host: 'x', want: 'bad-probe' },
    { name: 'revision headers', headers: { 'knative-serving-namespace': 'default', 'knative-serving-revision': 'hello-1' }, host: 'other', want: 'revision' },
    { name: 'unknown revision headers do not fall back to Host', headers: { 'knative-serving-namespace': 'default', 'knative-serving-revision': 'nope' }, host: 'hello.localhost', want: 'unknown-revision' },
    { name: 'Host with port and capitals', headers: {}, host: 'Hello.LocalHost:8080', want: 'revision' },
    { name: 'unknown Host', headers: {}, host: 'evil.example:80', want: 'unknown-revision' },
    { name: 'no Host', headers: {}, host: undefined, want: 'unknown-revision' },
  ])('$name', ({ headers, host, want }) => {
    expect(route(headers, host, revisions).kind).toBe(want);
  });

  it.each([
    ['Hello.Default:8080', 'hello.default'],
    ['hello.default.', 'hello.default'],
    ['[::1]:8080', '[::1]'],
    ['example', 'example'],
  ])('normalizeHost(%s) = %s', (input, want) => {
    expect(normalizeHost(input)).toBe(want);
  });
});
