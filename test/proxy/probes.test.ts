import { describe, expect, it } from 'vitest';
import { answerHashProbe, answerHealthCheck, classifyProbe, type ProbeKind } from '../../proxy/probes.js';

describe('probe classification (§a6, §a9)', () => {
  it.each<{ name: string; headers: Record<string, string>; want: ProbeKind }>([
    { name: 'kubelet UA', headers: { 'user-agent': 'kube-probe/1.29' }, want: 'health' },
    { name: 'K-Kubelet-Probe header (deprecated)', headers: { 'k-kubelet-probe': 'queue' }, want: 'health' },
    { name: 'activator probe UA', headers: { 'user-agent': 'Knative-Activator-Probe', 'k-network-probe': 'queue' }, want: 'health' },
    { name: 'autoscaler probe UA', headers: { 'user-agent': 'Knative-Autoscaling-Probe' }, want: 'health' },
    { name: 'bare K-Network-Probe: queue (Tide)', headers: { 'k-network-probe': 'queue' }, want: 'health' },
    { name: 'K-Network-Probe: probe', headers: { 'k-network-probe': 'probe', 'k-network-hash': 'abc' }, want: 'hash' },
    { name: 'a browser', headers: { 'user-agent': 'Mozilla/5.0' }, want: 'none' },
    { name: 'kube-probe not at the start of the UA', headers: { 'user-agent': 'curl kube-probe/1.0' }, want: 'none' },
    { name: 'other K-Network-Probe value', headers: { 'k-network-probe': 'activator' }, want: 'none' },
  ])('§a6 $name → $want', ({ headers, want }) => {
    expect(classifyProbe(headers)).toBe(want);
  });
});

describe('health-check answers (§a6)', () => {
  const ready = () => Promise.resolve(true);
  const notReady = () => Promise.resolve(false);
  it('§a6 503 shutting down while draining, without probing the app', async () => {
    let probed = false;
    const a = await answerHealthCheck({ 'k-network-probe': 'queue' }, true, () => ((probed = true), ready()));
    expect(a).toEqual({ status: 503, body: 'shutting down' });
    expect(probed).toBe(false);
  });
  it('§a6 400 for another K-Network-Probe value', async () => {
    expect(await answerHealthCheck({ 'k-network-probe': 'nope' }, false, ready)).toEqual({ status: 400, body: 'unexpected probe header value: nope' });
    expect(await answerHealthCheck({ 'user-agent': 'kube-probe/1' }, false, ready)).toEqual({ status: 400, body: 'unexpected probe header value: ' });
  });
  it('§a6 200 queue when ready, 503 empty when not', async () => {
    expect(await answerHealthCheck({ 'k-network-probe': 'queue' }, false, ready)).toEqual({ status: 200, body: 'queue' });
    expect(await answerHealthCheck({ 'k-network-probe': 'queue' }, false, notReady)).toEqual({ status: 503, body: '' });
  });
  it('§a3 hash probe echoes K-Network-Hash, 400 without it', () => {
    expect(answerHashProbe({ 'k-network-probe': 'probe', 'k-network-hash': 'h1' })).toEqual({ status: 200, body: '', headers: { 'K-Network-Hash': 'h1' } });
    expect(answerHashProbe({ 'k-network-probe': 'probe' }).status).toBe(400);
  });
});
