/**
 * Header hygiene for proxying (RFC 9110 §7.6.1): hop-by-hop and `Connection`-named headers are dropped both ways,
 * and a `Forwarded` header is synthesised from `X-Forwarded-*` exactly as Knative's shim does (§a3 step 7).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { util as undiciUtil } from 'undici';
import { H, HOP_BY_HOP, firstHeader } from './headers.js';
import type { OutgoingHeaders, ProxyRequest } from './types.js';

/**
 * Request headers that must not be passed on besides the hop-by-hop ones: `expect` (node already answered
 * 100-continue; undici refuses it), `http2-settings` (h2c upgrade), `host` is kept and handled by the caller.
 */
const REQUEST_ONLY_DROP: ReadonlySet<string> = new Set(['expect', 'http2-settings']);

/** Names listed in a `Connection` header value, lower-case; undefined when there are none. */
export function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && !value.includes(',')) {
    // Fast path for the usual single token (`keep-alive`, `close`): no split, no Set.
    const t = value.trim().toLowerCase();
    return t === '' || t === 'close' || t === 'keep-alive' ? undefined : new Set([t]);
  }
  const joined = Array.isArray(value) ? value.join(',') : value;
  let out: Set<string> | undefined;
  for (const part of joined.split(',')) {
    const t = part.trim().toLowerCase();
    if (t === '' || t === 'close' || t === 'keep-alive') continue;
    (out ??= new Set()).add(t);
  }
  return out;
}

/**
 * A formatted `for=` node: IPv6 addresses (anything with a colon) are quoted as `"[addr]"` (RFC 7239 §6).
 */
function node(n: string): string {
  return n.includes(':') ? `"[${n}]"` : n;
}

/**
 * Knative's Forwarded shim (§a3 step 7; serving pkg/queue forwarded shim): the first X-Forwarded-For node carries
 * `host=` and `proto=`, later nodes are `, for=<node>`. Empty inputs are skipped.
 * @example synthesizeForwarded('1.2.3.4, ::1', 'https', 'a.example') === 'for=1.2.3.4;host=a.example;proto=https, for="[::1]"'
 */
export function synthesizeForwarded(xff: string, xfp: string, xfh: string): string {
  const nodes = xff === '' ? [] : xff.split(',').map((s) => s.trim());
  let out = '';
  if (nodes.length > 0) out = `for=${node(nodes[0] ?? '')}`;
  if (xfh !== '') out += `${out === '' ? '' : ';'}host=${xfh}`;
  if (xfp !== '') out += `${out === '' ? '' : ';'}proto=${xfp}`;
  for (let i = 1; i < nodes.length; i++) out += `, for=${node(nodes[i] ?? '')}`;
  return out;
}

/** A header's first value, trimmed; '' when absent. */
function first(v: string | string[] | undefined): string {
  return (firstHeader(v) ?? '').trim();
}

/**
 * The headers to send upstream: a null-prototype copy of `req.headers` without hop-by-hop headers, without the
 * headers the client named in `Connection`, without pseudo-headers; `host` holds Host (`:authority` for h2).
 * For h2 requests `te: trailers` is kept (gRPC needs it). A `Forwarded` header is added from `X-Forwarded-*` when absent,
 * then the peer address is appended to `X-Forwarded-For`.
 */
export function upstreamRequestHeaders(req: ProxyRequest): OutgoingHeaders {
  const src = req.headers as IncomingHttpHeaders;
  const out = Object.create(null) as OutgoingHeaders;
  const isH2 = req.httpVersionMajor === 2;
  const named = connectionTokens(src.connection);
  for (const name in src) {
    const v = src[name];
    if (v === undefined) continue;
    if (HOP_BY_HOP.has(name)) {
      if (isH2 && name === 'te' && v === 'trailers') out.te = v;
      continue;
    }
    if (name.charCodeAt(0) === 58 /* : */ || REQUEST_ONLY_DROP.has(name)) continue;
    // A client naming Host in Connection must not make the upstream hear another host (Go keeps Host apart too).
    if (named?.has(name) === true && name !== 'host') continue;
    out[name] = v;
  }
  if (isH2) {
    const authority = src[':authority'];
    if (typeof authority === 'string') out.host = authority;
  }
  if (out[H.forwarded] === undefined) {
    const xff = first(out[H.xForwardedFor]);
    const xfp = first(out[H.xForwardedProto]);
    const xfh = first(out[H.xForwardedHost]);
    if (xff !== '' || xfp !== '' || xfh !== '') out[H.forwarded] = synthesizeForwarded(xff, xfp, xfh);
  }
  // Like Go's httputil.ReverseProxy (Knative's proxies): append the peer's address to X-Forwarded-For, after the
  // Forwarded shim has read the incoming value (§a3 step 7 runs before step 10).
  const peer = req.socket?.remoteAddress;
  if (peer !== undefined) {
    const prior = out[H.xForwardedFor];
    out[H.xForwardedFor] =
      prior === undefined ? peer : `${Array.isArray(prior) ? prior.join(', ') : prior}, ${peer}`;
  }
  return out;
}

/**
 * Response headers to relay to the client: hop-by-hop and `Connection`-named ones removed, pseudo-headers removed.
 * Returns a null-prototype object.
 */
export function downstreamResponseHeaders(src: IncomingHttpHeaders): OutgoingHeaders {
  const out = Object.create(null) as OutgoingHeaders;
  const named = connectionTokens(src.connection);
  for (const name in src) {
    const v = src[name];
    if (v === undefined || HOP_BY_HOP.has(name) || name.charCodeAt(0) === 58) continue;
    if (named?.has(name) === true) continue;
    out[name] = v;
  }
  return out;
}

/**
 * `downstreamResponseHeaders(parseHeaders(raw))` in one pass over undici's raw response header list (name, value, …):
 * names lower-cased, values latin1, repeated names as arrays in arrival order, hop-by-hop and `Connection`-named headers
 * removed. Skips the intermediate object undici's parser would build.
 */
export function downstreamHeadersFromRaw(raw: readonly Buffer[]): OutgoingHeaders {
  const out = Object.create(null) as OutgoingHeaders;
  let connection: string | string[] | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = undiciUtil.headerNameToString(raw[i] as Buffer);
    const v = (raw[i + 1] as Buffer).toString('latin1');
    if (HOP_BY_HOP.has(name)) {
      if (name === 'connection') connection = connection === undefined ? v : Array.isArray(connection) ? [...connection, v] : [connection, v];
      continue;
    }
    if (name.charCodeAt(0) === 58 /* : */) continue;
    const prior = out[name];
    if (prior === undefined) out[name] = v;
    else if (Array.isArray(prior)) prior.push(v);
    else out[name] = [prior, v];
  }
  const named = connectionTokens(connection);
  if (named !== undefined) for (const name of named) delete out[name];
  return out;
}
