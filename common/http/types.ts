/** The request/response shapes every handler of the shared proxy core sees, for HTTP/1.x and h2c alike. */
import * as http from 'node:http';
import type * as http2 from 'node:http2';
import type * as net from 'node:net';
import { failureReply } from '../errors.js';

/** HTTP/1.x request or the http2 compatibility request (mirrors http's API). */
export type ProxyRequest = http.IncomingMessage | http2.Http2ServerRequest;
/** HTTP/1.x response or the http2 compatibility response. */
export type ProxyResponse = http.ServerResponse | http2.Http2ServerResponse;

/**
 * A request handler. `startMs` is the listener's clock at request entry (after validation): pass it to the forwarder
 * so that time spent queued (breaker, throttler) counts against the request's timeouts (§a8).
 * A throw or rejection becomes a 500 if nothing was written yet.
 */
export type Handler = (req: ProxyRequest, res: ProxyResponse, startMs: number) => void | Promise<void>;

/** HTTP/1.1 `Upgrade` requests (WebSockets). The socket is already tracked by the listener for drain. */
export type UpgradeHandler = (req: http.IncomingMessage, socket: net.Socket, head: Buffer, startMs: number) => void;

/** Upstream request headers given to rewrite hooks: null prototype, lower-case names. */
export type OutgoingHeaders = Record<string, string | string[]>;

/** Request body bytes received so far, kept on requests created by the listener (server.ts). */
export const BODY_BYTES: unique symbol = Symbol('tide.bodyBytes');

/** Body bytes the listener has received for `req` (0 for requests not created by the listener). */
export function receivedBodyBytes(req: ProxyRequest): number {
  const n = (req as unknown as { [BODY_BYTES]?: number })[BODY_BYTES];
  return typeof n === 'number' ? n : 0;
}

/** True for an h2c request. */
export function isHttp2(req: ProxyRequest): req is http2.Http2ServerRequest {
  return req.httpVersionMajor === 2;
}

/**
 * Whether the request has a body to relay: h2 unless END_STREAM came with the headers; HTTP/1.x with a non-zero
 * Content-Length or any Transfer-Encoding (the listener refused every other framing).
 */
export function hasBody(req: ProxyRequest): boolean {
  if (isHttp2(req)) return !req.stream.endAfterHeaders;
  const h = req.headers;
  const cl = h['content-length'];
  return (cl !== undefined && cl !== '0') || h['transfer-encoding'] !== undefined;
}

/** The request's Host (HTTP/1) or `:authority` (h2; falls back to `host`). */
export function requestHost(req: ProxyRequest): string | undefined {
  if (req.httpVersionMajor === 2) {
    const a = req.headers[':authority'];
    if (typeof a === 'string' && a !== '') return a;
  }
  const h = req.headers.host;
  return typeof h === 'string' ? h : undefined;
}

/**
 * Writes a short `text/plain` response unless headers were already sent or the client is gone.
 * Returns true if the response was written.
 */
export function respondText(res: ProxyResponse, status: number, body: string): boolean {
  if (res.headersSent || res.writableEnded || res.destroyed) return false;
  const r = res as http.ServerResponse;
  r.statusCode = status;
  r.setHeader('content-type', 'text/plain; charset=utf-8');
  r.setHeader('content-length', Buffer.byteLength(body));
  r.setHeader('x-content-type-options', 'nosniff');
  r.end(body);
  return true;
}

/** Answers a failure as errors.ts `failureReply` maps it (nothing for one that maps to no status). Returns true if written. */
export function respondFailure(res: ProxyResponse, err: unknown): boolean {
  const r = failureReply(err);
  return r.status > 0 && respondText(res, r.status, r.body);
}

/**
 * Writes a short `text/plain` HTTP/1.1 response straight to a socket the HTTP parser let go of (an Upgrade request),
 * then closes it. Nothing if the socket is already gone.
 */
export function respondRaw(socket: net.Socket, status: number, body: string, headers?: Readonly<Record<string, string>>): void {
  if (socket.destroyed || !socket.writable) return;
  let extra = '';
  if (headers !== undefined) for (const name in headers) extra += `${name}: ${headers[name]}\r\n`;
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extra}\r\n${body}`,
  );
}

/** respondRaw for a failure, as `failureReply` maps it. */
export function respondRawFailure(socket: net.Socket, err: unknown, headers?: Readonly<Record<string, string>>): void {
  const r = failureReply(err);
  if (r.status > 0) respondRaw(socket, r.status, r.body, headers);
}
