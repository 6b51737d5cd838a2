/** Label and field selectors in Kubernetes' query-string syntax. A parse error throws SelectorError. */

export class SelectorError extends Error {}

type Labels = Readonly<Record<string, string>> | undefined;

interface Requirement {
  key: string;
  op: 'in' | 'notin' | 'exists' | '!exists';
  values: string[];
}

export type LabelSelector = (labels: Labels) => boolean;

/** Splits on commas that are not inside parentheses: `a in (x,y),b` → [`a in (x,y)`, `b`]. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      terms.push(text.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(text.slice(start));
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$/;
const VALUE = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?)?$/;

function checked(key: string, values: string[], term: string): void {
  if (!KEY.test(key)) throw new SelectorError(`unable to parse requirement: invalid label key "${key}" in "${term}"`);
  for (const v of values) {
    if (!VALUE.test(v)) throw new SelectorError(`unable to parse requirement: invalid label value "${v}" in "${term}"`);
  }
}

function parseTerm(term: string): Requirement {
  let m = /^(\S+?)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (m) {
    const values = m[3]!.split(',').map((v) => v.trim());
    checked(m[1]!, values, term);
    return { key: m[1]!, op: m[2] as 'in' | 'notin', values };
  }
  m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (m) {
    checked(m[1]!, [m[3]!], term);
    return { key: m[1]!, op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!] };
  }
  m = /^(!?)\s*([^=!\s()]+)$/.exec(term);
  if (m) {
    checked(m[2]!, [], term);
    return { key: m[2]!, op: m[1] ? '!exists' : 'exists', values: [] };
  }
  throw new SelectorError(`unable to parse requirement: found '${term}', expected: key, !key, key=value, key!=value, key in (...), key notin (...)`);
}

export function parseLabelSelector(text: string | null): LabelSelector {
  const reqs = splitTerms(text ?? '').map(parseTerm);
  return (labels) =>
    reqs.every((r) => {
      const v = labels?.[r.key];
      switch (r.op) {
        case 'exists':
          return v !== undefined;
        case '!exists':
          return v === undefined;
        case 'in':
          return v !== undefined && r.values.includes(v);
        case 'notin':
          return v === undefined || !r.values.includes(v);
      }
    });
}

/** `{matchLabels}` (as in a Deployment's selector) → the query form `a=b,c=d`. */
export function formatMatchLabels(matchLabels: Readonly<Record<string, string>>): string {
  return Object.entries(matchLabels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The fields kube-apiserver lets a field selector use, by kind (every kind has metadata.name/namespace). */
const FIELDS: Record<string, readonly string[]> = {
  '*': ['metadata.name', 'metadata.namespace'],
  Pod: ['spec.nodeName', 'spec.serviceAccountName', 'status.phase', 'status.podIP'],
  Event: ['involvedObject.kind', 'involvedObject.name', 'involvedObject.namespace', 'involvedObject.uid', 'reason', 'type', 'regarding.kind', 'regarding.name', 'regarding.namespace'],
  Secret: ['type'],
};

export type FieldSelector = (obj: Record<string, unknown>) => boolean;

function fieldValue(obj: Record<string, unknown>, path: string): string {
  let v: unknown = obj;
  for (const part of path.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[part] : undefined;
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}

export function parseFieldSelector(text: string | null, kind: string): FieldSelector {
  const allowed = [...FIELDS['*']!, ...(FIELDS[kind] ?? [])];
  const reqs = splitTerms(text ?? '').map((term) => {
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
    if (!m) throw new SelectorError(`invalid field selector: '${term}'`);
    if (!allowed.includes(m[1]!)) throw new SelectorError(`field label not supported: ${m[1]!}`);
    return { path: m[1]!, negate: m[2] === '!=', value: m[3]! };
  });
  return (obj) => reqs.every((r) => (fieldValue(obj, r.path) === r.value) !== r.negate);
}
