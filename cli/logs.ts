/** `tide logs SERVICE [-f]`: prints (and follows) the replica log files `tide up` writes, each line prefixed by its replica. */
import { open, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, type CliIo } from './io.js';

const HELP = `usage: tide logs SERVICE [-f] [--queue-proxy | --all] [--log-dir DIR]

Prints the output of every replica of SERVICE that \`tide up\` ran from this folder, one file after the other, each
line prefixed with the replica name. tide up keeps one file per process: DIR/SERVICE/<replica>.log for the app and
DIR/SERVICE/<replica>.queue-proxy.log for its queue-proxy (JSON lines). Files are cleared when tide up starts.

flags:
  -f, --follow        keep printing new lines, and new replicas' files, until Ctrl-C
      --queue-proxy   the queue-proxies' logs instead of the apps'
      --all           both
      --log-dir DIR   where tide up writes logs (default .tide/logs, as tide up)
  -h, --help          show this help
`;

const POLL_MS = 300;
const QP_SUFFIX = '.queue-proxy.log';

interface Tail {
  file: string;
  replica: string;
  offset: number;
  partial: string;
}

/** Natural order: hello-2 before hello-10. */
function byReplica(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  let values: { follow?: boolean; 'queue-proxy'?: boolean; all?: boolean; 'log-dir'?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: {
        follow: { type: 'boolean', short: 'f' },
        'queue-proxy': { type: 'boolean' },
        all: { type: 'boolean' },
        'log-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${HELP}`);
  }
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const [service, ...extra] = positionals;
  if (service === undefined) throw new UsageError(`missing SERVICE\n\n${HELP}`);
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(service)) throw new UsageError(`SERVICE must be a service name from tide.yaml, got ${JSON.stringify(service)}`);
  const dir = join(resolve(io.cwd, values['log-dir'] ?? '.tide/logs'), service);
  const wanted = (name: string): boolean => {
    if (!name.endsWith('.log')) return false;
    const isQp = name.endsWith(QP_SUFFIX);
    return values.all === true || (values['queue-proxy'] === true ? isQp : !isQp);
  };

  const tails = new Map<string, Tail>();
  const discover = async (): Promise<boolean> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return false;
    }
    for (const name of names.filter(wanted).sort(byReplica)) {
      if (tails.has(name)) continue;
      const replica = name.endsWith(QP_SUFFIX) ? `${name.slice(0, -QP_SUFFIX.length)}/qp` : name.slice(0, -'.log'.length);
      tails.set(name, { file: join(dir, name), replica, offset: 0, partial: '' });
    }
    return true;
  };
  const pump = async (t: Tail, flushPartial: boolean): Promise<void> => {
    let size: number;
    try {
      size = (await stat(t.file)).size;
    } catch {
      return;
    }
    if (size < t.offset) t.offset = 0; // truncated: tide up restarted
    if (size > t.offset) {
      const fh = await open(t.file, 'r');
      try {
        const buf = Buffer.alloc(Math.min(size - t.offset, 1 << 20));
        const { bytesRead } = await fh.read(buf, 0, buf.length, t.offset);
        t.offset += bytesRead;
        const lines = (t.partial + buf.subarray(0, bytesRead).toString('utf8')).split('\n');
        t.partial = lines.pop() ?? '';
        for (const line of lines) io.stdout.write(`${t.replica} | ${line}\n`);
      } finally {
        await fh.close();
      }
    }
    if (flushPartial && t.partial !== '') {
      io.stdout.write(`${t.replica} | ${t.partial}\n`);
      t.partial = '';
    }
  };

  if (!(await discover()) && !values.follow) {
    io.stderr.write(`tide logs: no logs for ${JSON.stringify(service)} in ${dir} (is tide up running from this folder? see --log-dir)\n`);
    return 1;
  }
  for (const t of tails.values()) {
    // Whole files, one after the other (a file may be larger than one read).
    let before = -1;
    while (t.offset !== before) {
      before = t.offset;
      await pump(t, false);
    }
    await pump(t, !values.follow);
  }
  if (!values.follow) return 0;

  let stop = false;
  const onSignal = (): void => {
    stop = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    while (!stop) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      await discover();
      for (const t of tails.values()) await pump(t, false);
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  return 0;
}
