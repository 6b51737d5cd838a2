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
 *   STREAM_TIMEOUT_MS (else it is cancelled); idle sessions are closed after SESSION_IDLE_MS; at most MAX_STREAMS
 *   streams per session and MAX_CONNECTIONS connections. An HTTP/1 request has its connection closed.
 * The port is the shared listener (common/http/server.ts: its preface deadline, connection cap, h2 idle and rapid-reset
 * limits, header limits), which builds its HTTP/2 server at the first h2c connection: node:http2 (with node:tls and
 * node:crypto, ~25 ms) is loaded by the autoscaler's first scrape, not by the sidecar's start.
 */
import type * as http2 from 'node:http2';
import type { Stat } from '../stats.js';
import { H2_CANCEL } from './h2-codes.js';
import { createListener, type ListenerOptions } from './server.js';
import { isHttp2, respondText, type Handler } from './types.js';

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
  /** Stops accepting, GOAWAY to every session, destroys what is still open after `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

/** proto3 varint of an unsigned integer below 2^64 (a bigint: int64 values pass 2^53). */
function varint(value: bigint): number[] {
  const out: number[] = [];
  let v = value;
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/**
 * A Stat in protobuf's binary form (stats.proto field numbers, written in number order). proto3 leaves a field at its
 * default (0, "") out, as every protobuf encoder does; a decoder reads an absent field as its default.
 */
export function encodeStat(s: Stat): Buffer {
  const parts: Buffer[] = [];
  const name = Buffer.from(s.podName, 'utf8');
  if (name.length > 0) parts.push(Buffer.from([(1 << 3) | 2, ...varint(BigInt(name.length))]), name);
  const ts = Math.trunc(s.timestampMs);
  const fields: [field: number, kind: 'double' | 'int64', value: number][] = [
    [2, 'double', s.averageConcurrentRequests],
    [3, 'double', s.averageProxiedConcurrentRequests],
    [4, 'double', s.requestCount],
    [5, 'double', s.proxiedRequestCount],
    [6, 'double', s.processUptimeSeconds],
    [7, 'int64', Number.isFinite(ts) ? ts : 0],
    [8, 'double', s.queuedRequests ?? 0],
    [9, 'double', s.maxWaitSeconds ?? 0],
  ];
  for (const [field, kind, v] of fields) {
    if (v === 0) continue;
    if (kind === 'int64') {
      parts.push(Buffer.from([field << 3, ...varint(BigInt.asUintN(64, BigInt(v)))]));
    } else {
      const b = Buffer.allocUnsafe(9);
      b[0] = (field << 3) | 1;
      b.writeDoubleLE(v, 1);
      parts.push(b);
    }
  }
  return Buffer.concat(parts);
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

/** A status with no message (headers that end the stream). grpc-message is percent-encoded; these are ASCII without '%'. */
function trailersOnly(stream: http2.ServerHttp2Stream, code: number, message: string): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({ ':status': 200, ...GRPC_HEADERS, 'grpc-status': String(code), 'grpc-message': message }, { endStream: true });
}

/** The listener's handler: one Scrape per h2 stream; an HTTP/1 request has its connection closed (gRPC is HTTP/2). */
function scrapeHandler(latest: () => Stat, streamTimeoutMs: number): Handler {
  return (req, res) => {
    if (!isHttp2(req)) {
      res.destroy();
      return;
    }
    const stream = req.stream;
    // A scrape is one small request: a stream still open after this (a body dripped or never ended) is cancelled.
    stream.setTimeout(streamTimeoutMs, () => stream.close(H2_CANCEL));
    if (req.headers[':method'] !== 'POST') {
      respondText(res, 405, 'gRPC requests are POST');
      return;
    }
    const type = req.headers['content-type'];
    if (typeof type !== 'string' || !/^application\/grpc(\+proto)?(;|$)/i.test(type)) {
      respondText(res, 415, 'content-type must be application/grpc');
      return;
    }
    if (req.headers[':path'] !== SCRAPE_PATH) {
      trailersOnly(stream, GRPC_UNIMPLEMENTED, `unknown method ${String(req.headers[':path']).slice(0, 200)}`);
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_SCRAPE_REQUEST_BYTES) {
        trailersOnly(stream, GRPC_RESOURCE_EXHAUSTED, `request over ${MAX_SCRAPE_REQUEST_BYTES} bytes`);
        stream.close();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
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
      const h2res = res as http2.Http2ServerResponse;
      h2res.writeHead(200, GRPC_HEADERS);
      h2res.addTrailers({ 'grpc-status': String(GRPC_OK) });
      h2res.end(body);
    });
  };
}

/**
 * Serves QueueStats.Scrape on `host:port` (port 0 picks one), answering each scrape with what `latest()` returns then.
 * The port is the shared hardened listener (common/http/server.ts) with the limits above. Rejects if it cannot listen.
 */
export async function serveQueueStats(
  latest: () => Stat,
  opts: { host?: string; port: number; prefaceTimeoutMs?: number; streamTimeoutMs?: number } & Pick<ListenerOptions, 'onError' | 'onNotice'>,
): Promise<StartedQueueStatsServer> {
  const listener = createListener({
    handler: scrapeHandler(latest, opts.streamTimeoutMs ?? STREAM_TIMEOUT_MS),
    ...(opts.onError ? { onError: opts.onError } : {}),
    ...(opts.onNotice ? { onNotice: opts.onNotice } : {}),
    headersTimeoutMs: opts.prefaceTimeoutMs ?? PREFACE_TIMEOUT_MS,
    http2IdleTimeoutMs: SESSION_IDLE_MS,
    http2MaxConcurrentStreams: MAX_STREAMS,
    maxConnections: MAX_CONNECTIONS,
  });
  const port = await listener.listen(opts.port, opts.host ?? '0.0.0.0');
  return { port, close: (graceMs = 1000) => listener.close({ timeoutMs: graceMs }) };
}
