/** `tide inject` and `tide uninject`: Kubernetes YAML in, the same YAML with (or without) the queue-proxy out. */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEFAULT_IMAGE } from '../kubernetes/inject/constants.js';
import { transformYaml, type Mode } from '../kubernetes/inject/yaml-stream.js';
import { parseFlags } from './flags.js';
import { UsageError, readAll, type CliIo } from './io.js';

const help = (mode: Mode): string => `usage: tide ${mode} -f FILE|DIR|- [-f ...]${mode === 'inject' ? ' [--image IMAGE] [--native-sidecar] [--uninject]' : ''}

${
  mode === 'inject'
    ? `Adds Tide's queue-proxy to every apps/v1 Deployment in Kubernetes YAML and prepares the Service in front of it
for Tide's traffic switch, then writes the YAML to stdout (pipe it to kubectl apply -f -). Lists, multi-document
streams and every other kind pass through; comments, key order and other fields are kept. Injecting twice changes
nothing. A note per object on stderr says what was injected or skipped, and why.`
    : `Removes what tide inject added: the queue-proxy, the moved readiness probe, the preStop hook and grace period,
Tide's labels and annotations; the Services get their selector and target ports back. Writes the YAML to stdout.`
}

flags:
  -f, --file FILE|DIR|-   YAML or JSON to read: a file, a folder (its .yaml, .yml and .json files, in name order)
                          or '-' for stdin. May be repeated.
${
  mode === 'inject'
    ? `  --image IMAGE           the queue-proxy image (default ${DEFAULT_IMAGE})
  --native-sidecar        put the queue-proxy in initContainers with restartPolicy Always (Kubernetes >= 1.29);
                          the default for workloads annotated tide.dev/native-sidecar: "true"
  --uninject              same as tide uninject
`
    : ''
}  -h, --help              show this help

The app container is the pod's only container, or the one with a port named http, http1 or h2c; its port is that
port (or its only one). Knobs: tide.dev/container-concurrency, tide.dev/timeout-seconds,
tide.dev/response-start-timeout-seconds and tide.dev/idle-timeout-seconds on the Deployment or its pod template.

exit status: 0 done, 1 an object cannot be ${mode}ed (nothing is written to stdout), 2 usage error.
`;

/** `tide inject`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  return runMode('inject', argv, io);
}

/** `tide uninject`. */
export async function runUninject(argv: string[], io: CliIo): Promise<number> {
  return runMode('uninject', argv, io);
}

async function runMode(mode: Mode, argv: string[], io: CliIo): Promise<number> {
  const options = {
    file: { type: 'string', short: 'f', multiple: true },
    help: { type: 'boolean', short: 'h' },
    image: { type: 'string' },
    'native-sidecar': { type: 'boolean' },
    uninject: { type: 'boolean' },
  } as const;
  const { values } = parseFlags(argv, options, help(mode));
  if (mode === 'uninject') {
    const extra = (['image', 'native-sidecar', 'uninject'] as const).find((k) => values[k] !== undefined);
    if (extra !== undefined) throw new UsageError(`tide uninject takes no --${extra}\n\n${help(mode)}`);
  }
  if (values.help) {
    io.stdout.write(help(mode));
    return 0;
  }
  if (values.uninject) {
    if (values.image !== undefined || values['native-sidecar']) throw new UsageError('--uninject takes no --image or --native-sidecar');
    mode = 'uninject';
  }
  const files = values.file ?? [];
  if (files.length === 0) throw new UsageError(`missing -f FILE|DIR|- (see tide ${mode} --help)`);
  if (files.filter((f) => f === '-').length > 1) throw new UsageError('-f - (stdin) may be given only once');
  const image = values.image ?? DEFAULT_IMAGE;
  if (image.trim() === '' || /\s/.test(image)) throw new UsageError(`--image: expected an image reference, got ${JSON.stringify(image)}`);

  const inputs: { name: string; text: string }[] = [];
  for (const f of files) inputs.push(...(await readInputs(f, io)));
  const { version } = await readPackage();

  const outputs: string[] = [];
  let failed = false;
  for (const input of inputs) {
    const r = transformYaml(input.text, mode, { image, version, nativeSidecar: values['native-sidecar'] === true }, input.name);
    for (const n of r.notes) io.stderr.write(`tide ${mode}: ${input.name}: ${n}\n`);
    for (const e of r.errors) io.stderr.write(`tide ${mode}: error: ${e}\n`);
    if (r.errors.length > 0) failed = true;
    outputs.push(r.output);
  }
  if (failed) return 1;
  io.stdout.write(joinStreams(outputs));
  return 0;
}

/** Several files' YAML as one stream: each ends with a newline and the next starts a new document. */
function joinStreams(texts: string[]): string {
  return texts
    .filter((t) => t.trim() !== '')
    .map((t, i) => {
      const body = t.endsWith('\n') ? t : `${t}\n`;
      return i === 0 || /^---/.test(body) ? body : `---\n${body}`;
    })
    .join('');
}

async function readInputs(file: string, io: CliIo): Promise<{ name: string; text: string }[]> {
  if (file === '-') return [{ name: '<stdin>', text: await readAll(io.stdin) }];
  const path = resolve(io.cwd, file);
  try {
    if ((await stat(path)).isDirectory()) {
      const names = (await readdir(path)).filter((n) => /\.(ya?ml|json)$/.test(n)).sort();
      return Promise.all(names.map(async (n) => ({ name: join(file, n), text: await readFile(join(path, n), 'utf8') })));
    }
    return [{ name: file, text: await readFile(path, 'utf8') }];
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

async function readPackage(): Promise<{ version: string }> {
  const { fromRoot } = await import('../common/paths.js');
  return JSON.parse(await readFile(fromRoot('package.json'), 'utf8')) as { version: string };
}
