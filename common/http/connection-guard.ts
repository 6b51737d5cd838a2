/**
 * Connection-level limits of the shared listener that neither node:http nor node:http2 applies to a socket handed to
 * them by hand: a deadline for the first bytes (the HTTP/2 preface, or the first byte of an HTTP/1 request) and for
 * the client's first SETTINGS frame, an idle timeout for h2c sessions, and a rate-limited notice when the
 * concurrent-connection cap drops connections. One sweep every `checkIntervalMs` on the listener's clock does all
 * of it, as node's own HTTP/1 header-timeout check does; no timer per connection or per request.
 */
import type * as http2 from 'node:http2';
import type * as net from 'node:net';
import type { Cancel, Clock } from '../clock.js';

/** Per h2c session: dispatched streams still open, and when the last one opened or closed. */
export interface SessionState {
  open: number;
  lastActiveMs: number;
  /** The client's first SETTINGS frame arrived (RFC 9113 §3.4: it must follow the preface). */
  settled: boolean;
  /** When the TCP connection was accepted. */
  readonly acceptedMs: number;
}

export interface GuardOptions {
  clock: Clock;
  /** Preface (and, for h2c, the first SETTINGS) must arrive within this from accept. 0 = off. */
  headersTimeoutMs: number;
  /** h2c sessions with no open stream for this long get GOAWAY. 0 = off. */
  idleTimeoutMs: number;
  checkIntervalMs: number;
  /** How often at most the connection-limit notice is given. */
  noticeIntervalMs: number;
  onNotice: (message: string, details: Record<string, unknown>) => void;
}

export class ConnectionGuard {
  readonly #o: GuardOptions;
  /** Sockets whose protocol is not known yet → accept time. */
  readonly #peeking = new Map<net.Socket, number>();
  readonly #sessions = new Map<http2.ServerHttp2Session, SessionState>();
  #stop: Cancel | undefined;
  #dropped = 0;
  #lastNoticeMs = -Infinity;
  /** Counters for tests and metrics. */
  readonly counters = { prefaceTimeouts: 0, settingsTimeouts: 0, idleClosed: 0, dropped: 0 };

  constructor(options: GuardOptions) {
    this.#o = options;
  }

  start(): void {
    const interval = Math.max(1, this.#o.checkIntervalMs);
    this.#stop ??= this.#o.clock.setInterval(() => this.sweep(), interval);
  }

  stop(): void {
    this.#stop?.();
    this.#stop = undefined;
  }

  /** A socket was accepted; its protocol is not known yet. */
  accepted(socket: net.Socket): void {
    this.#peeking.set(socket, this.#o.clock.now());
  }

  /** The socket's protocol is known (or it closed). Returns its accept time. */
  classified(socket: net.Socket): number {
    const at = this.#peeking.get(socket);
    this.#peeking.delete(socket);
    return at ?? this.#o.clock.now();
  }

  addSession(session: http2.ServerHttp2Session, acceptedMs: number): SessionState {
    const state: SessionState = { open: 0, lastActiveMs: this.#o.clock.now(), settled: false, acceptedMs };
    this.#sessions.set(session, state);
    return state;
  }

  removeSession(session: http2.ServerHttp2Session): void {
    this.#sessions.delete(session);
  }

  /** The TCP server dropped a connection at its `maxConnections`: one notice per `noticeIntervalMs` with the count. */
  dropped(max: number): void {
    this.#dropped++;
    this.counters.dropped++;
    const now = this.#o.clock.now();
    if (now - this.#lastNoticeMs < this.#o.noticeIntervalMs) return;
    this.#lastNoticeMs = now;
    const n = this.#dropped;
    this.#dropped = 0;
    this.#o.onNotice(`connection limit reached: ${max} open connections, new ones are closed at once (maxConnections)`, {
      maxConnections: max,
      dropped: n,
    });
  }

  /** One pass: overdue prefaces and SETTINGS are destroyed, idle h2c sessions get GOAWAY. */
  sweep(): void {
    const now = this.#o.clock.now();
    const headersMs = this.#o.headersTimeoutMs;
    if (headersMs > 0) {
      for (const [socket, at] of this.#peeking) {
        if (now - at < headersMs) continue;
        this.#peeking.delete(socket);
        this.counters.prefaceTimeouts++;
        socket.destroy();
      }
    }
    const idleMs = this.#o.idleTimeoutMs;
    for (const [session, s] of this.#sessions) {
      if (!s.settled) {
        if (headersMs > 0 && now - s.acceptedMs >= headersMs) {
          this.#sessions.delete(session);
          this.counters.settingsTimeouts++;
          session.destroy();
        }
        continue;
      }
      if (idleMs > 0 && s.open === 0 && now - s.lastActiveMs >= idleMs && !session.closed) {
        this.counters.idleClosed++;
        // GOAWAY with NO_ERROR: the client knows no stream was lost and opens a new connection when it needs one.
        session.close();
      }
    }
  }
}
