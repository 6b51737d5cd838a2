/** Where the package's own files are (proto, examples, assets), whether running from sources or from dist/. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The folder holding Tide's package.json. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      const name = (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name;
      if (name === 'tide') return (root = dir);
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the tide package root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** A path inside the package, e.g. `fromRoot('common', 'proto', 'stats.proto')`. */
export function fromRoot(...parts: string[]): string {
  return join(packageRoot(), ...parts);
}
