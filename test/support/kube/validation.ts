/**
 * Minimal structural validation, with Kubernetes' field paths and wording, so a client sees the same
 * 422 Invalid Status it would get from a real API server for the mistakes tests make.
 */
import type { KubeObject } from './fake-apiserver.js';

export interface Cause {
  reason: 'FieldValueRequired' | 'FieldValueInvalid';
  field: string;
  message: string;
}

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function required(field: string): Cause {
  return { reason: 'FieldValueRequired', field, message: 'Required value' };
}

function invalid(field: string, value: unknown, why: string): Cause {
  return { reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(value)}: ${why}` };
}

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined);
const asList = (v: unknown): unknown[] | undefined => (Array.isArray(v) ? v : undefined);

function validateDeployment(spec: Obj | undefined, causes: Cause[]): void {
  const replicas = spec?.['replicas'];
  if (replicas !== undefined && !(Number.isInteger(replicas) && (replicas as number) >= 0)) {
    causes.push(invalid('spec.replicas', replicas, 'must be greater than or equal to 0'));
  }
  const selector = asObj(asObj(spec?.['selector'])?.['matchLabels']);
  if (!selector || Object.keys(selector).length === 0) causes.push(required('spec.selector'));
  const template = asObj(spec?.['template']);
  const labels = asObj(asObj(template?.['metadata'])?.['labels']) ?? {};
  if (selector && Object.entries(selector).some(([k, v]) => labels[k] !== v)) {
    causes.push(invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
  }
  if (!asList(asObj(template?.['spec'])?.['containers'])?.length) causes.push(required('spec.template.spec.containers'));
}

function validateService(spec: Obj | undefined, causes: Cause[]): void {
  const ports = asList(spec?.['ports']) ?? [];
  const headless = spec?.['clusterIP'] === 'None' || spec?.['type'] === 'ExternalName';
  if (ports.length === 0 && !headless) causes.push(required('spec.ports'));
  ports.forEach((p, i) => {
    const port = asObj(p)?.['port'];
    if (!(Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535)) {
      causes.push(invalid(`spec.ports[${i}].port`, port, 'must be between 1 and 65535, inclusive'));
    }
    if (ports.length > 1 && !asObj(p)?.['name']) causes.push(required(`spec.ports[${i}].name`));
  });
}

/** The causes that make `obj` invalid; empty when it is acceptable. */
export function validate(obj: KubeObject): Cause[] {
  const causes: Cause[] = [];
  const { name } = obj.metadata;
  if (!name) causes.push({ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' });
  else if (name.length > 253 || !SUBDOMAIN.test(name)) {
    causes.push(invalid('metadata.name', name, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"));
  }
  const spec = asObj(obj['spec']);
  switch (obj.kind) {
    case 'Deployment':
      validateDeployment(spec, causes);
      break;
    case 'Service':
      validateService(spec, causes);
      break;
    case 'Pod':
      if (!asList(spec?.['containers'])?.length) causes.push(required('spec.containers'));
      break;
    case 'EndpointSlice':
      if (!obj['addressType']) causes.push(required('addressType'));
      (asList(obj['endpoints']) ?? []).forEach((e, i) => {
        if (!asList(asObj(e)?.['addresses'])?.length) causes.push(required(`endpoints[${i}].addresses`));
      });
      break;
  }
  return causes;
}
