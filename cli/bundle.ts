/**
 * Build step (`npm run build`, and the test suite's global setup): bundles `tide queue-proxy` with esbuild into
 * dist/queue-proxy/ — one entry file, plus chunks for what it imports lazily (the stats gRPC server, prom-client, the
 * gRPC probe). One file instead of ~400 modules takes module resolution and most file reads out of the sidecar's
 * start-up (proxy/README.md, "Start-up"). Run as `node dist/cli/bundle.js` after tsc.
 */
import { build, type Plugin } from 'esbuild';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
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
    b.onResolve({ filter: /^[a-z0-9_:/]+$/ }, (args) => {
      const name = builtinImported(args.path, args.kind);
      return name === undefined ? undefined : { path: name, namespace: 'tide-builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'tide-builtin' }, (args) => ({
      contents: `module.exports = process.getBuiltinModule(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

/**
 * What the queue-proxy takes from undici, and the file of undici's package each comes from. undici's index loads all of
 * undici (fetch, WebSocket, EventSource, the mock and cache layers: ~1.4 MB of the bundle, about half of the import
 * cost); the sidecar only dispatches through a Pool, builds its connector and reads one header helper. The bundle
 * resolves `undici` to these files only (the unbundled build still imports the whole package); test/cli/bundle.test.ts
 * checks that every name the sources import from undici is listed here, and that each file exports what undici does.
 */
export const UNDICI_PARTS: Readonly<Record<string, string>> = {
  Pool: 'undici/lib/dispatcher/pool.js',
  buildConnector: 'undici/lib/core/connect.js',
  util: 'undici/lib/core/util.js',
};

/** Resolves `undici` in the bundle to a module of UNDICI_PARTS alone. */
export const undiciParts: Plugin = {
  name: 'tide-undici-parts',
  setup(b) {
    b.onResolve({ filter: /^undici$/ }, () => ({ path: 'undici', namespace: 'tide-undici' }));
    b.onLoad({ filter: /.*/, namespace: 'tide-undici' }, () => ({
      contents: Object.entries(UNDICI_PARTS)
        .map(([name, file]) => `exports.${name} = require(${JSON.stringify(file)});`)
        .join('\n'),
      loader: 'js',
      resolveDir: fromRoot(),
    }));
  },
};

/**
 * The text with every non-ASCII UTF-16 unit written as a `\uXXXX` escape. esbuild escapes strings and templates
 * (`charset: 'ascii'`) but keeps comments inside object literals, legal comments and regular-expression literals as
 * written; one `≥` in a comment makes the whole chunk non-ASCII, and Node's module loader then decodes the ~0.9 MB main
 * chunk as UTF-8 into a two-byte string (~10 ms of each start, against ~1 ms for ASCII). An escape means the same
 * character in a comment, a regular expression, a string or an identifier; source-map columns after one shift on that
 * line only.
 */
export function asciiOnly(text: string): string {
  return text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * undici's HTTP/2 client (lib/dispatcher/client-h2.js) loads node:http2 when it is loaded, which every Pool does, and
 * node:http2 brings node:tls and most of node:crypto with it: ~25 ms of the queue-proxy's start for a protocol its
 * Pool never speaks (h2c goes through node:http2 sessions of Tide's own, loaded at the first h2c request). In the
 * bundle that one require gets the constants client-h2.js reads when loaded, copied at build time from this Node, and
 * a `connect` that loads node:http2 when called. test/cli/bundle.test.ts checks that this is all client-h2.js takes.
 */
export const undiciLazyHttp2: Plugin = {
  name: 'tide-undici-lazy-http2',
  setup(b) {
    b.onResolve({ filter: /^node:http2$/ }, (args) =>
      /undici[\\/]lib[\\/]dispatcher[\\/]client-h2\.js$/.test(args.importer) ? { path: 'node:http2', namespace: 'tide-lazy-http2' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'tide-lazy-http2' }, () => ({ contents: lazyHttp2Module(), loader: 'js' }));
  },
};

/** What node:http2 is inside undici's client-h2.js in the bundle (see undiciLazyHttp2). */
export function lazyHttp2Module(): string {
  const constants = JSON.stringify(process.getBuiltinModule('node:http2').constants);
  return [`exports.constants = ${constants};`, "exports.connect = (...args) => process.getBuiltinModule('node:http2').connect(...args);"].join('\n');
}

export async function bundleQueueProxy(): Promise<void> {
  const outdir = fromRoot(...QUEUE_PROXY_BUNDLE_DIR);
  rmSync(outdir, { recursive: true, force: true });
  const result = await build({
    entryPoints: { 'tide-queue-proxy': fromRoot('cli', 'queue-proxy-entry.ts') },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    sourcemap: true,
    logLevel: 'warning',
    plugins: [undiciLazyHttp2, builtinsWithoutFacade, undiciParts],
    // The CommonJS dependencies (undici, grpc-js, pino, …) call require() for Node's built-ins.
    banner: { js: "import { createRequire as __tideCreateRequire } from 'node:module'; const require = __tideCreateRequire(import.meta.url);" },
    write: false,
  });
  mkdirSync(outdir, { recursive: true });
  for (const file of result.outputFiles) writeFileSync(file.path, file.path.endsWith('.js') ? asciiOnly(file.text) : file.contents);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await bundleQueueProxy();
