/** The HTTP/2 numbers common/http/h2-codes.ts spells out so that the start-up path need not load node:http2. */
import * as http2 from 'node:http2';
import { describe, expect, it } from 'vitest';
import { H2_CANCEL, H2_FLAG_END_STREAM, H2_INTERNAL_ERROR, H2_NO_ERROR, H2_REFUSED_STREAM, loadHttp2 } from '../../../common/http/h2-codes.js';

describe('h2-codes', () => {
  it.each([
    ['H2_NO_ERROR', H2_NO_ERROR, http2.constants.NGHTTP2_NO_ERROR],
    ['H2_INTERNAL_ERROR', H2_INTERNAL_ERROR, http2.constants.NGHTTP2_INTERNAL_ERROR],
    ['H2_REFUSED_STREAM', H2_REFUSED_STREAM, http2.constants.NGHTTP2_REFUSED_STREAM],
    ['H2_CANCEL', H2_CANCEL, http2.constants.NGHTTP2_CANCEL],
    ['H2_FLAG_END_STREAM', H2_FLAG_END_STREAM, http2.constants.NGHTTP2_FLAG_END_STREAM],
  ])('%s is node:http2 %#', (_name, ours, nodes) => expect(ours).toBe(nodes));

  it('loadHttp2 hands back node:http2 itself', () => expect(loadHttp2()).toBe(process.getBuiltinModule('node:http2')));
});
