#!/usr/bin/env node
// The tide executable. Sources are TypeScript; `npm ci` (prepare) or `npm run build` compiles them into dist/.
// Node older than the `engines` floor (22.19) gets a message, not a TypeError from the line below.
if (typeof process.getBuiltinModule !== 'function') {
  process.stderr.write(`tide: Node.js >= 22.19 is required (this is ${process.version}); Tide is developed on Node 24 LTS\n`);
  process.exit(2);
}
// Built-ins through process.getBuiltinModule, not ES imports: an ES import of node:fs builds its ES facade, which reads
// every export once (fs.promises among them); ~6 ms of each start (proxy/README.md, "Start-up").
const { existsSync, statSync } = process.getBuiltinModule('node:fs');
const module = process.getBuiltinModule('node:module');
// TIDE_START_TRACE=1: start-up marks (common/start-trace.ts); this one is when the executable began to run.
if (process.env.TIDE_START_TRACE === '1') performance.mark('tide:bin');
// V8's compiled code for every module loaded from here on is kept on disk and reused by the next start (Node ≥ 22.1):
// most of the queue-proxy's start-up is compiling its dependencies (proxy/README.md, "Start-up"). The folder is
// NODE_COMPILE_CACHE when set, else Node's default under the OS temp folder; one that cannot be written turns it off.
module.enableCompileCache?.();
const entry = new URL('../dist/cli/entry.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('tide: dist/ is missing; run `npm run build` (npm ci runs it for you)\n');
  process.exit(2);
}
// `tide queue-proxy` runs from its bundle (cli/bundle.ts) when the build made one after the last compile; otherwise
// (a tsc-only rebuild) from the compiled modules, which run the same code.
const bundle = new URL('../dist/queue-proxy/tide-queue-proxy.js', import.meta.url);
const mtime = (url) => statSync(url, { throwIfNoEntry: false })?.mtimeMs ?? 0;
const useBundle = process.argv[2] === 'queue-proxy' && mtime(bundle) >= mtime(new URL('../dist/.tsbuildinfo', import.meta.url)) && mtime(bundle) > 0;
await import(useBundle ? bundle.href : entry.href);
