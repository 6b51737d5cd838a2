/**
 * `tide.yaml`: the services `tide up` runs (docs/tide-up.md). Pure: text in, declarations and problems out; every
 * problem names the service and the key, so a bad file is refused before anything starts.
 */
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { ConfigProblem } from '../common/errors.js';

/** One service as declared, with defaults applied. Durations in seconds, as written. */
export interface ServiceDecl {
  /** DNS label; the service answers on Host `<name>.localhost`. Also the revision name. */
  readonly name: string;
  /** The executable (looked up on PATH like a shell would). `node` is this Node binary. */
  readonly command: string;
  readonly args: readonly string[];
  /** Absolute working folder of the app (default: the folder of tide.yaml). */
  readonly cwd: string;
  /** Extra environment for the app, on top of tide up's own environment. */
  readonly env: Readonly<Record<string, string>>;
  /** The variable the app reads its port from (default `PORT`). */
  readonly portEnv: string;
  /** SIGTERM → SIGKILL grace per replica; undefined = the resolved timeoutSeconds (Knative, §a7). */
  readonly terminationGracePeriodSeconds: number | undefined;
  /** A `corev1.Probe` object given to the queue-proxy as SERVING_READINESS_PROBE; undefined = TCP on the app's port. */
  readonly readinessProbe: Readonly<Record<string, unknown>> | undefined;
  /**
   * `autoscaling.knative.dev/*` (and any other) annotations, values as strings, plus the service's
   * `containerConcurrency` and timeouts under Tide's `tide.dev/*` keys (as `tide validate` reads Knative spec fields).
   */
  readonly annotations: Readonly<Record<string, string>>;
}

export interface TideFile {
  /** Namespace every service lives in (default `default`). */
  readonly namespace: string;
  readonly services: readonly ServiceDecl[];
  /** The `config-autoscaler` map (Knative's ConfigMap keys), values as strings. */
  readonly configAutoscaler: Readonly<Record<string, string>>;
}

export interface ParseResult {
  /** Undefined only when the file could not be read as a document at all. */
  readonly file: TideFile | undefined;
  readonly problems: readonly ConfigProblem[];
}

export const SERVICE_DEFAULTS = {
  portEnv: 'PORT',
  namespace: 'default',
} as const;

/**
 * Service fields that are Knative spec fields, and the Tide annotation each is checked as (the same keys
 * `tide validate` uses for a Knative Service's spec), so ranges and messages are exactly the validator's.
 */
export const SPEC_FIELD_ANNOTATIONS: Readonly<Record<string, string>> = {
  containerConcurrency: 'tide.dev/container-concurrency',
  timeoutSeconds: 'tide.dev/timeout-seconds',
  responseStartTimeoutSeconds: 'tide.dev/response-start-timeout-seconds',
  idleTimeoutSeconds: 'tide.dev/idle-timeout-seconds',
};

const TOP_KEYS = new Set(['namespace', 'services', 'config-autoscaler']);
const SERVICE_KEYS = new Set([
  'name',
  'command',
  'args',
  'cwd',
  'env',
  'portEnv',
  'containerConcurrency',
  'timeoutSeconds',
  'responseStartTimeoutSeconds',
  'idleTimeoutSeconds',
  'terminationGracePeriodSeconds',
  'readinessProbe',
  'annotations',
]);
/** Kubernetes DNS-1035 label: what a Service name may be, so `<name>.localhost` is a valid host. */
const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Variables tide up sets for the app itself; a user value would be overwritten, so it is refused. */
const RESERVED_APP_ENV = new Set(['K_SERVICE', 'K_REVISION', 'K_CONFIGURATION']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * True when YAML text reads as a tide.yaml rather than Kubernetes objects: one document whose root mapping has a
 * `services` list and no `kind`/`apiVersion` (every Kubernetes object has both). Syntax errors give false.
 */
export function looksLikeTideFile(text: string): boolean {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) return false;
  const root: unknown = doc.toJS();
  return isObj(root) && 'services' in root && !('kind' in root) && !('apiVersion' in root);
}

/**
 * Parses tide.yaml text. `baseDir` resolves relative `cwd` values (and is the default cwd).
 * @example parseTideFile('services:\n  - name: hello\n    command: node\n    args: [server.mjs]\n', '/app')
 */
export function parseTideFile(text: string, baseDir: string): ParseResult {
  const problems: ConfigProblem[] = [];
  const problem = (key: string, message: string): void => void problems.push({ key, message });

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const { line, col } = lineCounter.linePos(e.pos[0]);
      problem(`line ${line}, column ${col}`, e.message.split('\n')[0] ?? e.message);
    }
    return { file: undefined, problems };
  }
  const root: unknown = doc.toJS();
  if (!isObj(root)) {
    problem('tide.yaml', 'expected a mapping with a `services:` list');
    return { file: undefined, problems };
  }
  for (const k of Object.keys(root)) if (!TOP_KEYS.has(k)) problem(k, `unknown key (expected one of ${[...TOP_KEYS].join(', ')})`);

  let namespace: string = SERVICE_DEFAULTS.namespace;
  if (root['namespace'] !== undefined) {
    if (typeof root['namespace'] === 'string' && DNS_LABEL.test(root['namespace'])) namespace = root['namespace'];
    else problem('namespace', `expected a DNS label (lower-case letters, digits, '-'), got ${JSON.stringify(root['namespace'])}`);
  }

  const configAutoscaler = stringMap(root['config-autoscaler'], 'config-autoscaler', problem);

  const services: ServiceDecl[] = [];
  const rawServices = root['services'];
  if (!Array.isArray(rawServices) || rawServices.length === 0) {
    problem('services', 'expected a non-empty list of services (each with at least `name` and `command`)');
  } else {
    const seen = new Set<string>();
    rawServices.forEach((raw: unknown, i) => {
      const s = parseService(raw, i, baseDir, problem);
      if (s === undefined) return;
      if (seen.has(s.name)) problem(`services.${s.name}.name`, 'duplicate service name');
      seen.add(s.name);
      services.push(s);
    });
  }
  return { file: { namespace, services, configAutoscaler }, problems };
}

function parseService(raw: unknown, index: number, baseDir: string, problem: (key: string, message: string) => void): ServiceDecl | undefined {
  if (!isObj(raw)) {
    problem(`services[${index}]`, 'expected a mapping with `name` and `command`');
    return undefined;
  }
  const rawName = raw['name'];
  const nameOk = typeof rawName === 'string' && DNS_LABEL.test(rawName);
  // Keys name the service when it has a usable name, else its position.
  const at = nameOk ? `services.${rawName}` : `services[${index}]`;
  if (!nameOk) {
    problem(`${at}.name`, rawName === undefined
      ? 'is required'
      : `expected a DNS label (lower-case letters, digits and '-', starting with a letter, at most 63), got ${JSON.stringify(rawName)}`);
  }
  for (const k of Object.keys(raw)) if (!SERVICE_KEYS.has(k)) problem(`${at}.${k}`, `unknown key (expected one of ${[...SERVICE_KEYS].join(', ')})`);

  // command: a string, or a list whose first element is the executable (the rest go before args).
  let command = '';
  let args: string[] = [];
  const rawCommand = raw['command'];
  if (typeof rawCommand === 'string' && rawCommand.trim() !== '') command = rawCommand.trim();
  else if (Array.isArray(rawCommand) && rawCommand.length > 0 && rawCommand.every((c) => typeof c === 'string' && c !== '')) {
    [command = '', ...args] = rawCommand as string[];
  } else {
    problem(`${at}.command`, rawCommand === undefined ? 'is required (the program to run, e.g. node)' : 'expected a non-empty string or a list of strings');
  }
  const rawArgs = raw['args'];
  if (rawArgs !== undefined) {
    if (Array.isArray(rawArgs) && rawArgs.every((a) => ['string', 'number', 'boolean'].includes(typeof a))) args = [...args, ...rawArgs.map(String)];
    else problem(`${at}.args`, 'expected a list of strings');
  }

  let cwd = baseDir;
  if (raw['cwd'] !== undefined) {
    if (typeof raw['cwd'] === 'string' && raw['cwd'] !== '') cwd = isAbsolute(raw['cwd']) ? raw['cwd'] : resolvePath(baseDir, raw['cwd']);
    else problem(`${at}.cwd`, 'expected a folder path');
  }

  const env = stringMap(raw['env'], `${at}.env`, problem);
  for (const k of Object.keys(env)) {
    if (!ENV_NAME.test(k)) problem(`${at}.env.${k}`, 'not a valid environment variable name');
    if (RESERVED_APP_ENV.has(k)) problem(`${at}.env.${k}`, 'is set by tide up');
  }

  let portEnv: string = SERVICE_DEFAULTS.portEnv;
  if (raw['portEnv'] !== undefined) {
    if (typeof raw['portEnv'] === 'string' && ENV_NAME.test(raw['portEnv'])) portEnv = raw['portEnv'];
    else problem(`${at}.portEnv`, `expected an environment variable name such as PORT, got ${JSON.stringify(raw['portEnv'])}`);
  }
  if (portEnv in env) problem(`${at}.env.${portEnv}`, `is the port variable (portEnv); tide up sets it to a free port for each replica`);

  let terminationGracePeriodSeconds: number | undefined;
  const grace = raw['terminationGracePeriodSeconds'];
  if (grace !== undefined && grace !== null) {
    if (typeof grace === 'number' && Number.isInteger(grace) && grace >= 1 && grace <= 3600) terminationGracePeriodSeconds = grace;
    else problem(`${at}.terminationGracePeriodSeconds`, `expected a whole number of seconds in [1, 3600], got ${JSON.stringify(grace)}`);
  }

  let readinessProbe: Obj | undefined;
  if (raw['readinessProbe'] !== undefined) {
    if (isObj(raw['readinessProbe'])) readinessProbe = raw['readinessProbe'];
    else problem(`${at}.readinessProbe`, 'expected a Kubernetes probe mapping (httpGet, tcpSocket, grpc or exec)');
  }

  const annotations = stringMap(raw['annotations'], `${at}.annotations`, problem);
  for (const [field, key] of Object.entries(SPEC_FIELD_ANNOTATIONS)) {
    if (key in annotations) problem(`${at}.annotations.${key}`, `set ${field} on the service instead`);
    const v = raw[field];
    if (v === undefined || v === null) continue;
    if (typeof v === 'number' || typeof v === 'string') annotations[key] = String(v);
    else problem(`${at}.${field}`, `expected a number, got ${Array.isArray(v) ? 'a list' : typeof v}`);
  }

  if (!nameOk || command === '') return undefined;
  return {
    name: rawName,
    command,
    args,
    cwd,
    env,
    portEnv,
    terminationGracePeriodSeconds,
    readinessProbe,
    annotations,
  };
}

/** A mapping of scalars, values turned into strings (YAML users write `target: 10`); anything else is a problem. */
function stringMap(v: unknown, key: string, problem: (key: string, message: string) => void): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) {
    problem(key, 'expected a mapping of names to values');
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val === 'string') out[k] = val;
    else if (typeof val === 'number' || typeof val === 'boolean') out[k] = String(val);
    else problem(`${key}.${k}`, `expected a string, got ${val === null ? 'null' : Array.isArray(val) ? 'a list' : typeof val}`);
  }
  return out;
}
