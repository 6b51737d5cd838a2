/** Reads Kubernetes YAML and finds each workload's scaling annotations, with line numbers, plus the autoscaler's ConfigMaps in the same stream. */
import { LineCounter, isMap, isScalar, isSeq, parseAllDocuments, type Node, type YAMLMap } from 'yaml';
import type { ConfigProblem } from '../../common/errors.js';
import { resolveRevisionSpec } from './annotations.js';
import { AUTOSCALER_DEFAULTS, parseAutoscalerConfig, type AutoscalerConfig } from './autoscaler-config.js';
import type { RevisionScalingSpec } from './revision-spec.js';

/** A 1-based line and column in the input text. */
export interface TextPosition {
  readonly line: number;
  readonly column: number;
}

/** One object whose pods Tide would scale: an apps/v1 Deployment, or a Knative Service, Configuration or Revision. */
export interface Workload {
  /** 1-based index of the YAML document in the stream. */
  readonly document: number;
  readonly apiVersion: string;
  readonly kind: string;
  /** `metadata.namespace`, or `default` when the object names none. */
  readonly namespace: string;
  readonly name: string;
  /** Where the object starts. */
  readonly position: TextPosition;
  /**
   * The scaling annotations: for a Deployment, `metadata.annotations` overridden by the pod template's
   * `spec.template.metadata.annotations` (where Knative users put them). For Knative objects, the revision template's
   * annotations, plus its `containerConcurrency` and timeouts under Tide's equivalent `tide.dev/*` keys.
   */
  readonly annotations: Readonly<Record<string, string>>;
  /** Where each key of `annotations` was written. */
  readonly annotationPositions: Readonly<Record<string, TextPosition>>;
  /** The resolved spec (bad values replaced by defaults). */
  readonly spec: RevisionScalingSpec;
  /** This object's problems (also in the stream's `problems`). */
  readonly problems: readonly LocatedProblem[];
}

/** A problem with where it was found. `key` is `yaml` for syntax errors. */
export interface LocatedProblem extends ConfigProblem, TextPosition {
  /** 1-based document index. */
  readonly document: number;
  /** `Deployment default/hello`, when the problem belongs to one object. */
  readonly object?: string;
}

const KNATIVE_KINDS = new Set(['Service', 'Configuration', 'Revision']);
/** Knative spec fields and the Tide annotation each stands for. */
const KNATIVE_SPEC_FIELDS: Readonly<Record<string, string>> = {
  containerConcurrency: 'tide.dev/container-concurrency',
  timeoutSeconds: 'tide.dev/timeout-seconds',
  responseStartTimeoutSeconds: 'tide.dev/response-start-timeout-seconds',
  idleTimeoutSeconds: 'tide.dev/idle-timeout-seconds',
};

/**
 * ConfigMaps whose keys feed AutoscalerConfig, and which of their keys do. Tide keeps them all in `config-autoscaler`;
 * Knative's own `config-defaults` and `config-deployment` are also read, so manifests written for Knative check the
 * same way. A key in `config-autoscaler` wins over the same key in the other two.
 */
const CONFIG_SOURCES: Readonly<Record<string, readonly string[] | 'all'>> = {
  'config-deployment': ['progressDeadline', 'progress-deadline'], // Knative reads both; the kebab-case one wins.
  'config-defaults': [
    'container-concurrency',
    'container-concurrency-max-limit',
    'revision-timeout-seconds',
    'max-revision-timeout-seconds',
    'revision-response-start-timeout-seconds',
    'revision-idle-timeout-seconds',
  ],
  'config-autoscaler': 'all',
};

interface ConfigSource {
  document: number;
  object: string;
  position: TextPosition;
  values: Record<string, string>;
  positions: Record<string, TextPosition>;
}

interface Found {
  document: number;
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  position: TextPosition;
  annotations: Record<string, string>;
  positions: Record<string, TextPosition>;
  /** Tide key → the field path the user actually wrote (for Knative spec fields). */
  displayKeys: Record<string, string>;
}

/**
 * Reads one or many YAML documents. Never throws on bad input: syntax errors come back as problems with their line
 * and column, and so does every bad annotation or ConfigMap value. The first ConfigMap named `config-autoscaler`
 * (and Knative's `config-defaults` and `config-deployment`, for their few keys Tide uses) configures every workload in
 * the stream, wherever it appears; without one, Knative's defaults apply.
 */
export function readWorkloads(text: string): {
  config: Readonly<AutoscalerConfig>;
  /** The `config-autoscaler` ConfigMap that `config` came from, if the stream had one. */
  configMap: { readonly document: number; readonly object: string } | undefined;
  /** Every ConfigMap `config` was read from (config-autoscaler, and Knative's config-defaults and config-deployment), in stream order. */
  configMaps: { readonly document: number; readonly object: string }[];
  workloads: Workload[];
  problems: LocatedProblem[];
} {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const pos = (offset: number | undefined): TextPosition => {
    const p = lines.linePos(offset ?? 0);
    return { line: p.line, column: p.col };
  };
  const problems: LocatedProblem[] = [];
  const found: Found[] = [];
  const sources = new Map<string, ConfigSource>();

  const list = Array.isArray(docs) ? docs : [];
  /** Reads one Kubernetes object: a config-autoscaler ConfigMap, a workload, or something we skip. */
  const visit = (root: YAMLMap, document: number): void => {
    const apiVersion = scalarString(root.get('apiVersion', true));
    const kind = scalarString(root.get('kind', true));
    const metadata = mapAt(root, 'metadata');
    const namespace = (metadata && scalarString(metadata.get('namespace', true))) || 'default';
    const name = (metadata && scalarString(metadata.get('name', true))) || '(unnamed)';
    const position = pos(root.range?.[0]);
    const object = `${kind} ${namespace}/${name}`;
    const locate = (p: ConfigProblem, at: TextPosition): LocatedProblem => ({ document, object, ...at, key: p.key, message: p.message });

    if (apiVersion === 'v1' && kind === 'ConfigMap' && Object.hasOwn(CONFIG_SOURCES, name)) {
      const first = sources.get(name);
      if (first) {
        problems.push(locate({ key: 'metadata.name', message: `another ${name} ConfigMap; only the first one (document ${first.document}) is used` }, position));
        return;
      }
      const data = readStringMap(mapAt(root, 'data'), pos, (p, at) => problems.push(locate(p, at)));
      sources.set(name, { document, object, position, ...data });
      return;
    }

    let metas: (YAMLMap | undefined)[];
    let specFields: YAMLMap | undefined;
    if (apiVersion === 'apps/v1' && kind === 'Deployment') {
      metas = [metadata, mapAt(mapAt(mapAt(root, 'spec'), 'template'), 'metadata')];
    } else if (apiVersion.startsWith('serving.knative.dev/') && KNATIVE_KINDS.has(kind)) {
      // Knative scales a revision by its template's annotations; a Revision carries them itself.
      const template = kind === 'Revision' ? root : mapAt(mapAt(root, 'spec'), 'template');
      metas = [mapAt(template, 'metadata')];
      specFields = mapAt(template, 'spec');
    } else {
      return;
    }
    const f: Found = { document, apiVersion, kind, namespace, name, position, annotations: {}, positions: {}, displayKeys: {} };
    for (const meta of metas) {
      const anns = readStringMap(mapAt(meta, 'annotations'), pos, (p, at) => problems.push(locate(p, at)));
      Object.assign(f.annotations, anns.values);
      Object.assign(f.positions, anns.positions);
    }
    if (specFields) {
      for (const pair of specFields.items) {
        const field = scalarString(pair.key);
        const tideKey = KNATIVE_SPEC_FIELDS[field];
        if (tideKey === undefined || !isScalar(pair.value)) continue;
        const v: unknown = pair.value.value;
        f.annotations[tideKey] = typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' ? String(v) : '';
        f.positions[tideKey] = pos((pair.key as Node).range?.[0]);
        f.displayKeys[tideKey] = `spec.${kind === 'Revision' ? '' : 'template.spec.'}${field}`;
      }
    }
    found.push(f);
  };

  list.forEach((doc, index) => {
    const document = index + 1;
    if (doc.errors.length > 0) {
      for (const err of doc.errors) {
        problems.push({ document, ...pos(err.pos[0]), key: 'yaml', message: `syntax error: ${firstLine(err.message)}` });
      }
      return;
    }
    const root = doc.contents;
    if (!isMap(root)) return;
    // `kubectl get -o yaml` wraps objects in a List; each item is read as if it were its own document.
    const items = scalarString(root.get('kind', true)).endsWith('List') ? root.get('items', true) : undefined;
    if (isSeq(items)) {
      for (const item of items.items) if (isMap(item)) visit(item, document);
    } else {
      visit(root, document);
    }
  });

  const { config, configMap } = readConfig(sources, problems);

  const workloads = found.map((f): Workload => {
    const object = `${f.kind} ${f.namespace}/${f.name}`;
    const { spec, problems: raw } = resolveRevisionSpec(f.annotations, config);
    const located = raw.map((p): LocatedProblem => ({
      document: f.document,
      object,
      ...(f.positions[p.key] ?? f.position),
      key: f.displayKeys[p.key] ?? p.key,
      message: p.message,
    }));
    problems.push(...located);
    return {
      document: f.document,
      apiVersion: f.apiVersion,
      kind: f.kind,
      namespace: f.namespace,
      name: f.name,
      position: f.position,
      annotations: f.annotations,
      annotationPositions: f.positions,
      spec,
      problems: located,
    };
  });
  problems.sort((a, b) => a.document - b.document || a.line - b.line || a.column - b.column);
  const configMaps = [...sources.values()].sort((a, b) => a.document - b.document || a.position.line - b.position.line).map((c) => ({ document: c.document, object: c.object }));
  return { config, configMap, configMaps, workloads, problems };
}

/** Merges the ConfigMaps' keys, parses them once, and locates each problem at the key that caused it. */
function readConfig(
  sources: ReadonlyMap<string, ConfigSource>,
  problems: LocatedProblem[],
): { config: Readonly<AutoscalerConfig>; configMap: { document: number; object: string } | undefined } {
  if (sources.size === 0) return { config: AUTOSCALER_DEFAULTS, configMap: undefined };
  const data: Record<string, string> = {};
  const from: Record<string, { source: ConfigSource; at: TextPosition }> = {};
  // In CONFIG_SOURCES order, so config-autoscaler is applied last and wins.
  for (const [name, keys] of Object.entries(CONFIG_SOURCES)) {
    const source = sources.get(name);
    if (!source) continue;
    for (const [key, value] of Object.entries(source.values)) {
      if (keys !== 'all' && !keys.includes(key)) continue;
      const target = key === 'progressDeadline' ? 'progress-deadline' : key;
      if (keys !== 'all' && key === 'progressDeadline' && Object.hasOwn(source.values, 'progress-deadline')) continue;
      data[target] = value;
      from[target] = { source, at: source.positions[key] ?? source.position };
    }
  }
  const parsed = parseAutoscalerConfig(data);
  const fallback = sources.get('config-autoscaler') ?? [...sources.values()][0]!;
  for (const p of parsed.problems) {
    const where = from[p.key] ?? { source: fallback, at: fallback.position };
    problems.push({ document: where.source.document, object: where.source.object, ...where.at, key: p.key, message: p.message });
  }
  const cm = sources.get('config-autoscaler');
  return { config: parsed.config, configMap: cm && { document: cm.document, object: cm.object } };
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

function scalarString(node: unknown): string {
  return isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number') ? String(node.value) : '';
}

function mapAt(parent: YAMLMap | undefined, key: string): YAMLMap | undefined {
  const node = parent?.get(key, true);
  return isMap(node) ? node : undefined;
}

/**
 * A map of string values (annotations, ConfigMap data). Kubernetes refuses non-string values (`min-scale: 1` must be
 * quoted), so those are reported; their text is still used so the rest of the checks can run.
 */
function readStringMap(
  map: YAMLMap | undefined,
  pos: (offset: number | undefined) => TextPosition,
  report: (p: ConfigProblem, at: TextPosition) => void,
): { values: Record<string, string>; positions: Record<string, TextPosition> } {
  const values: Record<string, string> = {};
  const positions: Record<string, TextPosition> = {};
  for (const pair of map?.items ?? []) {
    const keyNode = pair.key as Node | null;
    const key = scalarString(keyNode);
    if (key === '') continue;
    const at = pos(keyNode?.range?.[0]);
    positions[key] = at;
    const v = pair.value;
    if (v === null || (isScalar(v) && v.value === null)) {
      values[key] = '';
    } else if (isScalar(v) && typeof v.value === 'string') {
      values[key] = v.value;
    } else if (isScalar(v)) {
      const text = v.source ?? String(v.value);
      values[key] = text;
      report({ key, message: `value must be a string: quote it ("${text}")` }, at);
    } else {
      report({ key, message: 'value must be a string, not a map or a list' }, at);
    }
  }
  return { values, positions };
}
