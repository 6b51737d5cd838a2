/** `tide validate`: checks scaling annotations and `config-autoscaler` in Kubernetes YAML as Knative's admission webhooks would. */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { HPA_CLASS, KPA_CLASS } from '../autoscaler/config/autoscaler-config.js';
import type { RevisionScalingSpec } from '../autoscaler/config/revision-spec.js';
import { readWorkloads, type LocatedProblem, type Workload } from '../autoscaler/config/workloads.js';
import type { ConfigProblem } from '../common/errors.js';
import { resolveTideFile } from '../local/resolve.js';
import { looksLikeTideFile, parseTideFile } from '../local/tide-file.js';
import { UsageError, readAll, type CliIo } from './io.js';

const HELP = `usage: tide validate -f FILE|- [-f FILE ...] [-o text|json]

Checks the autoscaling.knative.dev/* annotations (and Tide's tide.dev/* ones) of every Deployment and Knative
Service, Configuration or Revision in Kubernetes YAML, with Knative's ranges and messages. A ConfigMap named
config-autoscaler in the same input configures the checks (defaults, max-scale-limit, ...) and is checked too,
as are Knative's config-defaults (containerConcurrency and timeout limits) and config-deployment (progress-deadline).
A tide.yaml (a mapping with a \`services:\` list, docs/tide-up.md) is checked as \`tide up\` would: its
config-autoscaler, and each service's annotations, containerConcurrency, timeouts and readinessProbe.

flags:
  -f, --file FILE    YAML file to check, one or many documents; '-' reads stdin. May be repeated.
  -o, --output FMT   'text' (default) or 'json'
  -h, --help         show this help

text output, one line per problem:
  FILE:LINE:COLUMN: document N, KIND NAMESPACE/NAME: KEY: MESSAGE
  FILE: KEY: MESSAGE                      (a tide.yaml; KEY as written there, e.g. services.hello.annotations.X)
and one line per valid object:
  ok  KIND NAMESPACE/NAME (CLASS, METRIC target T, min A, max B)

exit status: 0 all valid, 1 problems found, 2 usage error (bad flags, unreadable file).
`;

interface Checked {
  file: string;
  workloads: Workload[];
  problems: LocatedProblem[];
  configMaps: string[];
  /** Set when the file was read as a tide.yaml instead of Kubernetes objects. */
  tideFile?: CheckedTideFile;
}

interface CheckedTideFile {
  namespace: string;
  services: { name: string; annotations: Readonly<Record<string, string>>; spec: RevisionScalingSpec }[];
  problems: ConfigProblem[];
}

/** `tide up`'s own checks (parse, then resolve), so what passes here starts there. */
function checkTideFile(text: string, baseDir: string): CheckedTideFile {
  const parsed = parseTideFile(text, baseDir);
  if (parsed.file === undefined) return { namespace: '', services: [], problems: [...parsed.problems] };
  const resolved = resolveTideFile(parsed.file);
  return {
    namespace: resolved.namespace,
    services: resolved.services.map((s) => ({ name: s.decl.name, annotations: s.decl.annotations, spec: s.spec })),
    problems: [...parsed.problems, ...resolved.problems],
  };
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  let values: { file?: string[]; output?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        file: { type: 'string', short: 'f', multiple: true },
        output: { type: 'string', short: 'o', default: 'text' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see tide validate --help)`);
  }
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const files = values.file ?? [];
  if (files.length === 0) throw new UsageError('missing -f FILE (use -f - for stdin; see tide validate --help)');
  if (values.output !== 'text' && values.output !== 'json') throw new UsageError(`-o must be text or json, not ${JSON.stringify(values.output)}`);
  if (files.filter((f) => f === '-').length > 1) throw new UsageError('-f - (stdin) may be given only once');

  const checked: Checked[] = [];
  for (const file of files) {
    const text = await readInput(file, io);
    const name = file === '-' ? '<stdin>' : file;
    if (looksLikeTideFile(text)) {
      const baseDir = file === '-' ? io.cwd : dirname(resolve(io.cwd, file));
      checked.push({ file: name, workloads: [], problems: [], configMaps: [], tideFile: checkTideFile(text, baseDir) });
      continue;
    }
    const { workloads, problems, configMaps } = readWorkloads(text);
    checked.push({ file: name, workloads, problems, configMaps: configMaps.map((c) => c.object) });
  }
  const problemCount = checked.reduce((n, c) => n + c.problems.length + (c.tideFile?.problems.length ?? 0), 0);

  if (values.output === 'json') {
    io.stdout.write(JSON.stringify(toJson(checked, problemCount === 0), null, 2) + '\n');
  } else {
    for (const c of checked) writeText(c, io);
    if (problemCount > 0) io.stdout.write(`${problemCount} problem${problemCount === 1 ? '' : 's'} found\n`);
  }
  return problemCount === 0 ? 0 : 1;
}

async function readInput(file: string, io: CliIo): Promise<string> {
  if (file === '-') return readAll(io.stdin);
  try {
    return await readFile(resolve(io.cwd, file), 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

function objectName(w: Workload): string {
  return `${w.kind} ${w.namespace}/${w.name}`;
}

function formatProblem(file: string, p: LocatedProblem): string {
  return `${file}:${p.line}:${p.column}: document ${p.document}${p.object === undefined ? '' : `, ${p.object}`}: ${p.key}: ${p.message}`;
}

function number(x: number): string {
  return String(Number(x.toFixed(6)));
}

/** One-line summary of a valid workload's effective knobs. */
export function summary(w: Workload): string {
  return specSummary(w.spec);
}

function specSummary(s: RevisionScalingSpec): string {
  if (s.autoscalerClass === HPA_CLASS) return 'hpa: scaled by the Kubernetes HPA, not by Tide';
  if (s.autoscalerClass !== KPA_CLASS) return `class ${s.autoscalerClass || '""'}: not scaled by Tide`;
  const max = s.scaler.maxScale === 0 ? 'unlimited' : String(s.scaler.maxScale);
  return `kpa, ${s.decider.metric} target ${number(s.decider.targetValue)}, min ${s.scaler.minScale}, max ${max}`;
}

function writeText(c: Checked, io: CliIo): void {
  if (c.tideFile) {
    const t = c.tideFile;
    io.stdout.write(`${c.file}: read as a tide.yaml (the services file of tide up)\n`);
    for (const p of t.problems) io.stdout.write(`${c.file}: ${p.key}: ${p.message}\n`);
    for (const s of t.services) {
      const at = `services.${s.name}`;
      if (!t.problems.some((p) => p.key === at || p.key.startsWith(`${at}.`))) io.stdout.write(`ok  service ${t.namespace}/${s.name} (${specSummary(s.spec)})\n`);
    }
    return;
  }
  for (const p of c.problems) io.stdout.write(formatProblem(c.file, p) + '\n');
  const bad = new Set(c.problems.map((p) => p.object));
  for (const cm of c.configMaps) if (!bad.has(cm)) io.stdout.write(`ok  ${cm}\n`);
  for (const w of c.workloads) {
    if (!bad.has(objectName(w))) io.stdout.write(`ok  ${objectName(w)} (${summary(w)})\n`);
  }
  if (c.workloads.length === 0 && c.problems.length === 0 && c.configMaps.length === 0) {
    io.stdout.write(`${c.file}: no Deployment or Knative Service, Configuration or Revision found\n`);
  }
}

function toJson(checked: Checked[], valid: boolean): unknown {
  return {
    valid,
    objects: checked.flatMap((c) => [
      ...(c.tideFile?.services.map((s) => ({
        file: c.file,
        kind: 'tide.yaml service',
        namespace: c.tideFile!.namespace,
        name: s.name,
        valid: !c.tideFile!.problems.some((p) => p.key === `services.${s.name}` || p.key.startsWith(`services.${s.name}.`)),
        annotations: s.annotations,
        spec: s.spec,
      })) ?? []),
      ...c.workloads.map((w) => ({
        file: c.file,
        document: w.document,
        line: w.position.line,
        apiVersion: w.apiVersion,
        kind: w.kind,
        namespace: w.namespace,
        name: w.name,
        valid: w.problems.length === 0,
        annotations: w.annotations,
        spec: w.spec,
      })),
    ]),
    problems: checked.flatMap((c) => [...(c.tideFile?.problems ?? []), ...c.problems].map((p) => ({ file: c.file, ...p }))),
  };
}
