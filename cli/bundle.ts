/**
 * Build step (`npm run build`, and the test suite's global setup): bundles `tide queue-proxy` with esbuild into
 * dist/queue-proxy/ — one entry file, plus chunks for what it imports lazily (the stats gRPC server, prom-client, the
 * gRPC probe). One file instead of ~400 modules takes module resolution and most file reads out of the sidecar's
 * start-up (proxy/README.md, "Start-up"). Run as `node dist/cli/bundle.js` after tsc.
 */
import { build, type Plugin } from 'esbuild';
import { rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { pathToFileURL } from 'node:url';
import { fromRoot } from '../common/paths.js';

/** Where bin/tide.js looks for the bundled queue-proxy. */
export const QUEUE_PROXY_BUNDLE_DIR = ['dist', 'queue-proxy'] as const;

/** Node's built-in modules, each under its `node:` name. */
const BUILTINS = new Set(builtinModules.map((m) => (m.startsWith('node:') ? m : `node:${m}`)));

/**
 * The `node:` name of a built-in module that an ES `import` (static or dynamic) asks for, else undefined (a file, a
 * package, or a CommonJS require(), which esbuild leaves to the banner's require).
 */
export function builtinImported(path: string, kind: string): string | undefined {
  if (kind !== 'import-statement' && kind !== 'dynamic-import') return undefined;
  const name = path.startsWith('node:') ? path : `node:${path}`;
  return BUILTINS.has(name) ? name : undefined;
}

/**
 * Turns every ES import of a built-in into `process.getBuiltinModule()` (issue 15 item 1). Importing a built-in as an
 * ES module makes Node build its ES facade, which reads every export once; for node:http that runs the lazy getters of
 * its WebSocket, CloseEvent and MessageEvent exports, which load Node's internal copy of undici: ~90 ms of the
 * queue-proxy's start for three exports it never uses. getBuiltinModule hands back the same exports object without a
 * facade, and esbuild's interop reads a property only when the code uses it.
 */
export const builtinsWithoutFacade: Plugin = {
  name: 'tide-builtins-without-facade',
  setup(b) {
    b.onResolve({ filter: /^[a-z_:/]+$/ }, (args) => {
      const name = builtinImported(args.path, args.kind);
      return name === undefined ? undefined : { path: name, namespace: 'tide-builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'tide-builtin' }, (args) => ({
      contents: `module.exports = process.getBuiltinModule(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

export async function bundleQueueProxy(): Promise<void> {
  const outdir = fromRoot(...QUEUE_PROXY_BUNDLE_DIR);
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: { 'tide-queue-proxy': fromRoot('cli', 'queue-proxy-entry.ts') },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    sourcemap: true,
    logLevel: 'warning',
    plugins: [builtinsWithoutFacade],
    // The CommonJS dependencies (undici, grpc-js, pino, …) call require() for Node's built-ins.
    banner: { js: "import { createRequire as __tideCreateRequire } from 'node:module'; const require = __tideCreateRequire(import.meta.url);" },
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await bundleQueueProxy();
