import { describe, expect, it } from 'vitest';
import type { ProxyRequest } from '../../../common/http/types.js';
import { downstreamResponseHeaders, synthesizeForwarded, upstreamRequestHeaders } from '../../../common/http/proxy-headers.js';

describe('§a3 step 7 Forwarded shim', () => {
  it.each([
    { name: 'single for', xff: '1.2.3.4', xfp: '', xfh: '', want: 'for=1.2.3.4' },
    { name: 'for, host and proto on the first node', xff: '1.2.3.4', xfp: 'https', xfh: 'a.example', want: 'for=1.2.3.4;host=a.example;proto=https' },
    { name: 'later nodes are for= only', xff: '1.2.3.4, 5.6.7.8', xfp: 'http', xfh: '', want: 'for=1.2.3.4;proto=http, for=5.6.7.8' },
    { name: 'IPv6 quoted and bracketed', xff: '2001:db8::1, 10.0.0.1', xfp: '', xfh: '', want: 'for="[2001:db8::1]", for=10.0.0.1' },
    { name: 'IPv6 later node', xff: '10.0.0.1,::1', xfp: '', xfh: '', want: 'for=10.0.0.1, for="[::1]"' },
    { name: 'host only', xff: '', xfp: '', xfh: 'h.example', want: 'host=h.example' },
    { name: 'proto only', xff: '', xfp: 'https', xfh: '', want: 'proto=https' },
    { name: 'host and proto without for', xff: '', xfp: 'https', xfh: 'h', want: 'host=h;proto=https' },
  ])('$name', ({ xff, xfp, xfh, want }) => {
    expect(synthesizeForwarded(xff, xfp, xfh)).toBe(want);
  });
});

function fakeReq(headers: Record<string, string | string[]>, major = 1): ProxyRequest {
  return { headers, httpVersionMajor: major } as unknown as ProxyRequest;
}

describe('RFC 9110 §7.6.1 hop-by-hop stripping', () => {
  it('drops hop-by-hop headers and the ones named in Connection from the request', () => {
    const out = upstreamRequestHeaders(
      fakeReq({
        host: 'a.example',
        connection: 'keep-alive, X-Secret',
        'x-secret': 's',
        'keep-alive': 'timeout=5',
        'proxy-authorization': 'Basic x',
        te: 'trailers',
        upgrade: 'h2c',
        'transfer-encoding': 'chunked',
        expect: '100-continue',
        'x-kept': 'yes',
      }),
    );
    expect({ ...out }).toEqual({ host: 'a.example', 'x-kept': 'yes' });
    expect(upstreamRequestHeaders({ headers: {}, httpVersionMajor: 1, socket: { remoteAddress: '10.1.1.1' } } as unknown as ProxyRequest)[
      'x-forwarded-for'
    ]).toBe('10.1.1.1');
    expect(Object.getPrototypeOf(out)).toBeNull();
  });

  it('keeps te: trailers for h2 (gRPC) and maps :authority to host', () => {
    const out = upstreamRequestHeaders(
      fakeReq({ ':method': 'POST', ':path': '/x', ':authority': 'svc:81', ':scheme': 'http', te: 'trailers', 'content-type': 'application/grpc' }, 2),
    );
    expect({ ...out }).toEqual({ host: 'svc:81', te: 'trailers', 'content-type': 'application/grpc' });
  });

  it('adds Forwarded from X-Forwarded-* only when absent', () => {
    expect(upstreamRequestHeaders(fakeReq({ 'x-forwarded-for': '1.1.1.1' })).forwarded).toBe('for=1.1.1.1');
    expect(upstreamRequestHeaders(fakeReq({ 'x-forwarded-for': '1.1.1.1', forwarded: 'for=9.9.9.9' })).forwarded).toBe('for=9.9.9.9');
    expect(upstreamRequestHeaders(fakeReq({ host: 'x' })).forwarded).toBeUndefined();
  });

  it('treats a __proto__ header as a plain name', () => {
    const src = JSON.parse('{"__proto__": "x", "host": "h"}') as Record<string, string>;
    const out = upstreamRequestHeaders(fakeReq(src));
    expect(Object.getPrototypeOf(out)).toBeNull();
    expect(out.host).toBe('h');
  });

  it('drops hop-by-hop and Connection-named headers from the response', () => {
    const out = downstreamResponseHeaders({
      connection: 'close, X-Internal',
      'x-internal': '1',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
    });
    expect({ ...out }).toEqual({ 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
  });
});
