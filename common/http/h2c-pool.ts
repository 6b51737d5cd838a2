/**
 * The forwarder's h2c sessions: per upstream, a few node:http2 client sessions (prior knowledge) that streams share.
 * A stream goes on the first open session below its cap (the smaller of our `maxStreamsPerSession` and the peer's
 * SETTINGS_MAX_CONCURRENT_STREAMS), else on a new session, so a burst of 1,000 requests takes 10 connections.
 * Sessions idle for `keepAliveMs` are closed; a session that errors, closes or receives GOAWAY is forgotten.
 */
import type * as http2 from 'node:http2';
import { H2_REFUSED_STREAM, loadHttp2 } from './h2-codes.js';
import { checkOptions, option } from '../options.js';

/** An h2c session to one upstream and the streams open on it. */
export interface SessionSlot {
  readonly session: http2.ClientHttp2Session;
  active: number;
  /** The connection was made: a stream opened on it may have reached the upstream. */
  connected: boolean;
  /** From the peer's GOAWAY: streams above this id were never processed (RFC 9113 §6.8), so they are safe to resend. */
  goawayLastStreamId: number | undefined;
  /** The peer's SETTINGS_MAX_CONCURRENT_STREAMS; unlimited (the protocol default) until its SETTINGS arrive. */
  peerMaxStreams: number;
}

/** Whether an h2c stream that failed certainly never reached the upstream's application. */
export function streamNeverProcessed(stream: http2.ClientHttp2Stream, slot: SessionSlot | undefined): boolean {
  if (stream.rstCode === H2_REFUSED_STREAM) return true;
  // No id: it never left this process. Above the GOAWAY's last stream id: the peer says it did not touch it.
  if (stream.id === undefined) return true;
  return slot?.goawayLastStreamId !== undefined && stream.id > slot.goawayLastStreamId;
}

export interface H2cPoolOptions {
  /** Streams per session before another session to the same upstream is opened (capped by the peer's setting). */
  maxStreamsPerSession: number;
  /** A session with no activity for this long is closed. */
  keepAliveMs: number;
}

export class H2cPool {
  readonly #opts: H2cPoolOptions;
  readonly #sessions = new Map<string, SessionSlot[]>();

  constructor(opts: H2cPoolOptions) {
    checkOptions('H2cPool', opts, { maxStreamsPerSession: option.positiveInt, keepAliveMs: option.positiveInt }, ['maxStreamsPerSession', 'keepAliveMs']);
    this.#opts = opts;
  }

  /**
   * Opens a stream to `upstream` (`host:port`) on a session with a free stream slot (a new session if none has one).
   * Throws what `session.request` throws (a bad header, a session going away): the stream never existed.
   */
  stream(upstream: string, headers: http2.OutgoingHttpHeaders, endStream: boolean): { stream: http2.ClientHttp2Stream; slot: SessionSlot } {
    const slot = this.#sessionWithRoom(upstream);
    const stream = slot.session.request(headers, { endStream });
    slot.active++;
    stream.once('close', () => {
      slot.active--;
    });
    return { stream, slot };
  }

  /** Open sessions to `upstream` (for tests and metrics). */
  sessionCount(upstream: string): number {
    return this.#sessions.get(upstream)?.length ?? 0;
  }

  /** Destroys and forgets every session to `upstream` (the pod went away). */
  close(upstream: string): void {
    const slots = this.#sessions.get(upstream);
    this.#sessions.delete(upstream);
    for (const slot of slots ?? []) slot.session.destroy();
  }

  /** Destroys every session. */
  closeAll(): void {
    for (const slots of this.#sessions.values()) for (const slot of slots) slot.session.destroy();
    this.#sessions.clear();
  }

  /** The first open session to `upstream` below its stream cap, else a new one. */
  #sessionWithRoom(upstream: string): SessionSlot {
    let slots = this.#sessions.get(upstream);
    if (slots !== undefined) {
      for (const slot of slots) {
        const s = slot.session;
        if (s.closed || s.destroyed) continue;
        if (slot.active < Math.min(this.#opts.maxStreamsPerSession, slot.peerMaxStreams)) return slot;
      }
    } else {
      slots = [];
      this.#sessions.set(upstream, slots);
    }
    const created = loadHttp2().connect(`http://${upstream}`, { maxSessionMemory: 10 });
    const slot: SessionSlot = { session: created, active: 0, connected: false, goawayLastStreamId: undefined, peerMaxStreams: Infinity };
    slots.push(slot);
    created.once('connect', () => (slot.connected = true));
    created.on('remoteSettings', (settings: http2.Settings) => (slot.peerMaxStreams = settings.maxConcurrentStreams ?? Infinity));
    const forget = (): void => {
      const list = this.#sessions.get(upstream);
      if (list === undefined) return;
      const i = list.indexOf(slot);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.#sessions.delete(upstream);
    };
    created.on('error', forget); // streams see the error themselves
    created.once('close', forget);
    created.once('goaway', (_code: number, lastStreamId: number) => {
      slot.goawayLastStreamId = lastStreamId;
      forget();
    });
    created.setTimeout(this.#opts.keepAliveMs, () => created.close());
    created.unref();
    return slot;
  }
}
