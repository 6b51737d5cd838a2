/**
 * The HTTP/2 numbers the serving path needs (RFC 9113 section 7's error codes, section 6.1's END_STREAM flag), so that modules on
 * the queue-proxy's start-up path do not load node:http2 just to read `http2.constants`: node:http2 brings node:tls
 * and most of node:crypto with it, ~25 ms of each start. node:http2 itself is loaded when the first h2c connection or
 * upstream session needs it. test/common/http/h2-codes.test.ts holds each number to node:http2's constants.
 */
import type * as Http2 from 'node:http2';

export const H2_NO_ERROR = 0x0;
export const H2_INTERNAL_ERROR = 0x2;
export const H2_REFUSED_STREAM = 0x7;
export const H2_CANCEL = 0x8;
export const H2_FLAG_END_STREAM = 0x1;

/** node:http2, loaded on first use (the process's cached copy afterwards). */
export function loadHttp2(): typeof Http2 {
  return process.getBuiltinModule('node:http2');
}
