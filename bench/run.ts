/**
 * `npm run bench [name...]`: runs every `bench/*.bench.ts` (compiled into dist/bench) in turn, or only the named ones,
 * and gathers what they print, and the figures they return, into one report: `bench/report.md` and
 * `bench/report.json` (BENCH_REPORT=path/stem writes elsewhere; `BENCH_REPORT=` writes none). Each bench module
 * default-exports `(log: (line: string) => void) => Promise<void | figures>` and prints ratios measured side by side
 * in one run, never a lone absolute time as a goal.
 */
import { cpus } from 'node:os';
import { readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fromRoot } from '../common/paths.js';

type Bench = (log: (line: string) => void) => Promise<void | Record<string, unknown>>;

interface Section {
  name: string;
  seconds: number;
  lines: string[];
  figures?: Record<string, unknown>;
  error?: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.bench\.js$/, '')))
  .sort();
if (files.length === 0) {
  process.stderr.write(`bench: nothing matches ${wanted.join(', ') || '(all)'}\n`);
  process.exitCode = 2;
}
const sections: Section[] = [];
for (const f of files) {
  const name = f.replace(/\.bench\.js$/, '');
  process.stdout.write(`\n== ${name}\n`);
  const section: Section = { name, seconds: 0, lines: [] };
  sections.push(section);
  const t0 = performance.now();
  try {
    const mod = (await import(pathToFileURL(join(here, f)).href)) as { default: Bench };
    const figures = await mod.default((line) => {
      section.lines.push(line);
      process.stdout.write(`${line}\n`);
    });
    if (figures) section.figures = figures;
  } catch (err) {
    section.error = err instanceof Error ? err.message : String(err);
    process.stderr.write(`bench ${name} failed: ${section.error}\n`);
    process.exitCode = 1;
  }
  section.seconds = Math.round((performance.now() - t0) / 100) / 10;
}

const stem = process.env['BENCH_REPORT'] ?? fromRoot('bench', 'report');
if (stem !== '' && sections.length > 0) {
  const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', platform: `${process.platform}-${process.arch}` };
  const when = new Date().toISOString();
  writeFileSync(`${stem}.json`, JSON.stringify({ when, machine, benches: sections }, null, 2) + '\n');
  const md = [
    '# Tide benchmark report',
    '',
    `Written by \`npm run bench${wanted.length ? ` ${wanted.join(' ')}` : ''}\` on ${when.slice(0, 10)}: Node ${machine.node}, ${machine.cpus} × ${machine.cpu}.`,
    'Every ratio is measured side by side in this one run; absolute times depend on the machine (and its neighbours).',
    'Figures as JSON: [report.json](report.json).',
    '',
    ...sections.flatMap((s) => [`## ${s.name} (${s.seconds} s)`, '', ...(s.error ? [`**failed:** ${s.error}`, ''] : []), '```', ...s.lines, '```', '']),
  ].join('\n');
  writeFileSync(`${stem}.md`, md);
  process.stdout.write(`\nreport: ${stem}.md, ${stem}.json\n`);
}
