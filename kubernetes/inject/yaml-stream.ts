/**
 * `tide inject` / `tide uninject` over a YAML stream: every document and `List` item is read, Deployments and the
 * Services in front of them go through workload.ts, and the changes are written back into the YAML nodes as the JSON
 * Patch between the object before and after, so comments, key order, formatting and unrelated fields survive and
 * documents that did not change come out byte for byte.
 */
import fastJsonPatch from 'fast-json-patch';
import { LineCounter, Parser, isMap, isSeq, parseAllDocuments, type Document, type Node } from 'yaml';
import {
  fronts,
  injectDeployment,
  isDeployment,
  isService,
  nameOf,
  namespaceOf,
  prepareService,
  restoreService,
  uninjectDeployment,
  type InjectOptions,
  type JsonObject,
  type Outcome,
} from './workload.js';

const { compare } = fastJsonPatch;

export type Mode = 'inject' | 'uninject';

export interface StreamResult {
  /** The transformed YAML; only meaningful when `errors` is empty. */
  output: string;
  /** One line per object: what was changed or skipped and why. */
  notes: string[];
  /** Problems that stop the transform, each naming the object (or line) and field. */
  errors: string[];
}

/** One Kubernetes object in the stream: a document's root, or an item of a `List`. */
interface Entry {
  doc: Document;
  docIndex: number;
  /** Path from the document root to the object (`[]` or `['items', i]`). */
  path: (string | number)[];
  object: JsonObject;
}

type YamlPath = (string | number)[];

/** No folding of long values (the probe JSON), and `{a: 1}` as Kubernetes YAML is usually written. */
const TO_STRING = { lineWidth: 0, flowCollectionPadding: false } as const;

/**
 * Injects (or uninjects) every Deployment in `text` and prepares (or restores) the Services that select its pods.
 * Never throws on bad input: syntax errors and objects that cannot be injected come back in `errors`.
 */
export function transformYaml(text: string, mode: Mode, opts: InjectOptions, source = '<stdin>'): StreamResult {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  const notes: string[] = [];
  const errors: string[] = [];
  const list = Array.isArray(docs) ? docs : [];
  for (const doc of list) {
    for (const err of doc.errors) {
      const p = lines.linePos(err.pos[0]);
      errors.push(`${source}:${p.line}:${p.col}: YAML syntax error: ${err.message.split('\n')[0]}`);
    }
  }
  if (errors.length > 0) return { output: '', notes, errors };

  const entries: Entry[] = [];
  list.forEach((doc, docIndex) => {
    const root = doc.contents;
    if (!isMap(root)) return;
    const kind: unknown = root.get('kind');
    const items = typeof kind === 'string' && kind.endsWith('List') ? root.get('items', true) : undefined;
    if (isSeq(items)) {
      items.items.forEach((item, i) => {
        if (isMap(item)) entries.push({ doc, docIndex, path: ['items', i], object: item.toJS(doc) as JsonObject });
      });
    } else {
      entries.push({ doc, docIndex, path: [], object: root.toJS(doc) as JsonObject });
    }
  });

  const deployments = entries.filter((e) => isDeployment(e.object));
  const services = entries.filter((e) => isService(e.object));
  /** Deployment key (ns/name) → the Services in front of it. */
  const servicesOf = new Map<string, Entry[]>();
  const owner = new Map<Entry, string>();
  for (const s of services) {
    const match = deployments.find((d) => fronts(s.object, d.object));
    if (!match) continue;
    const key = `${namespaceOf(s.object)}/${nameOf(match.object)}`;
    servicesOf.set(key, [...(servicesOf.get(key) ?? []), s]);
    owner.set(s, nameOf(match.object));
  }

  const changedDocs = new Set<number>();
  const apply = (e: Entry, outcome: Outcome, what: string): boolean => {
    if (outcome.kind === 'error') {
      errors.push(`${source}: ${outcome.message}`);
      return false;
    }
    if (outcome.kind === 'skipped') {
      notes.push(`skipped ${what}: ${outcome.reason}`);
      return true;
    }
    for (const op of compare(e.object, outcome.object)) applyOp(e.doc, e.path, op);
    changedDocs.add(e.docIndex);
    notes.push(`${mode === 'inject' ? 'injected' : 'uninjected'} ${what}: ${outcome.note}`);
    return true;
  };
  const describeEntry = (e: Entry): string => {
    const namespaced = isDeployment(e.object) || isService(e.object) || typeof (e.object['metadata'] as JsonObject | undefined)?.['namespace'] === 'string';
    return `${kindOf(e.object)} ${namespaced ? `${namespaceOf(e.object)}/` : ''}${nameOf(e.object)}`;
  };

  const ok = new Set<string>();
  for (const d of deployments) {
    const key = `${namespaceOf(d.object)}/${nameOf(d.object)}`;
    const front = servicesOf.get(key) ?? [];
    const serviceName = front.length === 1 ? nameOf(front[0]!.object) : undefined;
    const outcome = mode === 'inject' ? injectDeployment(d.object, { ...opts, ...(serviceName === undefined ? {} : { serviceName }) }) : uninjectDeployment(d.object);
    if (apply(d, outcome, describeEntry(d))) ok.add(key);
    if (mode === 'inject' && front.length === 0 && outcome.kind === 'changed') {
      notes.push(`note ${describeEntry(d)}: no Service in the input selects its pods; inject its Service with it so Tide can route to it`);
    }
  }
  for (const s of services) {
    const dep = owner.get(s);
    if (dep === undefined || !ok.has(`${namespaceOf(s.object)}/${dep}`)) {
      notes.push(`skipped ${describeEntry(s)}: ${dep === undefined ? 'selects no Deployment in the input' : `its Deployment ${dep} was not ${mode}ed`}`);
      continue;
    }
    apply(s, mode === 'inject' ? prepareService(s.object, dep) : restoreService(s.object), describeEntry(s));
  }
  for (const e of entries) {
    if (!isDeployment(e.object) && !isService(e.object)) notes.push(`skipped ${describeEntry(e)}: ${kindOf(e.object)} is passed through unchanged`);
  }
  if (errors.length > 0) return { output: '', notes, errors };
  return { output: render(text, list, changedDocs), notes, errors };
}

function kindOf(o: JsonObject): string {
  return typeof o['kind'] === 'string' ? o['kind'] : '(no kind)';
}

/** The stream with changed documents re-serialised and every other document copied from the input verbatim. */
function render(text: string, docs: Document[], changed: ReadonlySet<number>): string {
  if (changed.size === 0) return text;
  const starts = new Parser().parse(text);
  const offsets: number[] = [];
  for (const token of starts) if (token.type === 'document') offsets.push(token.offset);
  if (offsets.length !== docs.length) return docs.map((d) => d.toString({ lineWidth: 0 })).join('');
  let out = '';
  docs.forEach((doc, i) => {
    const from = i === 0 ? 0 : offsets[i]!;
    const to = i + 1 < offsets.length ? offsets[i + 1]! : text.length;
    out += changed.has(i) ? doc.toString(TO_STRING) : text.slice(from, to);
  });
  return out;
}

/** Applies one RFC 6902 operation (as `compare` makes them: add, remove, replace) to the YAML node tree. */
function applyOp(doc: Document, base: YamlPath, op: fastJsonPatch.Operation): void {
  const segments = op.path.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = segments.pop();
  if (last === undefined) throw new Error('a patch of the whole object is never produced by compare');
  const parentPath = [...base, ...segments];
  const parent = parentPath.length === 0 ? doc.contents : (doc.getIn(parentPath, true) as Node | undefined);
  if (op.op !== 'remove') {
    // A flow collection (`{name: a}`) would print everything added into it on one line: write the path to it as blocks.
    for (let i = 0; i <= parentPath.length; i++) {
      const node = i === 0 ? doc.contents : (doc.getIn(parentPath.slice(0, i), true) as Node | undefined);
      if ((isMap(node) || isSeq(node)) && node.flow) node.flow = false;
    }
  }
  const value = op.op === 'remove' ? undefined : doc.createNode((op as { value: unknown }).value);
  if (isSeq(parent)) {
    const index = last === '-' ? parent.items.length : Number(last);
    if (op.op === 'add') parent.items.splice(index, 0, value!);
    else if (op.op === 'replace') parent.items[index] = value!;
    else if (op.op === 'remove') parent.items.splice(index, 1);
    return;
  }
  if (isMap(parent)) {
    if (op.op === 'remove') parent.delete(last);
    else parent.set(last, value);
    return;
  }
  throw new Error(`cannot apply ${op.op} at ${op.path}: the parent is not a map or sequence`);
}
