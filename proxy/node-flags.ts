/**
 * How the queue-proxy's Node runs (Tide only; Knative's sidecar is a Go binary). Every launcher starts it through
 * queueProxyCommand (`tide up` in cli/up.ts, the bench) or, for the Dockerfile, with the same flags spelled out;
 * test/proxy/node-flags.test.ts keeps them in step.
 *
 * On Node 20 two V8 settings cut the sidecar's peak RSS from 113 to 94 MB (`--max-semi-space-size=8`, and Liftoff-only
 * WebAssembly so undici's llhttp parser was never recompiled by TurboFan). Re-measured on Node 24 (proxy/README.md,
 * "Node flags"): peak RSS was the same with either, both or neither (118–121 MB), while Liftoff-only kept llhttp on
 * its slower baseline code for the life of the process. Neither pays for itself any more, so none is set.
 */
export const QUEUE_PROXY_NODE_FLAGS: readonly string[] = [];

/** The argv that runs `tide queue-proxy` with this Node and the flags above. */
export function queueProxyCommand(tideBin: string): [string, ...string[]] {
  return [process.execPath, ...QUEUE_PROXY_NODE_FLAGS, tideBin, 'queue-proxy'];
}
