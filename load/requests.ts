/**
 * The request adapters: one iteration of a scenario's request shape against a target, over undici (HTTP), ws
 * (WebSocket) or @grpc/grpc-js (gRPC over h2c). Each one settles when its signal aborts.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Agent, request } from 'undici';
import WebSocket from 'ws';
import { fromRoot } from '../common/paths.js';
import { pickPath, type RequestShape } from '../loadtest/scenarios/types.ts';
import { GRPC_METRICS, HTTP_METRICS, WS_METRICS, type Issue, type IterationResult, type MetricNames } from './engine.js';

export interface Target {
  /** `http://host:port` (a path prefix is kept). */
  readonly url: URL;
  /** Host header (HTTP, WebSocket) or :authority (gRPC); default: the URL's host. */
  readonly host?: string;
  /** Per-iteration timeout (k6's default request timeout is 60 s). */
  readonly timeoutMs: number;
  /** At most this many connections (HTTP/1.1). */
  readonly connections: number;
}

/** An Issue plus what to release at the end of the run. */
export interface Requester {
  readonly issue: Issue;
  readonly names: MetricNames;
  close(): Promise<void>;
}

function errorCode(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string }; name?: string; message?: string };
  return e.cause?.code ?? e.code ?? e.name ?? String(e.message ?? err);
}

function joinPath(base: URL, path: string): string {
  const prefix = base.pathname.replace(/\/$/, '');
  return `${base.origin}${prefix}${path}`;
}

function withTimeout(signal: AbortSignal, ms: number): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(ms)]);
}

export function httpRequester(shape: Extract<RequestShape, { type: 'http' }>, t: Target, random: () => number): Requester {
  const agent = new Agent({ connections: t.connections, pipelining: 1, keepAliveTimeout: 4000 });
  const headers: Record<string, string> = t.host ? { host: t.host } : {};
  return {
    names: HTTP_METRICS,
    issue: async (signal) => {
      const p = pickPath(shape.paths, random());
      const tags = { kind: p.kind };
      try {
        const res = await request(joinPath(t.url, p.path), {
          dispatcher: agent,
          method: shape.method,
          headers,
          ...(shape.body !== undefined ? { body: shape.body } : {}),
          signal: withTimeout(signal, t.timeoutMs),
        });
        await res.body.dump({ limit: Infinity });
        const ok = res.statusCode < 400;
        return { ok, status: res.statusCode, tags, ...(ok ? {} : { error: `status ${res.statusCode}` }) };
      } catch (err) {
        return { ok: false, status: 0, tags, error: errorCode(err) };
      }
    },
    close: () => agent.close(),
  };
}

export function websocketRequester(shape: Extract<RequestShape, { type: 'websocket' }>, t: Target): Requester {
  const url = joinPath(t.url, shape.path).replace(/^http/, 'ws');
  return {
    names: WS_METRICS,
    issue: (signal) =>
      new Promise<IterationResult>((resolve) => {
        const tags = { kind: 'websocket' };
        let status = 0;
        let echoed = 0;
        let settled = false;
        const ws = new WebSocket(url, { ...(t.host ? { headers: { host: t.host } } : {}), handshakeTimeout: t.timeoutMs });
        const s = withTimeout(signal, t.timeoutMs);
        const done = (error?: string): void => {
          if (settled) return;
          settled = true;
          s.removeEventListener('abort', onAbort);
          resolve(error ? { ok: false, status, tags, error } : { ok: true, status, tags });
        };
        const onAbort = (): void => {
          ws.terminate();
          done('timeout');
        };
        s.addEventListener('abort', onAbort);
        ws.on('upgrade', (res) => (status = res.statusCode ?? 101));
        ws.on('unexpected-response', (_req, res) => {
          status = res.statusCode ?? 0;
          res.resume();
          ws.terminate();
          done(`status ${status}`);
        });
        ws.on('open', () => ws.send(`${shape.payload} 0`));
        ws.on('message', (data: WebSocket.RawData) => {
          const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
          if (text !== `${shape.payload} ${echoed}`) {
            ws.terminate();
            done('bad echo');
            return;
          }
          echoed++;
          if (echoed < shape.messages) ws.send(`${shape.payload} ${echoed}`);
          else ws.close(1000);
        });
        ws.on('close', (code) => (echoed === shape.messages && (code === 1000 || code === 1005) ? done() : done(`closed ${code} after ${echoed} echoes`)));
        ws.on('error', (err) => done(errorCode(err)));
      }),
    close: () => Promise.resolve(),
  };
}

type EchoClient = grpc.Client & {
  Say(req: { message: string }, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: { message: string }) => void): grpc.ClientUnaryCall;
};

/** The service definition of loadtest/echo.proto (also what test servers implement). */
export function echoService(): grpc.ServiceDefinition {
  const def = protoLoader.loadSync(fromRoot('loadtest', 'echo.proto'), { keepCase: true, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { tide: { loadtest: { Echo: grpc.ServiceClientConstructor } } };
  return pkg.tide.loadtest.Echo.service;
}

export function grpcRequester(shape: Extract<RequestShape, { type: 'grpc' }>, t: Target): Requester {
  const Ctor = grpc.makeGenericClientConstructor(echoService(), 'Echo');
  const client = new Ctor(t.url.host, grpc.credentials.createInsecure(), t.host ? { 'grpc.default_authority': t.host } : {}) as unknown as EchoClient;
  return {
    names: GRPC_METRICS,
    issue: (signal) =>
      new Promise<IterationResult>((resolve) => {
        const tags = { kind: 'grpc' };
        const call = client.Say({ message: shape.payload }, new grpc.Metadata(), { deadline: Date.now() + t.timeoutMs }, (err, res) => {
          signal.removeEventListener('abort', cancel);
          if (err) resolve({ ok: false, status: 0, tags, error: `grpc ${grpc.status[err.code] ?? err.code}` });
          else if (res?.message !== shape.payload) resolve({ ok: false, status: 200, tags, error: 'bad echo' });
          else resolve({ ok: true, status: 200, tags });
        });
        const cancel = (): void => call.cancel();
        signal.addEventListener('abort', cancel);
      }),
    close: () => {
      client.close();
      return Promise.resolve();
    },
  };
}

export function requesterFor(shape: RequestShape, t: Target, random: () => number): Requester {
  if (shape.type === 'http') return httpRequester(shape, t, random);
  if (shape.type === 'websocket') return websocketRequester(shape, t);
  return grpcRequester(shape, t);
}
