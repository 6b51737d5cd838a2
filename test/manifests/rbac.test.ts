/**
 * Least privilege, written out: every verb each component's service account gets, and nothing else. A change to the
 * RBAC in manifests/rbac.yaml has to change this list too (and say why in docs/kubernetes.md / docs/install.md).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { fromRoot } from '../../common/paths.js';

interface Rule { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }
interface Obj { kind: string; metadata: { name: string; namespace?: string }; rules?: Rule[]; roleRef?: { kind: string; name: string }; subjects?: { kind: string; name: string; namespace: string }[] }

const objects = parseAllDocuments(readFileSync(fromRoot('manifests', 'rbac.yaml'), 'utf8')).map((d) => d.toJS() as Obj);

/** Every grant reaching a service account, as `scope group/resource[name] verb` lines, sorted. */
function grantsOf(account: string): string[] {
  const out: string[] = [];
  for (const b of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    if (!b.subjects?.some((s) => s.kind === 'ServiceAccount' && s.name === account && s.namespace === 'tide-system')) continue;
    const role = objects.find((o) => o.kind === b.roleRef!.kind && o.metadata.name === b.roleRef!.name && (o.kind === 'ClusterRole' || o.metadata.namespace === b.metadata.namespace));
    expect(role, `${b.kind}/${b.metadata.name} → ${b.roleRef!.kind}/${b.roleRef!.name}`).toBeDefined();
    const scope = b.kind === 'ClusterRoleBinding' ? 'cluster' : b.metadata.namespace!;
    for (const r of role!.rules ?? []) {
      for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) {
        const names = r.resourceNames ? `[${r.resourceNames.join(',')}]` : '';
        out.push(`${scope} ${g === '' ? 'core' : g}/${res}${names} ${v}`);
      }
    }
  }
  return out.sort();
}

describe('manifests/rbac.yaml', () => {
  it('the autoscaler: scale managed Deployments, keep Services and EndpointSlices, read pods, write Events, one Lease', () => {
    expect(grantsOf('tide-autoscaler')).toEqual(
      [
        'cluster apps/deployments get', 'cluster apps/deployments list', 'cluster apps/deployments watch',
        'cluster apps/deployments/scale get', 'cluster apps/deployments/scale patch', 'cluster apps/deployments/scale update',
        'cluster core/services create', 'cluster core/services delete', 'cluster core/services get', 'cluster core/services list',
        'cluster core/services patch', 'cluster core/services update', 'cluster core/services watch',
        'cluster discovery.k8s.io/endpointslices create', 'cluster discovery.k8s.io/endpointslices delete',
        'cluster discovery.k8s.io/endpointslices get', 'cluster discovery.k8s.io/endpointslices list',
        'cluster discovery.k8s.io/endpointslices patch', 'cluster discovery.k8s.io/endpointslices update',
        'cluster discovery.k8s.io/endpointslices watch',
        'cluster core/pods get', 'cluster core/pods list', 'cluster core/pods watch',
        'cluster core/events create', 'cluster core/events list', 'cluster core/events patch',
        'cluster events.k8s.io/events create', 'cluster events.k8s.io/events patch',
        'tide-system coordination.k8s.io/leases create',
        'tide-system coordination.k8s.io/leases[tide-autoscaler] get', 'tide-system coordination.k8s.io/leases[tide-autoscaler] update',
      ].sort(),
    );
  });

  it('the activator only reads managed Deployments, Services and EndpointSlices', () => {
    expect(grantsOf('tide-activator')).toEqual(
      [
        'cluster apps/deployments get', 'cluster apps/deployments list', 'cluster apps/deployments watch',
        'cluster core/services get', 'cluster core/services list', 'cluster core/services watch',
        'cluster discovery.k8s.io/endpointslices get', 'cluster discovery.k8s.io/endpointslices list', 'cluster discovery.k8s.io/endpointslices watch',
      ].sort(),
    );
  });

  it('the webhook: its one Secret, its own webhook configuration, and the Services it prepares', () => {
    expect(grantsOf('tide-webhook')).toEqual(
      [
        'tide-system core/secrets create',
        'cluster apps/deployments list',
        'cluster core/services list', 'cluster core/services patch',
        'tide-system core/secrets[tide-webhook-certs] get', 'tide-system core/secrets[tide-webhook-certs] update',
        'cluster admissionregistration.k8s.io/mutatingwebhookconfigurations[tide-webhook] get',
        'cluster admissionregistration.k8s.io/mutatingwebhookconfigurations[tide-webhook] patch',
      ].sort(),
    );
  });

  it('no wildcard anywhere, and no access to secrets outside the webhook', () => {
    for (const o of objects) {
      for (const r of o.rules ?? []) {
        for (const field of [r.apiGroups, r.resources, r.verbs]) expect(field, o.metadata.name).not.toContain('*');
        if (r.resources.includes('secrets')) expect(o.metadata.name).toBe('tide-webhook');
      }
    }
  });
});
