/**
 * Build step (`npm run build`, and the test suite's global setup): bundles `tide queue-proxy` with esbuild into
 * dist/queue-proxy/ — one entry file, plus chunks for what it imports lazily (the stats gRPC server, prom-client, the
 * gRPC probe). One file instead of ~400 modules takes module resolution and most file reads out of the sidecar's
 * start-up (proxy/README.md, "Start-up"). Run as `node dist/cli/bundle.js` after tsc.
 */
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { fromRoot } from '../common/paths.js';

/** Where bin/tide.js looks for the bundled queue-proxy. */
export const QUEUE_PROXY_BUNDLE_DIR = ['dist', 'queue-proxy'] as const;

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
    // The CommonJS dependencies (undici, grpc-js, pino, …) call require() for Node's built-ins.
    banner: { js: "import { createRequire as __tideCreateRequire } from 'node:module'; const require = __tideCreateRequire(import.meta.url);" },
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await bundleQueueProxy();
