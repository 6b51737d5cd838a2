/**
 * A paced undici connector for bursts of new upstream connections (the activator's cold start: 1,000 held requests
 * released at once over HTTP/1.1 means 1,000 connects to one pod). The kernel completes each handshake into the pod's
 * accept queue (backlog: node's default 511) faster than a busy pod accepts; once that queue is full, further SYNs
 * are dropped and retried by the client's TCP only after its 1 s initial retransmission timeout, so a few hundred of
 * the requests arrive a full second late (measured: `nstat TcpExtListenOverflows` ≈ 250 per burst, p99 ≈ 1.2 s).
 *
 * Here at most `maxUnconfirmed` connections per upstream are "unconfirmed" at once: connecting, or connected but
 * not yet known to be accepted. A connection is confirmed by its first byte from the pod, its close, or
 * `confirmAfterMs` after the handshake (so a slow app does not stall new connections for longer than that). Further
 * connects wait in order. For the forwarder's `upstreamPoolOptions` (forward.ts); the request path is unchanged.
 */
import type * as net from 'node:net';
import { buildConnector, type Pool } from 'undici';
import type { Clock } from '../clock.js';

export interface PacedConnectOptions {
  clock: Clock;
  /** TCP connect timeout (ms), counted from when the connect starts (not while it waits its turn). */
  connectTimeoutMs: number;
  /** Unconfirmed connections per upstream. Default 128 (well under the default accept backlog of 511). */
  maxUnconfirmed?: number;
  /** A connection counts as accepted this long after its handshake even if the pod has not answered yet. Default 20. */
  confirmAfterMs?: number;
  /** Extra connector options (e.g. h2c prior knowledge: `{ allowH2: true, useH2c: true }`). */
  connector?: Record<string, unknown>;
}

export const PACED_CONNECT_DEFAULTS = Object.freeze({ maxUnconfirmed: 128, confirmAfterMs: 20 });

interface Gate {
  active: number;
  queue: (() => void)[];
}

/** Pool options whose `connect` paces new connections per upstream; spread into `upstreamPoolOptions`. */
export function pacedConnectPoolOptions(opts: PacedConnectOptions): Pool.Options {
  return { connect: pacedConnector(opts) };
}

export function pacedConnector(opts: PacedConnectOptions): buildConnector.connector {
  const max = opts.maxUnconfirmed ?? PACED_CONNECT_DEFAULTS.maxUnconfirmed;
  const confirmAfterMs = opts.confirmAfterMs ?? PACED_CONNECT_DEFAULTS.confirmAfterMs;
  const inner = buildConnector({ timeout: opts.connectTimeoutMs, noDelay: true, ...opts.connector });
  const gates = new Map<string, Gate>();

  return (options, callback) => {
    const key = `${options.hostname}:${options.port}`;
    let gate = gates.get(key);
    if (gate === undefined) {
      gate = { active: 0, queue: [] };
      gates.set(key, gate);
    }
    const g = gate;
    const release = (): void => {
      g.active--;
      const next = g.queue.shift();
      if (next !== undefined) next();
      else if (g.active === 0) gates.delete(key);
    };
    const start = (): void => {
      g.active++;
      inner(options, (err, socket) => {
        if (err !== null || socket === null) {
          release();
          callback(err ?? new Error('connect failed'), null);
          return;
        }
        confirmWhenAccepted(socket, opts.clock, confirmAfterMs, release);
        callback(null, socket);
      });
    };
    if (g.active < max) start();
    else g.queue.push(start);
  };
}

function confirmWhenAccepted(socket: net.Socket, clock: Clock, afterMs: number, release: () => void): void {
  let done = false;
  const confirm = (): void => {
    if (done) return;
    done = true;
    cancel();
    socket.off('data', confirm);
    socket.off('close', confirm);
    release();
  };
  const cancel = clock.setTimeout(confirm, afterMs);
  // undici's HTTP/1 parser reads through 'readable', which keeps the socket out of flowing mode, so this 'data'
  // listener takes nothing from it and only sees what undici reads. It is added after undici set the socket up.
  process.nextTick(() => {
    if (!done) socket.once('data', confirm);
  });
  socket.once('close', confirm);
}
