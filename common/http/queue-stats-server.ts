/**
 * The server side of QueueStats.Scrape (common/proto/stats.proto; docs/architecture.md, "Stats"): one unary gRPC
 * method, answered over node:http2 with the Stat written in protobuf's binary form by hand. Every queue-proxy serves it
 * before its first ready answer (the autoscaler scrapes ready pods, and one sampled pod without an answer fails the
 * revision's whole scrape, §c2). grpc-js and proto-loader cost ~120 ms of CPU to load; spent before the first ready
 * answer they made the sidecar's start 40% longer, spent just after it they stalled the first requests of a replica
 * that scaled up under load (issue 15). Clients are unchanged: the autoscaler's grpc-js QueueStatsClient
 * (common/http/stats-grpc.ts), which test/integration/stats-grpc.test.ts holds this server to.
 *
 * What is served (gRPC over HTTP/2 as the grpc/grpc repository's protocol document specifies it):
 * - POST /tide.stats.v1.QueueStats/Scrape with content-type application/grpc[+proto]: 200, the length-prefixed Stat,
 *   trailers `grpc-status: 0`. The request (a ScrapeRequest, which has no fields) is read but not interpreted.
 * - Any other path: grpc-status 12 (UNIMPLEMENTED); a compressed request: 12; a request body over
 *   MAX_SCRAPE_REQUEST_BYTES: 8 (RESOURCE_EXHAUSTED); a body that is not whole gRPC frames: 13 (INTERNAL); a
 *   `latest()` that throws: 13. Another method: HTTP 405; another content type: HTTP 415.
 * - A connection must complete the HTTP/2 preface and SETTINGS within PREFACE_TIMEOUT_MS, a stream must end within
 *   STREAM_TIMEOUT_MS (else it is cancelled); idle sessions are closed
 *   after SESSION_IDLE_MS; at most MAX_STREAMS streams per session and MAX_CONNECTIONS connections.
 * The port is a plain TCP listener until the first connection: node:http2 (with node:tls and node:crypto, ~25 ms) is
 * loaded then, by the autoscaler's first scrape, not by the sidecar's start.
 */
import type * as http2 from 'node:http2';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import type { Stat } from '../stats.js';
import { H2_CANCEL, loadHttp2 } from './h2-codes.js';

export const SCRAPE_PATH = '/tide.stats.v1.QueueStats/Scrape';
/** A ScrapeRequest is empty: five bytes of framing from grpc-js. Anything much larger is not a scrape. */
export const MAX_SCRAPE_REQUEST_BYTES = 1024;
const SESSION_IDLE_MS = 30_000;
export const PREFACE_TIMEOUT_MS = 5_000;
export const STREAM_TIMEOUT_MS = 10_000;
const MAX_STREAMS = 16;
const MAX_CONNECTIONS = 256;

/** gRPC status codes used here (as numbered by gRPC's status code list). */
const GRPC_OK = 0;
const GRPC_RESOURCE_EXHAUSTED = 8;
const GRPC_UNIMPLEMENTED = 12;
const GRPC_INTERNAL = 13;

export interface StartedQueueStatsServer {
  port: number;
  /** GOAWAY to every session, then destroys what is still open after `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

/** proto3 varint of a non-negative integer below 2^64 (a bigint for int64 values past 2^53). */
function pushVarint(out: number[], value: bigint): void {
  let v = value;
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

/**
 * A Stat in protobuf's binary form (stats.proto field numbers). proto3 leaves fields at their default (0, "") out, as
 * every protobuf encoder does; a decoder reads an absent field as its default.
 */
export function encodeStat(s: Stat): Buffer {
  const head: number[] = [];
  const name = Buffer.from(s.podName, 'utf8');
  if (name.length > 0) {
    head.push((1 << 3) | 2);
    pushVarint(head, BigInt(name.length));
  }
  const doubles: [number, number][] = [
    [2, s.averageConcurrentRequests],
    [3, s.averageProxiedConcurrentRequests],
    [4, s.requestCount],
    [5, s.proxiedRequestCount],
    [6, s.processUptimeSeconds],
    [8, s.queuedRequests ?? 0],
    [9, s.maxWaitSeconds ?? 0],
  ];
  const present = doubles.filter(([, v]) => v !== 0);
  const tail: number[] = [];
  const ts = Math.trunc(s.timestampMs);
  if (Number.isFinite(ts) && ts !== 0) {
    tail.push((7 << 3) | 0);
    pushVarint(tail, BigInt.asUintN(64, BigInt(ts)));
  }
  const out = Buffer.allocUnsafe(head.length + name.length + present.length * 9 + tail.length);
  let at = Buffer.from(head).copy(out, 0);
  at += name.copy(out, at);
  // Fields in number order: 1, the doubles up to 6, then 7, then 8 and 9.
  for (const [field, v] of present.filter(([f]) => f < 7)) at = writeDouble(out, at, field, v);
  at += Buffer.from(tail).copy(out, at);
  for (const [field, v] of present.filter(([f]) => f > 7)) at = writeDouble(out, at, field, v);
  return out;
}

function writeDouble(out: Buffer, at: number, field: number, v: number): number {
  out[at] = (field << 3) | 1;
  out.writeDoubleLE(v, at + 1);
  return at + 9;
}

/** One gRPC message frame: the compressed flag (0), the length (big-endian uint32), the message. */
export function grpcFrame(message: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/** Whether `body` is whole gRPC frames; 'compressed' when one has the compressed flag set. */
function checkFrames(body: Buffer): 'ok' | 'compressed' | 'malformed' {
  let at = 0;
  while (at < body.length) {
    if (body.length - at < 5) return 'malformed';
    const flag = body[at]!;
    if (flag === 1) return 'compressed';
    if (flag !== 0) return 'malformed';
    const len = body.readUInt32BE(at + 1);
    if (body.length - at - 5 < len) return 'malformed';
    at += 5 + len;
  }
  return 'ok';
}

/** On every answer: the content type, and that only uncompressed messages are taken (a client may then stop compressing). */
const GRPC_HEADERS = { 'content-type': 'application/grpc+proto', 'grpc-accept-encoding': 'identity' } as const;

/** grpc-message is percent-encoded; these messages are plain ASCII without '%'. */
function trailersOnly(stream: http2.ServerHttp2Stream, code: number, message: string): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({ ':status': 200, ...GRPC_HEADERS, 'grpc-status': String(code), 'grpc-message': message }, { endStream: true });
}

function httpError(stream: http2.ServerHttp2Stream, status: number, message: string): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8' });
  stream.end(message);
}

function onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, latest: () => Stat, streamTimeoutMs: number): void {
  stream.on('error', () => undefined); // a reset by the client; nothing to do
  // A scrape is one small request: a stream still open after this (a body dripped or never ended) is cancelled.
  stream.setTimeout(streamTimeoutMs, () => stream.close(H2_CANCEL));
  if (headers[':method'] !== 'POST') {
    httpError(stream, 405, 'gRPC requests are POST\n');
    return;
  }
  const type = headers['content-type'];
  if (typeof type !== 'string' || !/^application\/grpc(\+proto)?(;|$)/i.test(type)) {
    httpError(stream, 415, 'content-type must be application/grpc\n');
    return;
  }
  if (headers[':path'] !== SCRAPE_PATH) {
    trailersOnly(stream, GRPC_UNIMPLEMENTED, `unknown method ${String(headers[':path']).slice(0, 200)}`);
    stream.resume();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_SCRAPE_REQUEST_BYTES) {
      trailersOnly(stream, GRPC_RESOURCE_EXHAUSTED, `request over ${MAX_SCRAPE_REQUEST_BYTES} bytes`);
      stream.close();
      return;
    }
    chunks.push(chunk);
  });
  stream.on('end', () => {
    if (stream.headersSent || stream.destroyed) return;
    const framing = checkFrames(Buffer.concat(chunks));
    if (framing !== 'ok') {
      trailersOnly(stream, framing === 'compressed' ? GRPC_UNIMPLEMENTED : GRPC_INTERNAL, framing === 'compressed' ? 'compressed requests are not supported' : 'request is not whole gRPC frames');
      return;
    }
    let body: Buffer;
    try {
      body = grpcFrame(encodeStat(latest()));
    } catch (err) {
      trailersOnly(stream, GRPC_INTERNAL, err instanceof Error ? err.message.replace(/[^\x20-\x24\x26-\x7e]/g, ' ') : 'stat unavailable');
      return;
    }
    stream.respond({ ':status': 200, ...GRPC_HEADERS }, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(GRPC_OK) }));
    stream.end(body);
  });
}

/**
 * Serves QueueStats.Scrape on `host:port` (port 0 picks one), answering each scrape with what `latest()` returns then.
 * Rejects if it cannot listen.
 */
export async function serveQueueStats(
  latest: () => Stat,
  opts: { host?: string; port: number; prefaceTimeoutMs?: number; streamTimeoutMs?: number },
): Promise<StartedQueueStatsServer> {
  const prefaceTimeoutMs = opts.prefaceTimeoutMs ?? PREFACE_TIMEOUT_MS;
  const streamTimeoutMs = opts.streamTimeoutMs ?? STREAM_TIMEOUT_MS;
  const sessions = new Set<http2.ServerHttp2Session>();
  let h2: http2.Http2Server | undefined;
  const h2Server = (): http2.Http2Server => {
    if (h2 !== undefined) return h2;
    h2 = loadHttp2().createServer({
      maxSessionMemory: 1,
      maxHeaderListPairs: 32,
      settings: { maxConcurrentStreams: MAX_STREAMS, maxHeaderListSize: 16 * 1024 },
    });
    h2.on('session', (session: http2.ServerHttp2Session) => {
      sessions.add(session);
      session.on('error', () => undefined);
      // A peer that connects and never speaks HTTP/2 would hold a connection slot until the idle timeout.
      const silent = setTimeout(() => session.destroy(), prefaceTimeoutMs);
      silent.unref();
      session.once('remoteSettings', () => clearTimeout(silent));
      session.once('close', () => clearTimeout(silent));
      session.setTimeout(SESSION_IDLE_MS, () => session.close());
      session.once('close', () => sessions.delete(session));
    });
    h2.on('stream', (stream, headers) => onStream(stream, headers, latest, streamTimeoutMs));
    h2.on('sessionError', () => undefined);
    return h2;
  };
  const tcp = createTcpServer({ noDelay: true }, (socket: Socket) => {
    socket.on('error', () => undefined);
    h2Server().emit('connection', socket);
  });
  tcp.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      tcp.off('error', reject);
      resolve();
    });
  });
  tcp.on('error', () => undefined);
  let closing: Promise<void> | undefined;
  return {
    port: (tcp.address() as AddressInfo).port,
    close(graceMs = 1000) {
      closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          for (const s of sessions) s.destroy();
        }, graceMs);
        force.unref();
        tcp.close(() => {
          clearTimeout(force);
          resolve();
        });
        for (const s of sessions) s.close();
      });
      return closing;
    },
  };
}
