/**
 * How the queue-proxy's Node runs (Tide only; Knative's sidecar is a Go binary). The sidecar sits in every pod, so its
 * memory is paid once per replica. Two V8 defaults cost it about a fifth of its peak resident memory
 * (`npm run bench proxy`, proxy/README.md):
 * - The young generation grows to 16 MB per semi-space under load; 8 MB keeps the same requests per second and CPU per
 *   request. This can only be set when the process starts, so every launcher passes QUEUE_PROXY_NODE_FLAGS: `tide up`
 *   (cli/up.ts), the Dockerfile's ENTRYPOINT and the bench. test/proxy/node-flags.test.ts keeps them in step.
 * - undici parses HTTP/1.1 with llhttp compiled to WebAssembly; V8 first compiles it quickly (Liftoff), then recompiles
 *   the hot functions with TurboFan, which briefly needs ~30 MB. `tide queue-proxy` turns the second step off before
 *   undici loads (WASM_TIERING_FLAG, cli/queue-proxy.ts), whoever launched it.
 */
export const QUEUE_PROXY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

/** Set in-process by `tide queue-proxy` (v8.setFlagsFromString) before the first connection to the app. */
export const WASM_TIERING_FLAG = '--liftoff-only';

/** The argv that runs `tide queue-proxy` with this Node and the flags above. */
export function queueProxyCommand(tideBin: string): [string, ...string[]] {
  return [process.execPath, ...QUEUE_PROXY_NODE_FLAGS, tideBin, 'queue-proxy'];
}
