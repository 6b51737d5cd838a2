/**
 * Which protocol the app hears from the queue-proxy. Knative's queue-proxy keeps the client's protocol (h2c stays h2c,
 * e.g. gRPC). Tide only: the activator may carry an HTTP/1.x client's request to the queue-proxy as an h2c stream,
 * marked `Tide-Client-Protocol: http/1.1`; such a request reaches the app over HTTP/1.1, and the mark (like every
 * data-plane header) never reaches the app.
 */
import * as http2 from 'node:http2';
import type * as http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createListener } from '../../../common/http/server.js';
import type { RunningQueueProxy } from '../../../proxy/main.js';
import { h1Request, h2Request, type ClientReply } from '../../common/http/helpers.js';
import { startApp, startQp, type TestApp } from '../fixtures.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

interface AppSaw {
  version: string;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An app on the shared listener: speaks HTTP/1.1 and h2c on one port, as a gRPC/h2c app would; records what it got. */
async function startDualApp(): Promise<{ port: number; saw: AppSaw[] }> {
  const saw: AppSaw[] = [];
  const listener = createListener({
    handler: (req, res) =>
      new Promise<void>((resolve) => {
        let body = '';
        req.setEncoding('latin1');
        req.on('data', (d: string) => (body += d));
        req.on('end', () => {
          const headers: http.IncomingHttpHeaders = {};
          for (const [name, value] of Object.entries(req.headers)) if (!name.startsWith(':')) headers[name] = value;
          saw.push({ version: req.httpVersion, method: req.method ?? '', url: req.url ?? '', headers, body });
          res.end(`dual:${req.httpVersion}:${body.length}`);
          resolve();
        });
      }),
  });
  const port = await listener.listen(0, '127.0.0.1');
  closers.push(() => listener.close({ timeoutMs: 500 }));
  return { port, saw };
}

/** An HTTP/1-only app (plain http.createServer) that also records the protocol version. */
async function startH1App(): Promise<{ app: TestApp; versions: string[] }> {
  const versions: string[] = [];
  const app = await startApp((req, res, body) => {
    versions.push(req.httpVersion);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`h1:${body.length}`);
  });
  closers.push(() => app.close());
  return { app, versions };
}

async function qpFor(appPort: number): Promise<RunningQueueProxy> {
  const qp = await startQp(appPort);
  closers.push(() => qp.close());
  return qp;
}

function h2To(qp: RunningQueueProxy, headers: http2.OutgoingHttpHeaders, opts?: Parameters<typeof h2Request>[2]): Promise<ClientReply> {
  const session = http2.connect(`http://127.0.0.1:${qp.ports.serving}`);
  session.on('error', () => undefined);
  closers.push(() => Promise.resolve(void session.destroy()));
  return h2Request(session, { ':authority': 'hello.localhost', ':path': '/', ...headers }, opts);
}

const MARK = { 'tide-client-protocol': 'http/1.1' };

describe('queue-proxy → app protocol', () => {
  it('an h2c request marked http/1.1 reaches an HTTP/1-only app as HTTP/1.1, without the mark (Tide only)', async () => {
    const { app, versions } = await startH1App();
    const qp = await qpFor(app.port);
    const r = await h2To(qp, { ':path': '/m?x=1', ...MARK, 'k-proxy-request': 'activator', 'k-original-host': 'hello.example' });
    expect([r.status, r.body]).toEqual([200, 'h1:0']);
    expect(versions).toEqual(['1.1']);
    const seen = app.seen[0]!;
    expect([seen.method, seen.url, seen.headers.host]).toEqual(['GET', '/m?x=1', 'hello.example']);
    expect([seen.headers['tide-client-protocol'], seen.headers['k-proxy-request'], seen.headers['k-original-host']]).toEqual([undefined, undefined, undefined]);
  });

  it('the same marked h2c request reaches an app that speaks both as HTTP/1.1 too (the mark decides, not the app)', async () => {
    const app = await startDualApp();
    const qp = await qpFor(app.port);
    expect((await h2To(qp, MARK)).body).toBe('dual:1.1:0');
    expect(app.saw.map((s) => [s.version, s.headers['tide-client-protocol']])).toEqual([['1.1', undefined]]);
  });

  it('an unmarked h2c request (gRPC) reaches an h2c-capable app as h2, as in Knative', async () => {
    const app = await startDualApp();
    const qp = await qpFor(app.port);
    const r = await h2To(qp, { ':method': 'POST', ':path': '/pkg.Svc/Call', 'content-type': 'application/grpc', te: 'trailers' }, { body: ['abc'] });
    expect([r.status, r.body]).toEqual([200, 'dual:2.0:3']);
    expect(app.saw.map((s) => [s.version, s.url, s.headers.te])).toEqual([['2.0', '/pkg.Svc/Call', 'trailers']]);
  });

  it('an h2c request with another mark value still reaches the app as h2, and the header is removed', async () => {
    const app = await startDualApp();
    const qp = await qpFor(app.port);
    expect((await h2To(qp, { 'tide-client-protocol': 'h2' })).body).toBe('dual:2.0:0');
    expect(app.saw.map((s) => [s.version, s.headers['tide-client-protocol']])).toEqual([['2.0', undefined]]);
  });

  it('an HTTP/1.1 request carrying the mark reaches the app as HTTP/1.1 without it', async () => {
    const app = await startDualApp();
    const qp = await qpFor(app.port);
    const r = await h1Request(qp.ports.serving, { path: '/h1', headers: { host: 'hello.localhost', ...MARK } });
    expect([r.status, r.body]).toEqual([200, 'dual:1.1:0']);
    expect(app.saw.map((s) => [s.version, s.url, s.headers.host, s.headers['tide-client-protocol']])).toEqual([['1.1', '/h1', 'hello.localhost', undefined]]);
  });

  it('a marked h2c POST with a streamed body (no content-length) reaches the HTTP/1.1 app whole', async () => {
    const { app, versions } = await startH1App();
    const qp = await qpFor(app.port);
    const chunks = ['p', 'q', 'r', 's'].map((c) => c.repeat(30_000));
    const r = await h2To(qp, { ':method': 'POST', ':path': '/upload', ...MARK }, { body: chunks, gapMs: 5 });
    expect([r.status, r.body]).toEqual([200, 'h1:120000']);
    expect(versions).toEqual(['1.1']);
    const seen = app.seen[0]!;
    expect([seen.method, seen.url, seen.body === chunks.join(''), seen.headers['transfer-encoding']]).toEqual(['POST', '/upload', true, 'chunked']);
  });
});
