/** `tide validate`: checks scaling annotations and `config-autoscaler` in Kubernetes YAML as Knative's admission webhooks would. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { HPA_CLASS, KPA_CLASS } from '../autoscaler/config/autoscaler-config.js';
import { readWorkloads, type LocatedProblem, type Workload } from '../autoscaler/config/workloads.js';
import { UsageError, readAll, type CliIo } from './io.js';

const HELP = `usage: tide validate -f FILE|- [-f FILE ...] [-o text|json]

Checks the autoscaling.knative.dev/* annotations (and Tide's tide.dev/* ones) of every Deployment and Knative
Service, Configuration or Revision in Kubernetes YAML, with Knative's ranges and messages. A ConfigMap named
config-autoscaler in the same input configures the checks (defaults, max-scale-limit, ...) and is checked too,
as are Knative's config-defaults (containerConcurrency and timeout limits) and config-deployment (progress-deadline).

flags:
  -f, --file FILE    YAML file to check, one or many documents; '-' reads stdin. May be repeated.
  -o, --output FMT   'text' (default) or 'json'
  -h, --help         show this help

text output, one line per problem:
  FILE:LINE:COLUMN: document N, KIND NAMESPACE/NAME: KEY: MESSAGE
and one line per valid object:
  ok  KIND NAMESPACE/NAME (CLASS, METRIC target T, min A, max B)

exit status: 0 all valid, 1 problems found, 2 usage error (bad flags, unreadable file).
`;

interface Checked {
  file: string;
  workloads: Workload[];
  problems: LocatedProblem[];
  configMaps: string[];
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
    const { workloads, problems, configMaps } = readWorkloads(text);
    checked.push({ file: file === '-' ? '<stdin>' : file, workloads, problems, configMaps: configMaps.map((c) => c.object) });
  }
  const problemCount = checked.reduce((n, c) => n + c.problems.length, 0);

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
  const s = w.spec;
  if (s.autoscalerClass === HPA_CLASS) return 'hpa: scaled by the Kubernetes HPA, not by Tide';
  if (s.autoscalerClass !== KPA_CLASS) return `class ${s.autoscalerClass || '""'}: not scaled by Tide`;
  const max = s.scaler.maxScale === 0 ? 'unlimited' : String(s.scaler.maxScale);
  return `kpa, ${s.decider.metric} target ${number(s.decider.targetValue)}, min ${s.scaler.minScale}, max ${max}`;
}

function writeText(c: Checked, io: CliIo): void {
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
    objects: checked.flatMap((c) =>
      c.workloads.map((w) => ({
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
    ),
    problems: checked.flatMap((c) => c.problems.map((p) => ({ file: c.file, ...p }))),
  };
}
