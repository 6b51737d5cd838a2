/** The request/response shapes every handler of the shared proxy core sees, for HTTP/1.x and h2c alike. */
import type * as http from 'node:http';
import type * as http2 from 'node:http2';
import type * as net from 'node:net';

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
