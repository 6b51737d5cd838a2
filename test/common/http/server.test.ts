import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createListener, type Listener } from '../../../common/http/server.js';
import { firstStatus, rawExchange, trackedRigs, until } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});
const { upstream, proxy } = trackedRigs(cleanups);
async function listener(opts: Parameters<typeof createListener>[0]): Promise<Listener> {
  const l = createListener(opts);
  await l.listen(0, '127.0.0.1');
  cleanups.push(() => l.close({ timeoutMs: 500 }));
  return l;
}

const R = 'GET / HTTP/1.1\r\nHost: a\r\n';
const manyHeaders = Array.from({ length: 150 }, (_, i) => `X-H${i}: v\r\n`).join('');

// reliability.md §3 "Measured raw-socket corpus" and §4 item 4 (smuggling-corpus), plus llhttp error cases.
// bodyLevel: the error is in the body, which is streamed (never buffered), so the upstream may see the request head;
// it must then see the request aborted, never completed, and never a smuggled second request.
const corpus: { name: string; raw: string; want: number[]; bodyLevel?: boolean }[] = [
  { name: 'CL + TE', raw: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', want: [400] },
  { name: 'TE twice', raw: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', want: [400] },
  { name: 'TE chunked, identity', raw: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n', want: [400] },
  { name: 'TE xchunked', raw: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n', want: [400] },
  { name: 'obs-fold TE', raw: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n', want: [400] },
  { name: 'duplicate CL (equal)', raw: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc', want: [400] },
  { name: 'duplicate CL (different)', raw: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd', want: [400] },
  { name: 'space before colon', raw: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 3\r\n\r\nabc', want: [400] },
  { name: 'space before header name', raw: 'GET / HTTP/1.1\r\n Host: a\r\n\r\n', want: [400] },
  { name: 'CL -1', raw: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n', want: [400] },
  { name: 'CL +2', raw: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +2\r\n\r\nab', want: [400] },
  { name: 'bare LF line endings', raw: 'GET / HTTP/1.1\nHost: a\n\n', want: [400] },
  { name: 'CR LF CR X ends headers (CVE-2025-23167)', raw: 'GET / HTTP/1.1\r\nHost: a\r\n\rX: y\r\n\r\n', want: [400] },
  { name: 'chunk-size overflow', raw: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\nx\r\n0\r\n\r\n', want: [400], bodyLevel: true },
  { name: 'bare LF in chunk', raw: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n', want: [400], bodyLevel: true },
  { name: 'missing Host (HTTP/1.1)', raw: 'GET / HTTP/1.1\r\nX: y\r\n\r\n', want: [400] },
  { name: 'NUL in header value', raw: 'GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n', want: [400] },
  { name: 'space in URL', raw: 'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n', want: [400] },
  { name: 'HTTP/1.0 + chunked', raw: 'POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', want: [400] },
  { name: 'duplicate Host', raw: 'GET / HTTP/1.1\r\nHost: a\r\nHost: evil\r\n\r\n', want: [400] },
  { name: 'absolute-form host differs from Host', raw: 'GET http://evil/x HTTP/1.1\r\nHost: a\r\n\r\n', want: [400] },
  { name: 'Host with userinfo a:80@evil', raw: 'GET / HTTP/1.1\r\nHost: a:80@evil\r\n\r\n', want: [400] },
  { name: 'Host with a slash', raw: 'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n', want: [400] },
  { name: 'CONNECT authority-form', raw: 'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n', want: [400] },
  { name: 'oversized header (20 KB)', raw: `${R}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`, want: [431] },
  { name: 'too many headers (150 > 100)', raw: `${R}${manyHeaders}\r\n`, want: [431] },
  { name: 'declared body over the limit', raw: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n', want: [413] },
];

describe('smuggling corpus (reliability §4 item 4): refused before the handler, upstream sees nothing', () => {
  it.each(corpus)('$name → $want', async ({ raw, want, bodyLevel }) => {
    const up = await upstream();
    const rig = await proxy(() => up.address, {}, {}, { maxBodyBytes: 1000 });
    const { text, closed } = await rawExchange(rig.port, raw, 1000);
    const status = firstStatus(text);
    expect(want.includes(status) || (status === 0 && closed)).toBe(true);
    // Whatever came back, the connection is not reused for a smuggled second request.
    expect(closed).toBe(true);
    if (bodyLevel) {
      await until(() => up.requests.every((r) => r.aborted));
      expect(up.requests.length).toBeLessThanOrEqual(1);
    } else {
      expect(up.requests.length).toBe(0);
      expect(rig.outcomes.length).toBe(0);
    }
  });

  it('accepts a matching absolute-form URL and forwards it in origin-form', async () => {
    const up = await upstream();
    const rig = await proxy(() => up.address);
    const { text } = await rawExchange(rig.port, 'GET http://A.example:80/p?q HTTP/1.1\r\nHost: a.example:80\r\nConnection: close\r\n\r\n');
    expect(firstStatus(text)).toBe(200);
    expect(up.requests[0]!.url).toBe('/p?q');
  });

  it('a __proto__ header does not crash anything', async () => {
    const up = await upstream();
    const rig = await proxy(() => up.address);
    const { text } = await rawExchange(rig.port, 'GET / HTTP/1.1\r\nHost: a\r\n__proto__: {"x":1}\r\nConnection: close\r\n\r\n');
    expect(firstStatus(text)).toBe(200);
    expect(up.requests.length).toBe(1);
  });

  it('a handler that throws gives 500 and the listener keeps serving', async () => {
    let n = 0;
    const l = await listener({
      handler: () => {
        if (n++ === 0) throw new Error('boom');
        return Promise.reject(new Error('async boom'));
      },
      onError: () => undefined,
    });
    expect((await fetch(`http://127.0.0.1:${l.port}/`)).status).toBe(500);
    expect((await fetch(`http://127.0.0.1:${l.port}/`)).status).toBe(500);
  });
});

describe('slowloris', () => {
  it('slow-header clients get 408/close within headersTimeout + interval while normal traffic is served', async () => {
    const headersTimeoutMs = 1000;
    const l = await listener({
      handler: (_q, res) => void res.end('ok'),
      headersTimeoutMs,
      checkIntervalMs: 100,
    });
    const slow: net.Socket[] = [];
    const closedAt: number[] = [];
    const replies: string[] = [];
    const t0 = Date.now();
    for (let i = 0; i < 100; i++) {
      const s = net.connect(l.port, '127.0.0.1');
      s.on('error', () => undefined);
      s.on('data', (c: Buffer) => replies.push(c.toString('latin1')));
      s.on('close', () => closedAt.push(Date.now() - t0));
      s.write('GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ');
      slow.push(s);
    }
    cleanups.push(() => slow.forEach((s) => s.destroy()));
    const drip = setInterval(() => slow.forEach((s) => s.writable && s.write('a')), 50);
    cleanups.push(() => clearInterval(drip));
    // Normal traffic is served while every slow client is still connected (nothing starves it).
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`http://127.0.0.1:${l.port}/`);
      expect(await r.text()).toBe('ok');
    }
    expect(closedAt.length).toBe(0);
    await until(() => closedAt.length === 100, 4000);
    expect(Math.min(...closedAt)).toBeGreaterThanOrEqual(headersTimeoutMs - 50);
    expect(Math.max(...closedAt)).toBeLessThan(headersTimeoutMs + 100 + 900); // timeout + check interval + slack
    expect(replies.every((r) => r.startsWith('HTTP/1.1 408'))).toBe(true);
  });

  it('a connection that never sends a byte is closed after the header timeout', async () => {
    const l = await listener({ handler: (_q, res) => void res.end('ok'), headersTimeoutMs: 200 });
    const { closed } = await rawExchange(l.port, '', 1500);
    expect(closed).toBe(true);
  });
});

describe('one port, HTTP/1.1 and h2c', () => {
  it('serves both protocols with the same handler', async () => {
    const l = await listener({ handler: (req, res) => void res.end(`v${req.httpVersionMajor} ${req.url}`) });
    expect(await (await fetch(`http://127.0.0.1:${l.port}/one`)).text()).toBe('v1 /one');
    const session = http2.connect(`http://127.0.0.1:${l.port}`);
    cleanups.push(() => void session.destroy());
    const body = await new Promise<string>((resolve, reject) => {
      const st = session.request({ ':path': '/two' });
      let d = '';
      st.on('data', (c: Buffer) => (d += c.toString()));
      st.on('end', () => resolve(d));
      st.on('error', reject);
    });
    expect(body).toBe('v2 /two');
  });

  it('h2c: a bad :authority is refused before the handler', async () => {
    let ran = false;
    const l = await listener({ handler: (_q, res) => {
        ran = true;
        res.end();
      } });
    const session = http2.connect(`http://127.0.0.1:${l.port}`);
    cleanups.push(() => void session.destroy());
    const status = await new Promise<number>((resolve, reject) => {
      const st = session.request({ ':path': '/', ':authority': 'a:80@evil' });
      st.on('response', (h) => resolve(Number(h[':status'])));
      st.on('error', reject);
      st.resume();
    });
    expect(status).toBe(400);
    expect(ran).toBe(false);
  });
});

describe('h2c limits', () => {
  it('a streamed h2 body over maxBodyBytes gets 413 and the handler sees the stream fail', async () => {
    const errors: string[] = [];
    const l = await listener({
      maxBodyBytes: 1000,
      handler: (req, res) => {
        req.on('error', (e: Error & { code?: string }) => errors.push(e.code ?? ''));
        req.on('end', () => res.end('complete'));
        req.resume();
      },
    });
    const session = http2.connect(`http://127.0.0.1:${l.port}`);
    cleanups.push(() => void session.destroy());
    const status = await new Promise<number>((resolve, reject) => {
      const st = session.request({ ':path': '/', ':method': 'POST' });
      st.on('response', (h) => resolve(Number(h[':status'])));
      st.on('error', reject);
      st.resume();
      st.write(Buffer.alloc(800));
      st.end(Buffer.alloc(800));
    });
    expect(status).toBe(413);
    await until(() => errors.length === 1);
    expect(errors).toEqual(['BODY_TOO_LARGE']);
  });
});

describe('drain (Envoy drain-close, §a7)', () => {
  it('HTTP/1: in-flight responses carry Connection: close after startDrain; close() waits for them', async () => {
    let release: (() => void) | undefined;
    const l = createListener({
      handler: (_q, res) => {
        release = () => res.end('done');
      },
    });
    const port = await l.listen(0, '127.0.0.1');
    cleanups.push(() => l.close({ timeoutMs: 500 }));
    const resP = new Promise<http.IncomingMessage>((resolve) => http.get({ port, host: '127.0.0.1', path: '/', agent: new http.Agent({ keepAlive: true }) }, resolve));
    await until(() => release !== undefined);
    l.startDrain();
    const closed = l.close();
    let closeDone = false;
    void closed.then(() => (closeDone = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(closeDone).toBe(false);
    expect(l.inFlight).toBe(1);
    release!();
    const res = await resP;
    expect(res.headers.connection).toBe('close');
    res.resume();
    await closed;
    expect(l.inFlight).toBe(0);
  });

  it('HTTP/1: an idle keep-alive socket stays open after startDrain; a request on it is served with Connection: close (no reuse race, as Go keeps it through §a7\'s quiet period)', async () => {
    const l = await listener({ handler: (_q, res) => void res.end('ok') });
    const s = net.connect(l.port, '127.0.0.1');
    cleanups.push(() => void s.destroy());
    let text = '';
    let closed = false;
    s.on('data', (c: Buffer) => (text += c.toString('latin1')));
    s.on('close', () => (closed = true));
    s.on('error', () => undefined);
    s.write('GET /1 HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => text.includes('\r\n\r\nok'));
    expect(text.toLowerCase()).toContain('connection: keep-alive');
    l.startDrain();
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(false);
    text = '';
    s.write('GET /2 HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => closed);
    expect(firstStatus(text)).toBe(200);
    expect(text.toLowerCase()).toContain('connection: close');
  });

  it('HTTP/2: startDrain sends GOAWAY and in-flight streams complete', async () => {
    let release: (() => void) | undefined;
    const l = await listener({
      handler: (_q, res) => {
        release = () => res.end('done');
      },
    });
    const session = http2.connect(`http://127.0.0.1:${l.port}`);
    cleanups.push(() => void session.destroy());
    let goaway = false;
    session.on('goaway', () => (goaway = true));
    const body = new Promise<string>((resolve, reject) => {
      const st = session.request({ ':path': '/' });
      let d = '';
      st.on('data', (c: Buffer) => (d += c.toString()));
      st.on('end', () => resolve(d));
      st.on('error', reject);
    });
    await until(() => release !== undefined);
    l.startDrain();
    await until(() => goaway);
    release!();
    expect(await body).toBe('done');
  });

  it('close() destroys upgraded sockets after the grace period', async () => {
    const l = createListener({
      handler: (_q, res) => void res.end(),
      onUpgrade: (_req, socket) => socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n'),
      upgradeGraceMs: 150,
    });
    const port = await l.listen(0, '127.0.0.1');
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    let closed = false;
    s.on('close', () => (closed = true));
    s.resume();
    s.write('GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n');
    await until(() => l.upgradedCount === 1);
    const t0 = Date.now();
    await l.close();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    await until(() => closed);
    expect(l.upgradedCount).toBe(0);
  });
});
