/**
 * Relays an HTTP/1.1 `Upgrade` (WebSocket) request to an upstream over raw TCP: the request head goes up, the
 * upstream's status line and headers come back as they are, then bytes flow both ways. Errors on either side close
 * both sockets; nothing here can crash the process.
 */
import type * as http from 'node:http';
import * as net from 'node:net';
import { upstreamRequestHeaders } from './proxy-headers.js';
import { respondRaw, type OutgoingHeaders } from './types.js';

export interface UpgradeCall {
  /** 'host:port' of the upstream. */
  upstream: string;
  /** Edits the upstream request headers in place (hop-by-hop already stripped; Connection/Upgrade re-added after). */
  rewriteHeaders?: (headers: OutgoingHeaders, req: http.IncomingMessage) => void;
  /** Connect + response-head timeout. Default 5 000 ms. */
  connectTimeoutMs?: number;
  /** The upstream answered 101 and it was relayed: an upgraded connection starts. */
  onOpen?: () => void;
  /** Called exactly once, when both sockets are closed (whether or not the upgrade succeeded). */
  onClose?: () => void;
}

/** Largest upstream response head we read before giving up (same order as the listener's header limit). */
const MAX_HEAD_BYTES = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const UNSAFE_VALUE = /[\r\n\0]/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function splitHostPort(upstream: string): { host: string; port: number } {
  const i = upstream.lastIndexOf(':');
  let host = i > 0 ? upstream.slice(0, i) : upstream;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port: i > 0 ? Number(upstream.slice(i + 1)) : 80 };
}

/** Serialises the upstream request head. Header names/values that could break framing are dropped. */
function requestHead(req: http.IncomingMessage, headers: OutgoingHeaders): string {
  let head = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
  for (const name in headers) {
    if (!TOKEN.test(name)) continue;
    const v = headers[name];
    const values = Array.isArray(v) ? v : [v];
    for (const value of values) {
      if (value === undefined || UNSAFE_VALUE.test(value)) continue;
      head += `${name}: ${value}\r\n`;
    }
  }
  return `${head}\r\n`;
}

/**
 * Relays one Upgrade. The upstream refusing or failing before answering gives the client a 502; a non-101 answer
 * is relayed as is and the connection then closed.
 */
export function forwardUpgrade(req: http.IncomingMessage, client: net.Socket, head: Buffer, call: UpgradeCall): void {
  const headers = upstreamRequestHeaders(req);
  call.rewriteHeaders?.(headers, req);
  // HTTP/1.1 needs a Host: when the rewrite moved it away (the activator's K-Original-Host), name the upstream, as the
  // forwarder's undici and h2c paths do for ordinary requests.
  if (headers['host'] === undefined) headers['host'] = call.upstream;
  const upgrade = req.headers.upgrade;
  if (upgrade !== undefined) {
    headers.connection = 'upgrade';
    headers.upgrade = upgrade;
  }
  const { host, port } = splitHostPort(call.upstream);
  let closedCount = 0;
  let finished = false;
  let responded = false;

  const onSocketClose = (): void => {
    closedCount++;
    upstream.destroy();
    client.destroy();
    if (closedCount >= 2 && !finished) {
      finished = true;
      call.onClose?.();
    }
  };

  const fail = (): void => {
    if (!responded && !client.destroyed && client.writable) {
      responded = true;
      respondRaw(client, 502, 'upstream error');
      client.destroySoon();
    } else {
      client.destroy();
    }
    upstream.destroy();
  };

  const upstream = net.connect({ host, port, noDelay: true });
  upstream.setTimeout(call.connectTimeoutMs ?? 5_000);
  upstream.on('timeout', fail);
  upstream.on('error', fail);
  client.on('error', () => {
    client.destroy();
    upstream.destroy();
  });
  client.once('close', onSocketClose);
  upstream.once('close', onSocketClose);
  if (client.destroyed) {
    upstream.destroy();
    return;
  }

  // Bytes the client sent after the request head (`head`, and anything arriving before the answer) belong to the
  // upgraded protocol only if the upstream switches (101). Otherwise they would be a pipelined request that bypassed
  // the listener's parsing and header checks: held until the answer, then sent (101) or dropped with the connection.
  let early: Buffer[] = head.length > 0 ? [head] : [];
  const holdEarly = (chunk: Buffer): void => {
    early.push(chunk);
    if (early.reduce((n, b) => n + b.length, 0) > MAX_HEAD_BYTES) fail();
  };
  client.on('data', holdEarly);
  upstream.once('connect', () => {
    upstream.write(requestHead(req, headers));
  });

  // Read the upstream's response head, then switch to raw relaying.
  let buffered: Buffer = Buffer.alloc(0);
  const onHeadData = (chunk: Buffer): void => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf(HEAD_END);
    if (end < 0) {
      if (buffered.length > MAX_HEAD_BYTES) fail();
      return;
    }
    upstream.removeListener('data', onHeadData);
    upstream.setTimeout(0);
    upstream.removeListener('timeout', fail);
    responded = true;
    const statusLine = buffered.subarray(0, buffered.indexOf('\r\n')).toString('latin1');
    const status = Number(statusLine.split(' ')[1]);
    client.write(buffered); // status line, headers and anything after them, as the upstream sent it
    client.removeListener('data', holdEarly);
    const held = early;
    early = [];
    if (status === 101) {
      call.onOpen?.();
      for (const b of held) upstream.write(b);
      upstream.pipe(client);
      client.pipe(upstream);
    } else {
      // Not upgraded: relay the rest of the answer and close; what the client sent after its request is dropped, never
      // parsed (RFC 9110 §7.8: the connection was not switched, and we do not re-parse it as HTTP/1.1).
      client.pause();
      upstream.pipe(client);
    }
  };
  upstream.on('data', onHeadData);
}
