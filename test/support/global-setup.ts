/** Before any test: build dist/ as `npm run build` does, so CLI tests run the real `tide` executable. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  try {
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
  } catch (err) {
    // tsc still emits on type errors; those are reported by `npm run typecheck`, not here.
    const out = (err as { stdout?: Buffer }).stdout?.toString() ?? '';
    process.stderr.write(`global-setup: tsc reported errors (build still emitted):\n${out.slice(0, 2000)}\n`);
  }
  // The rest of `npm run build`: the bundled queue-proxy that bin/tide.js runs (cli/bundle.ts), so it is never stale.
  execFileSync(process.execPath, ['dist/cli/bundle.js'], { cwd: root, stdio: 'pipe' });
}
