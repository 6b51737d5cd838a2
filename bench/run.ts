/**
 * `npm run bench [name...]`: runs every `bench/*.bench.ts` (compiled into dist/bench) in turn, or only the named ones.
 * Each bench module default-exports `(log: (line: string) => void) => Promise<void>` and prints ratios measured side
 * by side in one run, never a lone absolute time as a goal.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Bench = (log: (line: string) => void) => Promise<void>;

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
for (const f of files) {
  const name = f.replace(/\.bench\.js$/, '');
  process.stdout.write(`\n== ${name}\n`);
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { default: Bench };
  await mod.default((line) => process.stdout.write(`${line}\n`));
}
