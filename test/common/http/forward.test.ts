import * as http from 'node:http';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { H } from '../../../common/http/headers.js';
import type { OutgoingHeaders } from '../../../common/http/types.js';
import { deadPort, firstStatus, rawExchange, startH2Upstream, trackedRigs, until } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});
const { upstream, proxy } = trackedRigs(cleanups);

describe('headers', () => {
  it('RFC 9110 §7.6.1: hop-by-hop and Connection-named headers are stripped both ways', async () => {
    const up = await upstream((_req, res) => {
      res.setHeader('x-internal', 'secret');
      res.setHeader('connection', 'X-Internal');
      res.setHeader('keep-alive', 'timeout=1');
      res.setHeader('proxy-authenticate', 'Basic');
      res.setHeader('x-app', 'kept');
      res.end('ok');
    });
    const rig = await proxy(() => up.address);
    const { text } = await rawExchange(
      rig.port,
      'GET /p?q=1 HTTP/1.1\r\nHost: a.example\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\nKeep-Alive: timeout=5\r\n' +
        'TE: trailers\r\nProxy-Authorization: Basic eA==\r\nUpgrade-Insecure-Requests: 1\r\nX-Kept: 1\r\n\r\n',
      300,
    );
    expect(firstStatus(text)).toBe(200);
    const seen = up.requests[0]!.headers;
    expect(seen['x-secret']).toBeUndefined();
    expect(seen['keep-alive']).toBeUndefined();
    expect(seen.te).toBeUndefined();
    expect(seen['proxy-authorization']).toBeUndefined();
    expect(seen['x-kept']).toBe('1');
    expect(seen.host).toBe('a.example');
    expect(up.requests[0]!.url).toBe('/p?q=1');
    const lower = text.toLowerCase();
    expect(lower).not.toContain('x-internal');
    expect(lower).not.toContain('proxy-authenticate');
    expect(lower).not.toContain('timeout=1');
    expect(lower).toContain('x-app: kept');
  });

  it('§a3 step 7: Forwarded is synthesised from X-Forwarded-*', async () => {
    const up = await upstream();
    const rig = await proxy(() => up.address);
    await fetch(`http://127.0.0.1:${rig.port}/`, { headers: { 'x-forwarded-for': '1.2.3.4, ::1', 'x-forwarded-proto': 'https' } });
    expect(up.requests[0]!.headers.forwarded).toBe('for=1.2.3.4;proto=https, for="[::1]"');
    // The proxy's peer is appended to X-Forwarded-For after the shim read it (Go ReverseProxy behaviour).
    expect(up.requests[0]!.headers['x-forwarded-for']).toBe('1.2.3.4, ::1, 127.0.0.1');
  });

  it('rewriteHeaders edits the upstream request (queue-proxy: K-Original-Host, internal headers)', async () => {
    const up = await upstream();
    function qpRewrite(h: OutgoingHeaders): void {
      const orig = h[H.originalHost];
      if (typeof orig === 'string') {
        h.host = orig;
        delete h[H.originalHost];
      }
      delete h[H.servingRevision];
    }
    const rig = await proxy(() => up.address, { rewriteHeaders: qpRewrite });
    await fetch(`http://127.0.0.1:${rig.port}/`, { headers: { 'k-original-host': 'app.example', 'knative-serving-revision': 'r1' } });
    expect(up.requests[0]!.headers.host).toBe('app.example');
    expect(up.requests[0]!.headers['k-original-host']).toBeUndefined();
    expect(up.requests[0]!.headers['knative-serving-revision']).toBeUndefined();
  });

  it('onResponseStart sees the status', async () => {
    const up = await upstream((_q, res) => {
      res.statusCode = 201;
      res.end();
    });
    const seen: number[] = [];
    const rig = await proxy(() => up.address, { onResponseStart: (s) => seen.push(s) });
    const r = await fetch(`http://127.0.0.1:${rig.port}/`);
    expect(r.status).toBe(201);
    expect(seen).toEqual([201]);
    expect(rig.outcomes[0]).toMatchObject({ result: 'ok', status: 201, attempts: 1 });
  });
});

describe('pools', () => {
  it('reuses one keep-alive connection per upstream; closeUpstream drops it and a new one is made', async () => {
    const up = await upstream();
    const rig = await proxy(() => up.address);
    for (let i = 0; i < 5; i++) expect((await fetch(`http://127.0.0.1:${rig.port}/`)).status).toBe(200);
    expect(up.connections).toBe(1);
    await rig.forwarder.closeUpstream(up.address);
    expect((await fetch(`http://127.0.0.1:${rig.port}/`)).status).toBe(200);
    expect(up.connections).toBe(2);
  });
});

describe('errors', () => {
  it.each([
    ['HTTP/1.1 upstream', false],
    ['h2c upstream', true],
  ])('a request the proxy cannot form for the %s gets 400 and result unforwardable, never an upstream error', async (_name, h2) => {
    const up = await upstream();
    const h2up = await startH2Upstream();
    cleanups.push(() => h2up.close());
    const rig = await proxy(() => (h2 ? h2up.address : up.address), {
      // A header name no HTTP version can carry: undici and node:http2 refuse it while forming the request.
      rewriteHeaders: (h) => void (h['bad name'] = 'v'),
    }, { upstreamH2: () => h2 });
    const { text } = await rawExchange(rig.port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(firstStatus(text)).toBe(400);
    expect(text).toMatch(/request cannot be forwarded: (?:UND_ERR_INVALID_ARG|ERR_INVALID_HTTP_TOKEN)/);
    expect(rig.outcomes.map((o) => [o.result, o.status, o.neverSent])).toEqual([['unforwardable', 400, true]]);
    expect(up.requests.length + h2up.requests.length).toBe(0);
  });

  it('§a3 step 10: connection refused gives 502 with a short text', async () => {
    const port = await deadPort();
    const rig = await proxy(() => `127.0.0.1:${port}`);
    const r = await fetch(`http://127.0.0.1:${rig.port}/`);
    expect(r.status).toBe(502);
    expect(await r.text()).toBe('upstream error: ECONNREFUSED');
    expect(rig.outcomes[0]).toMatchObject({ result: 'upstream-error', status: 502, neverSent: true, errorCode: 'ECONNREFUSED' });
  });

  it('respondWhenNeverSent=false leaves the response (and the body) to the caller for another upstream', async () => {
    const up = await upstream((req, res) => {
      let b = '';
      req.on('data', (c: Buffer) => (b += c.toString()));
      req.on('end', () => res.end(`got ${b}`));
    });
    const port = await deadPort();
    const rig = await proxy(() => up.address);
    // Replace the handler: first a dead pod, then a live one (what the activator does).
    await rig.close();
    const { createForwarder } = await import('../../../common/http/forward.js');
    const { createListener } = await import('../../../common/http/server.js');
    const fw = createForwarder();
    const results: string[] = [];
    const l = createListener({
      handler: async (req, res, startMs) => {
        const a = await fw.forward(req, res, { upstream: `127.0.0.1:${port}`, startMs, respondWhenNeverSent: false });
        results.push(a.result);
        const b = await fw.forward(req, res, { upstream: up.address, startMs });
        results.push(b.result);
      },
    });
    cleanups.push(async () => {
      await l.close({ timeoutMs: 500 });
      await fw.close();
    });
    const lp = await l.listen(0, '127.0.0.1');
    const r = await fetch(`http://127.0.0.1:${lp}/`, { method: 'POST', body: 'payload' });
    expect(await r.text()).toBe('got payload');
    expect(results).toEqual(['never-sent', 'ok']);
  });

  it('client abort aborts the upstream request', async () => {
    let upstreamClosed = false;
    const up = await upstream((_req, res) => {
      res.on('close', () => (upstreamClosed = true));
    });
    const rig = await proxy(() => up.address);
    const sock = net.connect(rig.port, '127.0.0.1');
    sock.on('error', () => undefined);
    sock.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => up.requests.length === 1);
    sock.destroy();
    await until(() => upstreamClosed);
    await until(() => rig.outcomes.length === 1);
    expect(rig.outcomes[0]!.result).toBe('client-gone');
  });

  it('an upstream that dies mid-response cuts the client response (no silent truncation)', async () => {
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const rig = await proxy(() => up.address);
    const { text, closed } = await rawExchange(rig.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 1000);
    expect(firstStatus(text)).toBe(200);
    expect(closed).toBe(true);
    expect(rig.outcomes[0]!.result).toBe('upstream-error');
  });
});

describe('§a8 timeouts', () => {
  it('response-start timeout: 504 "request timeout" when nothing was written', async () => {
    const up = await upstream((_q, res) => {
      const t = setTimeout(() => res.end('late'), 2000);
      res.on('close', () => clearTimeout(t));
    });
    const rig = await proxy(() => up.address, { responseStartTimeoutMs: 100 });
    const t0 = Date.now();
    const r = await fetch(`http://127.0.0.1:${rig.port}/`);
    expect(r.status).toBe(504);
    expect(await r.text()).toBe('request timeout');
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(rig.outcomes[0]).toMatchObject({ result: 'timeout', status: 504 });
  });

  it('total timeout before the first byte gives 504 with the configured body (activator)', async () => {
    const up = await upstream(() => undefined);
    const rig = await proxy(() => up.address, { totalTimeoutMs: 100 }, { timeoutBody: 'activator request timeout' });
    const r = await fetch(`http://127.0.0.1:${rig.port}/`);
    expect(r.status).toBe(504);
    expect(await r.text()).toBe('activator request timeout');
  });

  it('total timeout after the first byte: text appended, stream cut', async () => {
    const up = await upstream((_q, res) => {
      res.writeHead(200);
      res.write('first;');
    });
    const rig = await proxy(() => up.address, { totalTimeoutMs: 150, responseStartTimeoutMs: 100 });
    const { text, closed } = await rawExchange(rig.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 2000);
    expect(firstStatus(text)).toBe(200);
    expect(text).toContain('first;');
    expect(text).toContain('request timeout');
    expect(text).not.toMatch(/\r\n0\r\n\r\n$/); // no terminating chunk: the client sees a cut stream
    expect(closed).toBe(true);
    expect(rig.outcomes[0]!.result).toBe('timeout');
  });

  it('response-start timeout does not fire once the response started', async () => {
    const up = await upstream((_q, res) => {
      res.writeHead(200);
      res.write('a');
      setTimeout(() => res.end('b'), 900);
    });
    const rig = await proxy(() => up.address, { responseStartTimeoutMs: 300 });
    const r = await fetch(`http://127.0.0.1:${rig.port}/`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('ab');
  });

  it('idle timeout cuts a stream that stops writing, but not one that keeps writing', async () => {
    const up = await upstream((req, res) => {
      res.writeHead(200);
      res.write('start;');
      let n = 0;
      const gap = req.url === '/slow' ? 1200 : 30;
      const t = setInterval(() => {
        res.write(`${n};`);
        if (++n === 6) {
          clearInterval(t);
          res.end();
        }
      }, gap);
      res.on('close', () => clearInterval(t));
    });
    const rig = await proxy(() => up.address, { idleTimeoutMs: 500 });
    const ok = await fetch(`http://127.0.0.1:${rig.port}/fast`);
    expect(await ok.text()).toBe('start;0;1;2;3;4;5;');
    const { text, closed } = await rawExchange(rig.port, 'GET /slow HTTP/1.1\r\nHost: a\r\n\r\n', 3000);
    expect(firstStatus(text)).toBe(200);
    expect(text).toContain('start;');
    expect(text).not.toContain('1;');
    expect(text).toContain('request timeout');
    expect(closed).toBe(true);
  });

  it('time before forward() (queued) counts: startMs in the past shortens the total timeout', async () => {
    const up = await upstream(() => undefined);
    const { createForwarder } = await import('../../../common/http/forward.js');
    const { createListener } = await import('../../../common/http/server.js');
    const fw = createForwarder();
    const l = createListener({
      handler: async (req, res, startMs) => {
        await fw.forward(req, res, { upstream: up.address, startMs: startMs - 10_000, totalTimeoutMs: 10_050 });
      },
    });
    cleanups.push(async () => {
      await l.close({ timeoutMs: 500 });
      await fw.close();
    });
    const port = await l.listen(0, '127.0.0.1');
    const t0 = Date.now();
    const r = await fetch(`http://127.0.0.1:${port}/`);
    expect(r.status).toBe(504);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe('§a8 timeouts on the forwarder clock', () => {
  it('each request still times out at exactly its own deadline: in order, out of order, and after others finished', async () => {
    const { FakeClock } = await import('../../support/fake-clock.js');
    const { createForwarder } = await import('../../../common/http/forward.js');
    const { createListener } = await import('../../../common/http/server.js');
    const held: http.ServerResponse[] = [];
    const up = await upstream((_q, res) => {
      held.push(res);
    });
    const clock = new FakeClock(1_000_000);
    const fw = createForwarder({ clock });
    const timedOutAt: Record<string, number> = {};
    let started = 0;
    const l = createListener({
      clock,
      handler: async (req, res, startMs) => {
        const total = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('t'));
        started++;
        const out = await fw.forward(req, res, { upstream: up.address, startMs, totalTimeoutMs: total });
        if (out.result === 'timeout') timedOutAt[req.url ?? ''] = clock.now() - startMs;
      },
    });
    cleanups.push(async () => {
      for (const r of held) r.destroy();
      await l.close({ timeoutMs: 500 });
      await fw.close();
    });
    const port = await l.listen(0, '127.0.0.1');
    const send = (t: number, name: string): Promise<number> => fetch(`http://127.0.0.1:${port}/?t=${t}&n=${name}`).then((r) => r.status);
    // a: 1000 ms, b: 3000 ms, c: 500 ms (due before both earlier requests), d answered in time.
    const a = send(1000, 'a');
    await until(() => started === 1 && held.length === 1);
    const b = send(3000, 'b');
    await until(() => started === 2 && held.length === 2);
    const c = send(500, 'c');
    await until(() => started === 3 && held.length === 3);
    const d = send(4000, 'd');
    await until(() => started === 4 && held.length === 4);
    held[3]?.end('ok');
    expect(await d).toBe(200);
    clock.advance(499);
    await new Promise((r) => setTimeout(r, 20));
    expect(Object.keys(timedOutAt)).toEqual([]);
    clock.advance(1);
    expect(await c).toBe(504);
    clock.advance(499);
    await new Promise((r) => setTimeout(r, 20));
    expect(Object.keys(timedOutAt)).toEqual(['/?t=500&n=c']);
    clock.advance(1);
    expect(await a).toBe(504);
    clock.advance(2000);
    expect(await b).toBe(504);
    expect(timedOutAt).toEqual({ '/?t=500&n=c': 500, '/?t=1000&n=a': 1000, '/?t=3000&n=b': 3000 });
  });
});

describe('retries (off unless configured)', () => {
  it('no retries by default (Knative)', async () => {
    const port = await deadPort();
    const rig = await proxy(() => `127.0.0.1:${port}`);
    await fetch(`http://127.0.0.1:${rig.port}/`);
    expect(rig.outcomes[0]!.attempts).toBe(1);
    expect(rig.forwarder.counters.retriesAttempted).toBe(0);
  });

  it('GET refused is retried and succeeds once the upstream is up', async () => {
    const port = await deadPort();
    const late = http.createServer((_q, res) => res.end('late ok'));
    cleanups.push(() => new Promise<void>((r) => late.close(() => r())));
    // The jitter source runs just before the backoff timer is set: bring the upstream up there (listen binds synchronously).
    const random = (): number => {
      if (!late.listening) late.listen(port, '127.0.0.1');
      return 0.5;
    };
    const rig = await proxy(() => `127.0.0.1:${port}`, {}, { retry: { maxRetries: 2 }, random });
    const r = await fetch(`http://127.0.0.1:${rig.port}/`);
    expect(await r.text()).toBe('late ok');
    expect(rig.outcomes[0]).toMatchObject({ result: 'ok', attempts: 2 });
    expect(rig.forwarder.counters.retriesAttempted).toBe(1);
  });

  it('gives up after maxRetries', async () => {
    const port = await deadPort();
    const rig = await proxy(() => `127.0.0.1:${port}`, {}, { retry: { maxRetries: 2 }, random: () => 0 });
    const r = await fetch(`http://127.0.0.1:${rig.port}/`);
    expect(r.status).toBe(502);
    expect(rig.outcomes[0]!.attempts).toBe(3);
    expect(rig.forwarder.counters.retriesAttempted).toBe(2);
  });

  it('POST with a streamed (chunked) body is never retried', async () => {
    const port = await deadPort();
    const rig = await proxy(() => `127.0.0.1:${port}`, {}, { retry: { maxRetries: 2 }, random: () => 0 });
    const { text } = await rawExchange(rig.port, 'POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 1000);
    expect(firstStatus(text)).toBe(502);
    expect(rig.outcomes[0]!.attempts).toBe(1);
  });

  it('POST whose small body is held is retried only because it never reached the upstream', async () => {
    const port = await deadPort();
    const rig = await proxy(() => `127.0.0.1:${port}`, {}, { retry: { maxRetries: 1 }, random: () => 0 });
    await fetch(`http://127.0.0.1:${rig.port}/`, { method: 'POST', body: 'x'.repeat(100) });
    expect(rig.outcomes[0]!.attempts).toBe(2);
  });

  it('a POST the upstream received is never duplicated, even when the upstream then resets', async () => {
    const up = await upstream((req) => req.socket.destroy());
    const rig = await proxy(() => up.address, {}, { retry: { maxRetries: 2 }, random: () => 0 });
    const r = await fetch(`http://127.0.0.1:${rig.port}/`, { method: 'POST', body: 'once' });
    expect(r.status).toBe(502);
    expect(up.requests.length).toBe(1);
    expect(rig.outcomes[0]!.attempts).toBe(1);
  });

  it('the budget limits retries and is counted', async () => {
    const port = await deadPort();
    const rig = await proxy(
      () => `127.0.0.1:${port}`,
      {},
      { retry: { maxRetries: 2, budgetRatio: 0, budgetMinPerSecond: 0.2, budgetWindowMs: 10_000 }, random: () => 0 },
    );
    for (let i = 0; i < 3; i++) await fetch(`http://127.0.0.1:${rig.port}/`);
    // floor = 0.2/s × 10 s = 2 retries in the window, whatever the traffic.
    expect(rig.forwarder.counters.retriesAttempted).toBe(2);
    expect(rig.forwarder.counters.retryBudgetExhausted).toBe(2);
  });
});

describe('streaming with backpressure', () => {
  it('a slow client holds back the upstream (no whole-body buffering of the response)', async () => {
    let written = 0;
    let stalled = false;
    const chunk = Buffer.alloc(64 * 1024, 97);
    const up = await upstream((_q, res) => {
      res.writeHead(200);
      const pump = (): void => {
        while (written < 64 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) {
            stalled = true;
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const rig = await proxy(() => up.address);
    const sock = net.connect(rig.port, '127.0.0.1');
    sock.on('error', () => undefined);
    let received = 0;
    sock.on('data', (c: Buffer) => {
      received += c.length;
      sock.pause(); // read one chunk, then stop reading
    });
    sock.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => received > 0 && stalled);
    await new Promise((r) => setTimeout(r, 300));
    // Socket buffers on the way are a few MiB at most; 64 MiB would be written if the proxy buffered.
    expect(written).toBeLessThan(16 * 1024 * 1024);
    sock.resume();
    sock.removeAllListeners('data');
    sock.on('data', (c: Buffer) => (received += c.length));
    await until(() => received >= 64 * 1024 * 1024, 10_000);
    sock.destroy();
  });

  it('a slow upstream holds back the client upload (no whole-body buffering of the request)', async () => {
    let upstreamReq: http.IncomingMessage | undefined;
    const up = await upstream((req, res) => {
      upstreamReq = req;
      req.pause();
      req.on('end', () => res.end('done'));
    });
    const rig = await proxy(() => up.address);
    const client = http.request({ port: rig.port, host: '127.0.0.1', method: 'POST', path: '/', headers: { 'transfer-encoding': 'chunked' } });
    client.on('error', () => undefined);
    const chunk = Buffer.alloc(64 * 1024, 98);
    let sent = 0;
    let blocked = false;
    const total = 64 * 1024 * 1024;
    const pump = (): void => {
      while (sent < total) {
        sent += chunk.length;
        if (!client.write(chunk)) {
          blocked = true;
          client.once('drain', pump);
          return;
        }
      }
      client.end();
    };
    pump();
    await until(() => upstreamReq !== undefined && blocked);
    await new Promise((r) => setTimeout(r, 300));
    expect(sent).toBeLessThan(16 * 1024 * 1024);
    const done = new Promise<number>((resolve) => client.on('response', (r) => resolve(r.statusCode ?? 0)));
    upstreamReq!.resume();
    expect(await done).toBe(200);
    expect(rig.outcomes[0]!.requestBytes).toBe(total);
  });
});

describe('body limit', () => {
  it('a streamed body over maxBodyBytes gets 413 and the upstream request is aborted', async () => {
    const up = await upstream((req, res) => {
      req.on('end', () => res.end('complete'));
    });
    const rig = await proxy(() => up.address, {}, {}, { maxBodyBytes: 1000 });
    const body = `${'x'.repeat(800)}`;
    const { text } = await rawExchange(
      rig.port,
      `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n${body}\r\n320\r\n${body}\r\n0\r\n\r\n`,
      1000,
    );
    expect(firstStatus(text)).toBe(413);
    expect(text).not.toContain('complete');
    await until(() => rig.outcomes.length === 1);
    expect(rig.outcomes[0]!.result).toBe('body-too-large');
  });
});
