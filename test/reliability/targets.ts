/**
 * The two fronts the hostile suite attacks, each in front of an app that records every request it receives:
 * - queue-proxy: `tide queue-proxy` as startQueueProxy builds it, on ports 0, in front of the app;
 * - activator: the activator's listener (buildActivator + createListener, as `tide activator` runs it) in front of a
 *   queue-proxy in front of the app, so "the app never sees it" covers the whole path.
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { ListenerOptions } from '../../common/http/server.js';
import type { RunningQueueProxy } from '../../proxy/main.js';
import { revision, startActivatorHarness } from '../activator/harness.js';
import { startQp, until, type AppBehaviour } from '../proxy/fixtures.js';

export interface Target {
  name: string;
  port: number;
  /** Host the front routes on. */
  host: string;
  /** Headers every normal request needs (Host). */
  headers: http.OutgoingHttpHeaders;
  app: App;
  /** Requests that reached the app (counted on arrival, before their body). */
  appRequests(): number;
  /** Headers of every request the app received, in arrival order. */
  appHeaders: http.IncomingHttpHeaders[];
  /** The queue-proxy in the path. */
  qp: RunningQueueProxy;
  close(): Promise<void>;
}

export interface TargetOptions {
  /** Extra queue-proxy environment (e.g. the circuit breaker). */
  env?: Record<string, string>;
  /** Listener options for the front (what `tide queue-proxy`/`tide activator` would pass; tests shorten timeouts). */
  listener?: Partial<ListenerOptions>;
  app?: AppBehaviour;
}

/**
 * The app: HTTP/1.1 and h2c on one port (node's own servers behind a one-byte peek, none of Tide's code), recording
 * each request's headers the moment it arrives (h2: its HEADERS frame, even if a reset follows). Answers 200 `ok`, or
 * as `behaviour` says (HTTP/1.1 requests only).
 */
async function recordingApp(behaviour?: AppBehaviour): Promise<App> {
  const headers: http.IncomingHttpHeaders[] = [];
  const h1 = http.createServer((req, res) => {
    headers.push(req.headers);
    if (behaviour) void behaviour(req, res, '');
    else res.end('ok');
  });
  // An Upgrade it does not support is answered 404 and the connection parsed on as HTTP/1.1, as Go's net/http does
  // (node itself would stop parsing): bytes smuggled after it would be served as a request.
  h1.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    headers.push(req.headers);
    socket.write('HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno');
    if (head.length > 0) socket.unshift(head);
    h1.emit('connection', socket);
    socket.resume();
  });
  const h2 = http2.createServer();
  h2.on('stream', (stream, h) => {
    headers.push(h);
    stream.on('error', () => undefined);
    if (!stream.closed) stream.respond({ ':status': 200 });
    if (!stream.closed) stream.end('ok');
  });
  h2.on('session', (s: http2.ServerHttp2Session) => s.on('error', () => undefined));
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      if (first[0] === 0x50 /* P of the preface */) {
        h2.emit('connection', socket);
      } else {
        h1.emit('connection', socket);
        socket.resume();
      }
    });
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  return {
    port: (tcp.address() as net.AddressInfo).port,
    headers,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        tcp.close(() => r());
      }),
  };
}

export interface App {
  port: number;
  /** Headers of every request received, in arrival order (h2: with pseudo-headers). */
  headers: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

async function startQpTarget(opts: TargetOptions = {}): Promise<Target> {
  const app = await recordingApp(opts.app);
  const qp = await startQp(app.port, opts.env ?? {}, opts.listener ? { listener: opts.listener } : {});
  return {
    name: 'queue-proxy',
    port: qp.ports.serving,
    host: 'hello.example',
    headers: { host: 'hello.example' },
    app,
    appRequests: () => app.headers.length,
    appHeaders: app.headers,
    qp,
    async close() {
      await qp.close();
      await app.close();
    },
  };
}

async function startActivatorTarget(opts: TargetOptions = {}): Promise<Target> {
  const app = await recordingApp(opts.app);
  const qp = await startQp(app.port, opts.env ?? {});
  const h = await startActivatorHarness({ revisions: [revision('hello', { containerConcurrency: 0 })], ...(opts.listener ? { listener: opts.listener } : {}) });
  h.endpoints.set('default', 'hello', [{ name: 'pod', address: `127.0.0.1:${qp.ports.serving}`, ready: true }]);
  await until(() => h.app.revisionState('default', 'hello')?.healthyPods === 1, 5_000);
  return {
    name: 'activator',
    port: h.port,
    host: 'hello.localhost',
    headers: { host: 'hello.localhost' },
    app,
    appRequests: () => app.headers.length,
    appHeaders: app.headers,
    qp,
    async close() {
      await h.close();
      await qp.close();
      await app.close();
    },
  };
}

export const hostileTargets: { name: string; start: (opts?: TargetOptions) => Promise<Target> }[] = [
  { name: 'queue-proxy', start: startQpTarget },
  { name: 'activator', start: startActivatorTarget },
];
