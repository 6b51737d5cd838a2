/**
 * The forwarder across protocols: `upstreamH2` picks per request whether the upstream hears h2c or HTTP/1.1,
 * independently of the client's protocol (Tide only: the activator multiplexes HTTP/1.1 clients over h2c to
 * queue-proxies, which send those requests on to the app over HTTP/1.1). By default the upstream hears what the client
 * spoke, as Knative's proxies do. h2c sessions are pooled per upstream, at most maxStreamsPerSession streams each
 * (and never more than the peer's SETTINGS_MAX_CONCURRENT_STREAMS).
 */
import type * as http from 'node:http';
import * as http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { createForwarder, type ForwardOutcome } from '../../../common/http/forward.js';
import { createListener } from '../../../common/http/server.js';
import { respondText } from '../../../common/http/types.js';
import {
  deadPort,
  firstStatus,
  h1Request,
  h2Request,
  rawExchange,
  startH2Upstream,
  trackedRigs,
  until,
  type H2Recorded,
  type H2Upstream,
} from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});
const { upstream, proxy } = trackedRigs(cleanups);

async function h2Upstream(...args: Parameters<typeof startH2Upstream>): Promise<H2Upstream> {
  const u = await startH2Upstream(...args);
  cleanups.push(() => u.close());
  return u;
}

function h2Session(port: number): http2.ClientHttp2Session {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  cleanups.push(() => void session.destroy());
  return session;
}

const toH2 = { upstreamH2: () => true };
const toH1 = { upstreamH2: () => false };

/**
 * A listener that forwards over h2c with respondWhenNeverSent: false and then answers `caller:<result>` itself, as the
 * activator's last resort does: only possible when the forwarder wrote nothing.
 */
async function callerRig(upstreamAddress: string): Promise<{ port: number; outcomes: ForwardOutcome[] }> {
  const forwarder = createForwarder(toH2);
  const outcomes: ForwardOutcome[] = [];
  const listener = createListener({
    handler: async (req, res, startMs) => {
      const out = await forwarder.forward(req, res, { upstream: upstreamAddress, startMs, respondWhenNeverSent: false });
      outcomes.push(out);
      respondText(res, 503, `caller:${out.result}`);
    },
  });
  const port = await listener.listen(0, '127.0.0.1');
  cleanups.push(async () => {
    await listener.close({ timeoutMs: 500 });
    await forwarder.close();
  });
  return { port, outcomes };
}

describe('HTTP/1.1 client → h2c upstream (upstreamH2: () => true)', () => {
  it('GET with a query string: method, :path, :authority and end-to-end headers arrive; hop-by-hop headers do not', async () => {
    const up = await h2Upstream();
    const rig = await proxy(() => up.address, {}, toH2);
    const { text } = await rawExchange(
      rig.port,
      'GET /a/b?x=1&y=two HTTP/1.1\r\nHost: a.example\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\n' +
        'X-Secret: s\r\nTE: trailers\r\nX-Kept: 1\r\n\r\n',
      300,
    );
    expect(firstStatus(text)).toBe(200);
    expect(up.requests).toHaveLength(1);
    const rec = up.requests[0]!;
    expect([rec.method, rec.path, rec.authority]).toEqual(['GET', '/a/b?x=1&y=two', 'a.example']);
    expect(rec.headers['x-kept']).toBe('1');
    for (const name of ['connection', 'keep-alive', 'transfer-encoding', 'te', 'x-secret', 'host']) expect(rec.headers[name]).toBeUndefined();
    expect(rig.outcomes[0]).toMatchObject({ result: 'ok', status: 200, neverSent: false });
  });

  it('an absolute-form request target arrives as origin-form :path', async () => {
    const up = await h2Upstream();
    const rig = await proxy(() => up.address, {}, toH2);
    const { text } = await rawExchange(rig.port, 'GET http://a.example/p?q=1 HTTP/1.1\r\nHost: a.example\r\n\r\n', 300);
    expect(firstStatus(text)).toBe(200);
    expect([up.requests[0]?.path, up.requests[0]?.authority]).toEqual(['/p?q=1', 'a.example']);
  });

  it('a chunked (streamed) POST body arrives whole, without Transfer-Encoding', async () => {
    const up = await h2Upstream((stream, rec) => {
      stream.respond({ ':status': 200 });
      stream.end(`got ${rec.body.length}`);
    });
    const rig = await proxy(() => up.address, {}, toH2);
    const chunks = ['a', 'b', 'c', 'd'].map((c) => c.repeat(50_000));
    const r = await h1Request(rig.port, { method: 'POST', path: '/up', body: chunks, gapMs: 5 });
    expect([r.status, r.body]).toEqual([200, 'got 200000']);
    const rec = up.requests[0]!;
    expect([rec.method, rec.ended, rec.body === chunks.join('')]).toEqual(['POST', true, true]);
    expect([rec.headers['transfer-encoding'], rec.headers['content-length']]).toEqual([undefined, undefined]);
    expect(rig.outcomes[0]).toMatchObject({ result: 'ok', requestBytes: 200_000 });
  });

  it('a POST with Content-Length arrives whole with its content-length', async () => {
    const up = await h2Upstream();
    const rig = await proxy(() => up.address, {}, toH2);
    const r = await h1Request(rig.port, { method: 'POST', body: 'hello world' });
    expect(r.status).toBe(200);
    expect([up.requests[0]?.body, up.requests[0]?.headers['content-length']]).toEqual(['hello world', '11']);
  });

  it('the upstream response (status, headers, repeated headers, body) is relayed to the HTTP/1.1 client', async () => {
    const up = await h2Upstream((stream) => {
      stream.respond({ ':status': 201, 'x-up': 'a', 'set-cookie': ['a=1', 'b=2'], 'content-type': 'text/plain' });
      stream.write('cre');
      stream.end('ated');
    });
    const rig = await proxy(() => up.address, {}, toH2);
    const r = await h1Request(rig.port);
    expect([r.status, r.headers['x-up'], r.headers['set-cookie'], r.headers['content-type'], r.body]).toEqual([201, 'a', ['a=1', 'b=2'], 'text/plain', 'created']);
    expect(rig.outcomes[0]).toMatchObject({ result: 'ok', status: 201, responseBytes: 7 });
  });

  it('a trailers-only upstream response gives the HTTP/1.1 client its status and headers with an empty body', async () => {
    const up = await h2Upstream((stream) => stream.respond({ ':status': 404, 'x-a': '1' }, { endStream: true }));
    const rig = await proxy(() => up.address, {}, toH2);
    const r = await h1Request(rig.port);
    expect([r.status, r.headers['x-a'], r.body]).toEqual([404, '1', '']);
    expect(rig.outcomes[0]).toMatchObject({ result: 'ok', status: 404 });
    // The connection stays usable: the response was framed completely.
    const { text } = await rawExchange(rig.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', 300);
    expect(text.match(/^HTTP\/1\.1 404/gm)).toHaveLength(2);
  });

  it('upstream trailers are not sent to an HTTP/1.1 client, and the response completes', async () => {
    const up = await h2Upstream((stream) => {
      stream.respond({ ':status': 200 }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-trailer': 'v' }));
      stream.end('body');
    });
    const rig = await proxy(() => up.address, {}, toH2);
    const { text } = await rawExchange(rig.port, 'GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n', 300);
    expect(firstStatus(text)).toBe(200);
    expect(text.toLowerCase()).not.toContain('x-trailer');
    // Chunked: the body, then the last chunk with no trailer fields.
    expect(text).toMatch(/\r\n4\r\nbody\r\n0\r\n\r\n$/);
    expect(rig.outcomes[0]).toMatchObject({ result: 'ok', status: 200 });
  });

  it('connection refused → 502 and neverSent', async () => {
    const port = await deadPort();
    const rig = await proxy(() => `127.0.0.1:${port}`, {}, toH2);
    const r = await h1Request(rig.port);
    expect([r.status, r.body]).toEqual([502, 'upstream error: ECONNREFUSED']);
    expect(rig.outcomes[0]).toMatchObject({ result: 'upstream-error', status: 502, neverSent: true, errorCode: 'ECONNREFUSED' });
  });

  it('connection refused with respondWhenNeverSent: false → nothing written, result never-sent (the caller answers)', async () => {
    const port = await deadPort();
    const rig = await callerRig(`127.0.0.1:${port}`);
    const r = await h1Request(rig.port, { method: 'POST', body: 'kept' });
    expect([r.status, r.body]).toEqual([503, 'caller:never-sent']);
    expect(rig.outcomes).toEqual([expect.objectContaining({ result: 'never-sent', status: 0, neverSent: true, errorCode: 'ECONNREFUSED' })]);
  });
});

describe('h2 client → HTTP/1.1 upstream (upstreamH2: () => false)', () => {
  it('a streamed POST: method, url, Host from :authority and the whole body arrive; te is not sent; the response comes back', async () => {
    let version = '';
    const up = await upstream((req, res, rec) => {
      version = req.httpVersion;
      req.on('end', () => {
        res.writeHead(202, { 'x-up': 'b', 'content-type': 'text/plain' });
        res.end(`len ${rec.body.length}`);
      });
    });
    const rig = await proxy(() => up.address, {}, toH1);
    const session = h2Session(rig.port);
    const chunks = ['x', 'y', 'z'].map((c) => c.repeat(40_000));
    const r = await h2Request(
      session,
      { ':method': 'POST', ':path': '/x?y=1', ':authority': 'b.example', te: 'trailers', 'x-kept': 'k' },
      { body: chunks, gapMs: 5 },
    );
    expect([r.status, r.headers['x-up'], r.headers['content-type'], r.body]).toEqual([202, 'b', 'text/plain', 'len 120000']);
    const rec = up.requests[0]!;
    expect([version, rec.method, rec.url, rec.headers.host, rec.headers['x-kept'], rec.aborted]).toEqual(['1.1', 'POST', '/x?y=1', 'b.example', 'k', false]);
    expect(rec.body === chunks.join('')).toBe(true);
    expect(rec.headers.te).toBeUndefined();
    // No content-length from the client: streamed to the HTTP/1.1 upstream with chunked framing.
    expect([rec.headers['content-length'], rec.headers['transfer-encoding']]).toEqual([undefined, 'chunked']);
  });

  it('a bodiless GET arrives as GET with no body', async () => {
    const up = await upstream();
    const rig = await proxy(() => up.address, {}, toH1);
    const r = await h2Request(h2Session(rig.port), { ':path': '/g', ':authority': 'c.example' });
    expect([r.status, r.body]).toEqual([200, 'ok']);
    expect([up.requests[0]?.method, up.requests[0]?.url, up.requests[0]?.headers.host, up.requests[0]?.body]).toEqual(['GET', '/g', 'c.example', '']);
  });

  it('upstream Connection: close / Keep-Alive / Transfer-Encoding do not break the h2 response', async () => {
    const up = await upstream((_req, res) => {
      res.setHeader('connection', 'close');
      res.setHeader('keep-alive', 'timeout=5');
      res.setHeader('transfer-encoding', 'chunked');
      res.setHeader('x-up', 'c');
      res.write('a');
      res.end('b');
    });
    const rig = await proxy(() => up.address, {}, toH1);
    const session = h2Session(rig.port);
    for (let i = 0; i < 2; i++) {
      const r = await h2Request(session, { ':path': `/${i}`, ':authority': 'a.example' });
      expect([r.status, r.body, r.headers['x-up']]).toEqual([200, 'ab', 'c']);
      for (const name of ['connection', 'keep-alive', 'transfer-encoding']) expect(r.headers[name]).toBeUndefined();
    }
    // The upstream closed each connection; the h2 session to the client lived on.
    expect(up.connections).toBe(2);
    expect(rig.outcomes.map((o) => o.result)).toEqual(['ok', 'ok']);
  });
});

describe('h2c session pool', () => {
  /** An h2c upstream that holds every stream until `count` have arrived (bounded by `until`), then answers them all. */
  async function holdingUpstream(options: http2.ServerOptions = {}): Promise<{ up: H2Upstream; releaseWhen: (count: number) => Promise<void> }> {
    const held: [http2.ServerHttp2Stream, H2Recorded][] = [];
    let released = false;
    const answer = (stream: http2.ServerHttp2Stream, rec: H2Recorded): void => {
      stream.respond({ ':status': 200 });
      stream.end(rec.path);
    };
    const up = await h2Upstream((stream, rec) => {
      if (released) answer(stream, rec);
      else held.push([stream, rec]);
    }, options);
    return {
      up,
      async releaseWhen(count) {
        await until(() => held.length >= count, 3000);
        released = true;
        for (const [stream, rec] of held) answer(stream, rec);
      },
    };
  }

  it('maxStreamsPerSession 5: 12 concurrent requests use exactly 3 sessions; later requests reuse them', async () => {
    const { up, releaseWhen } = await holdingUpstream();
    const rig = await proxy(() => up.address, {}, { ...toH2, maxStreamsPerSession: 5 });
    const replies = Array.from({ length: 12 }, (_, i) => h1Request(rig.port, { path: `/r${i}` }));
    await releaseWhen(12);
    const got = await Promise.all(replies);
    expect(got.map((r) => [r.status, r.body])).toEqual(Array.from({ length: 12 }, (_, i) => [200, `/r${i}`]));
    expect(up.sessions).toBe(3);
    // All 12 streams are closed now; 12 more fit in the 3 sessions (15 slots): no new session.
    const again = await Promise.all(Array.from({ length: 12 }, (_, i) => h1Request(rig.port, { path: `/s${i}` })));
    expect(again.map((r) => r.status)).toEqual(Array(12).fill(200));
    expect(up.sessions).toBe(3);
  });

  it("the peer's SETTINGS_MAX_CONCURRENT_STREAMS (2) caps a session below maxStreamsPerSession (default 100)", async () => {
    const { up, releaseWhen } = await holdingUpstream({ settings: { maxConcurrentStreams: 2 } });
    const rig = await proxy(() => up.address, {}, toH2);
    // One at a time, each sent after the previous one reached the upstream: by then every session's SETTINGS have
    // arrived, so the peer's limit is known (before SETTINGS only our own cap applies).
    const replies: Promise<unknown>[] = [];
    for (let i = 0; i < 6; i++) {
      replies.push(h1Request(rig.port, { path: `/r${i}` }));
      await until(() => up.requests.length === i + 1, 3000);
    }
    await releaseWhen(6);
    expect((await Promise.all(replies)).map((r) => (r as { status: number }).status)).toEqual(Array(6).fill(200));
    // Ignoring the peer's limit would have put all 6 on one session (the third would then wait forever at the peer).
    expect(up.sessions).toBe(3);
  });

  it('h2 clients share the pool too: 8 streams from one client session, maxStreamsPerSession 4 → 2 upstream sessions', async () => {
    const { up, releaseWhen } = await holdingUpstream();
    const rig = await proxy(() => up.address, {}, { maxStreamsPerSession: 4 });
    const session = h2Session(rig.port);
    const replies = Array.from({ length: 8 }, (_, i) => h2Request(session, { ':path': `/h${i}`, ':authority': 'a.example' }));
    await releaseWhen(8);
    expect((await Promise.all(replies)).map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(up.sessions).toBe(2);
  });
});

describe('default upstreamH2: the upstream hears the client protocol (Knative)', () => {
  it('HTTP/1.1 client → HTTP/1.1 upstream; h2 client → h2c upstream', async () => {
    let h1Version = '';
    const h1 = await upstream((req: http.IncomingMessage, res: http.ServerResponse) => {
      h1Version = req.httpVersion;
      res.end('h1');
    });
    const rig1 = await proxy(() => h1.address);
    expect((await h1Request(rig1.port, { path: '/one' })).body).toBe('h1');
    expect([h1Version, h1.requests[0]?.url]).toEqual(['1.1', '/one']);

    const h2 = await h2Upstream();
    const rig2 = await proxy(() => h2.address);
    expect((await h2Request(h2Session(rig2.port), { ':path': '/two', ':authority': 'a.example' })).body).toBe('ok');
    expect([h2.requests[0]?.path, h2.sessions]).toEqual(['/two', 1]);
  });

  it("a call's upstreamH2 overrides the forwarder's choice for that request only", async () => {
    const h2 = await h2Upstream();
    const rig = await proxy(() => h2.address, { upstreamH2: true }, toH1);
    expect((await h1Request(rig.port, { path: '/per-call' })).status).toBe(200);
    expect(h2.requests.map((r) => r.path)).toEqual(['/per-call']);
  });
});

describe('h2c streams the upstream never processed are safe to send elsewhere (RFC 9113 §8.7)', () => {
  it('a stream reset with REFUSED_STREAM is never-sent, even on a connected session', async () => {
    const up = await h2Upstream((stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM));
    const rig = await callerRig(up.address);
    const r = await h1Request(rig.port, { method: 'POST', body: 'once' });
    expect([r.status, r.body]).toEqual([503, 'caller:never-sent']);
    expect(rig.outcomes).toEqual([expect.objectContaining({ result: 'never-sent', neverSent: true })]);
  });

  it('after a GOAWAY, the stream above its last stream id is never-sent while the one below it is answered', async () => {
    // Stream 1 is held; when stream 3 arrives the upstream says GOAWAY(last=1) (a draining queue-proxy), then answers 1.
    let first: http2.ServerHttp2Stream | undefined;
    const up = await h2Upstream((stream) => {
      if (first === undefined) {
        first = stream;
        return;
      }
      stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, first.id ?? 0);
      first.respond({ ':status': 200 });
      first.end('processed');
    });
    const rig = await callerRig(up.address);
    const a = h1Request(rig.port, { path: '/a' });
    await until(() => first !== undefined, 3000);
    const b = await h1Request(rig.port, { path: '/b' });
    expect([b.status, b.body]).toEqual([503, 'caller:never-sent']);
    expect([(await a).status, (await a).body]).toEqual([200, 'processed']);
    expect(up.sessions).toBe(1);
    expect(rig.outcomes.map((o) => [o.result, o.neverSent])).toEqual([
      ['never-sent', true],
      ['ok', false],
    ]);
  });

  it('a stream the upstream received and then reset (not REFUSED_STREAM) is not never-sent: 502, never sent elsewhere', async () => {
    const up = await h2Upstream((stream) => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    const rig = await callerRig(up.address);
    const r = await h1Request(rig.port, { method: 'POST', body: 'once' });
    expect(r.status).toBe(502);
    expect(rig.outcomes).toEqual([expect.objectContaining({ result: 'upstream-error', neverSent: false })]);
  });
});
