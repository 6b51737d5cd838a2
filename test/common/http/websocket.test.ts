import * as http from 'node:http';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createListener, type Listener } from '../../../common/http/server.js';
import { forwardUpgrade, type UpgradeCall } from '../../../common/http/websocket.js';
import { deadPort, firstStatus, rawExchange, until } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function echoServer(): Promise<{ port: number; wss: WebSocketServer; headers: http.IncomingHttpHeaders[] }> {
  const server = http.createServer((_q, res) => res.end('plain'));
  const wss = new WebSocketServer({ server });
  const headers: http.IncomingHttpHeaders[] = [];
  wss.on('connection', (ws, req) => {
    headers.push(req.headers);
    ws.on('message', (m, isBinary) => ws.send(m, { binary: isBinary }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, wss, headers };
}

async function proxyTo(upstream: string, extra: Partial<UpgradeCall> = {}): Promise<{ l: Listener; events: string[] }> {
  const events: string[] = [];
  const l = createListener({
    handler: (_q, res) => void res.end('http'),
    onUpgrade: (req, socket, head) =>
      forwardUpgrade(req, socket, head, {
        upstream,
        ...extra,
        onOpen: () => events.push('open'),
        onClose: () => events.push('close'),
      }),
  });
  await l.listen(0, '127.0.0.1');
  cleanups.push(() => l.close({ timeoutMs: 200 }));
  return { l, events };
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
  });
}

describe('WebSocket relay', () => {
  it('a rewrite that moves Host away (the activator: K-Original-Host) still sends a Host: the upstream address', async () => {
    const echo = await echoServer();
    const upstream = `127.0.0.1:${echo.port}`;
    const { l } = await proxyTo(upstream, {
      rewriteHeaders: (h) => {
        const host = h['host'];
        if (host !== undefined) h['k-original-host'] = host;
        delete h['host'];
      },
    });
    const ws = await open(`ws://127.0.0.1:${l.port}/`);
    cleanups.push(() => void ws.terminate());
    expect([echo.headers[0]?.host, echo.headers[0]?.['k-original-host']]).toEqual([upstream, `127.0.0.1:${l.port}`]);
  });

  it('echoes text and binary through the proxy, with headers rewritten', async () => {
    const up = await echoServer();
    const { l, events } = await proxyTo(`127.0.0.1:${up.port}`, {
      rewriteHeaders: (h) => {
        h['k-proxy-request'] = 'activator';
      },
    });
    const ws = await open(`ws://127.0.0.1:${l.port}/socket`);
    const got: string[] = [];
    ws.on('message', (m: Buffer) => got.push(m.toString()));
    ws.send('hello');
    ws.send(Buffer.from('bin'));
    await until(() => got.length === 2);
    expect(got).toEqual(['hello', 'bin']);
    expect(up.headers[0]!['k-proxy-request']).toBe('activator');
    expect(l.upgradedCount).toBe(1);
    ws.close(1000);
    await until(() => events.includes('close'));
    expect(events).toEqual(['open', 'close']);
    await until(() => l.upgradedCount === 0);
  });

  it('a large message survives both directions', async () => {
    const up = await echoServer();
    const { l } = await proxyTo(`127.0.0.1:${up.port}`);
    const ws = await open(`ws://127.0.0.1:${l.port}/`);
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    const back = new Promise<Buffer>((r) => ws.once('message', (m) => r(m as Buffer)));
    ws.send(big);
    expect((await back).equals(big)).toBe(true);
    ws.terminate();
  });

  it('upstream refusing gives 502 and onClose, without crashing', async () => {
    const port = await deadPort();
    const { l, events } = await proxyTo(`127.0.0.1:${port}`);
    await expect(open(`ws://127.0.0.1:${l.port}/`)).rejects.toThrow('status 502');
    await until(() => events.includes('close'));
    expect(events).toEqual(['close']);
  });

  it('an upstream that dies mid-connection closes the client; a client reset closes the upstream', async () => {
    const up = await echoServer();
    const { l, events } = await proxyTo(`127.0.0.1:${up.port}`);
    const ws = await open(`ws://127.0.0.1:${l.port}/`);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.on('error', () => undefined);
    for (const c of up.wss.clients) c.terminate();
    expect(await closed).toBe(1006);
    await until(() => events.includes('close'));

    const ws2 = await open(`ws://127.0.0.1:${l.port}/`);
    await until(() => up.wss.clients.size === 1);
    const serverSide = [...up.wss.clients][0]!;
    const serverClosed = new Promise<void>((r) => serverSide.once('close', () => r()));
    ws2.on('error', () => undefined);
    (ws2 as unknown as { _socket: net.Socket })._socket.destroy();
    await serverClosed;
    // The process is still alive and the listener still serves.
    expect((await fetch(`http://127.0.0.1:${l.port}/`)).status).toBe(200);
  });

  it('a non-101 answer is relayed as is', async () => {
    const server = http.createServer((_q, res) => {
      res.writeHead(403, { connection: 'close' });
      res.end('no');
    });
    server.on('upgrade', (_req, socket: net.Socket) => {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const { l } = await proxyTo(`127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    await expect(open(`ws://127.0.0.1:${l.port}/`)).rejects.toThrow('status 403');
  });

  it('bytes pipelined after an Upgrade the upstream answers without 101 never reach it (no request smuggled past the listener)', async () => {
    // An app that ignores Upgrade and keeps parsing the connection as HTTP/1.1, as Go's net/http does when a handler
    // answers without hijacking: every request line it reads is a request it serves.
    const seen: { url: string }[] = [];
    const server = net.createServer((socket) => {
      let buf = '';
      socket.on('error', () => undefined);
      socket.on('data', (c: Buffer) => {
        buf += c.toString('latin1');
        for (const m of buf.matchAll(/^(?:GET|POST) (\S+) HTTP\/1\.1\r\n/gm)) {
          seen.push({ url: m[1] ?? '' });
          socket.write('HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno');
        }
        buf = buf.slice(buf.lastIndexOf('\r\n\r\n') + 4);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const accepted = new Set<net.Socket>();
    server.on('connection', (s: net.Socket) => accepted.add(s));
    cleanups.push(() => new Promise<void>((r) => (accepted.forEach((s) => s.destroy()), server.close(() => r()))));
    const { l } = await proxyTo(`127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    const smuggled =
      'POST /smuggled HTTP/1.1\r\nHost: a\r\nK-Original-Host: evil\r\nK-Proxy-Request: activator\r\n' +
      'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n';
    const { text } = await rawExchange(l.port, `GET /up HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: foo\r\n\r\n${smuggled}`, 800);
    expect(firstStatus(text)).toBe(404);
    expect(seen.map((r) => r.url)).toEqual(['/up']);
  });

  it('after a 101 the bytes the client sent early are relayed, in order, before the rest', async () => {
    const server = http.createServer();
    server.on('upgrade', (_req, socket: net.Socket, head: Buffer) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n');
      if (head.length > 0) socket.write(head);
      socket.pipe(socket);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
    const { l } = await proxyTo(`127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    const { text } = await rawExchange(l.port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nearly-bytes', 500);
    expect(text).toMatch(/^HTTP\/1\.1 101 [^]*\r\n\r\nearly-bytes$/);
  });
});
