import { afterEach, describe, expect, it } from 'vitest';
import * as http2 from 'node:http2';
import * as protoLoader from '@grpc/proto-loader';
import * as fc from 'fast-check';
import { encodeStat, grpcFrame, MAX_SCRAPE_REQUEST_BYTES, SCRAPE_PATH, serveQueueStats, type StartedQueueStatsServer } from '../../common/http/queue-stats-server.js';
import { AutoscalerStatsClient, QueueStatsClient, serveAutoscalerStats, type StartedGrpcServer } from '../../common/http/stats-grpc.js';
import { fromRoot } from '../../common/paths.js';
import { request } from 'node:http';
import { connect } from 'node:net';
import type { RevisionStat, Stat } from '../../common/stats.js';
import { startSilentServer } from '../common/http/helpers.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function track<S extends StartedGrpcServer | StartedQueueStatsServer>(s: S): S {
  closers.push(() => s.close(100));
  return s;
}

describe('stats protocol over gRPC (docs/architecture.md, Stats)', () => {
  it('QueueStats.Scrape returns the latest stat with every field', async () => {
    const stat = {
      podName: 'hello-00001-abc',
      averageConcurrentRequests: 2.5,
      averageProxiedConcurrentRequests: 0.5,
      requestCount: 12,
      proxiedRequestCount: 3,
      processUptimeSeconds: 42,
      timestampMs: 1_767_225_600_000,
    };
    const server = track(await serveQueueStats(() => stat, { host: '127.0.0.1', port: 0 }));
    const client = new QueueStatsClient(`127.0.0.1:${server.port}`);
    closers.push(() => client.close());
    expect(await client.scrape()).toEqual(stat);
  });

  it('AutoscalerStats.Report delivers batches and drops entries without a revision', async () => {
    const got: RevisionStat[][] = [];
    const server = track(await serveAutoscalerStats((b) => got.push(b), { host: '127.0.0.1', port: 0 }));
    const client = new AutoscalerStatsClient(`127.0.0.1:${server.port}`);
    closers.push(() => client.close());
    const stat = { podName: 'activator', averageConcurrentRequests: 1, averageProxiedConcurrentRequests: 0, requestCount: 1, proxiedRequestCount: 0, processUptimeSeconds: 1, timestampMs: 0 };
    await client.report([
      { namespace: 'default', revision: 'hello', stat },
      { namespace: 'default', revision: '', stat },
    ]);
    expect(got).toEqual([[{ namespace: 'default', revision: 'hello', stat }]]);
  });

  it('a scrape of a peer that never answers fails within the deadline', async () => {
    // A TCP server that accepts and says nothing: a hostile or stuck pod.
    const silent = await startSilentServer();
    closers.push(() => silent.close());

    const port = silent.port;
    const client = new QueueStatsClient(`127.0.0.1:${port}`);
    closers.push(() => client.close());
    const started = Date.now();
    await expect(client.scrape(300)).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

/** The decoder grpc-js clients use: proto-loader over common/proto/stats.proto, with the client's options. */
function decodeWithProtobufjs(bytes: Buffer): Record<string, unknown> {
  const def = protoLoader.loadSync(fromRoot('common', 'proto', 'stats.proto'), { keepCase: true, longs: Number, defaults: true });
  const scrape = (def['tide.stats.v1.QueueStats'] as unknown as { Scrape: { responseDeserialize(b: Buffer): Record<string, unknown> } }).Scrape;
  return scrape.responseDeserialize(bytes);
}

interface RawAnswer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
}

/** One raw HTTP/2 exchange with the stats server, to see what a grpc-js client would never send. */
function raw(port: number, headers: http2.OutgoingHttpHeaders, body: Buffer = Buffer.alloc(0)): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request(headers, { endStream: false });
    const chunks: Buffer[] = [];
    let got: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => (got = h));
    stream.on('trailers', (t: http2.IncomingHttpHeaders) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', reject);
    stream.on('close', () => {
      session.close();
      resolve({ status: Number(got[':status']), headers: got, trailers, body: Buffer.concat(chunks) });
    });
    stream.end(body);
  });
}

const GRPC = { ':method': 'POST', ':path': SCRAPE_PATH, 'content-type': 'application/grpc', te: 'trailers' };

describe('QueueStats.Scrape served without grpc-js (common/http/queue-stats-server.ts)', () => {
  it('encodes every Stat as protobufjs decodes it from stats.proto', () => {
    const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(
        fc.record({
          podName: fc.string({ unit: 'grapheme', maxLength: 40 }),
          averageConcurrentRequests: finite,
          averageProxiedConcurrentRequests: finite,
          requestCount: finite,
          proxiedRequestCount: finite,
          processUptimeSeconds: finite,
          timestampMs: fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
          queuedRequests: finite,
          maxWaitSeconds: finite,
        }),
        (stat) => {
          const got = decodeWithProtobufjs(encodeStat(stat));
          // -0 is written as 0 (proto3 leaves a zero out), as protobufjs's own encoder does.
          const z = (x: number): number => (Object.is(x, -0) ? 0 : x);
          expect(got).toEqual({
            pod_name: stat.podName,
            average_concurrent_requests: z(stat.averageConcurrentRequests),
            average_proxied_concurrent_requests: z(stat.averageProxiedConcurrentRequests),
            request_count: z(stat.requestCount),
            proxied_request_count: z(stat.proxiedRequestCount),
            process_uptime_seconds: z(stat.processUptimeSeconds),
            timestamp_ms: stat.timestampMs,
            queued_requests: z(stat.queuedRequests),
            max_wait_seconds: z(stat.maxWaitSeconds),
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('answers a scrape with the length-prefixed Stat and grpc-status 0 in the trailers', async () => {
    const stat = { podName: 'p', averageConcurrentRequests: 1.5, averageProxiedConcurrentRequests: 0, requestCount: 3, proxiedRequestCount: 0, processUptimeSeconds: 7, timestampMs: 1 };
    const server = track(await serveQueueStats(() => stat, { host: '127.0.0.1', port: 0 }));
    const a = await raw(server.port, GRPC, grpcFrame(Buffer.alloc(0)));
    expect(a.status).toBe(200);
    expect(a.headers['content-type']).toBe('application/grpc+proto');
    expect(a.trailers['grpc-status']).toBe('0');
    expect(a.body).toEqual(grpcFrame(encodeStat(stat)));
  });

  it.each([
    ['an unknown method', { ...GRPC, ':path': '/tide.stats.v1.QueueStats/Other' }, grpcFrame(Buffer.alloc(0)), '12'],
    ['a compressed request', GRPC, Buffer.from([1, 0, 0, 0, 1, 0]), '12'],
    ['a body that is not whole frames', GRPC, Buffer.from([0, 0, 0, 0, 9, 1]), '13'],
    ['a body over the limit', GRPC, grpcFrame(Buffer.alloc(MAX_SCRAPE_REQUEST_BYTES)), '8'],
  ])('%s gets grpc-status %s and no stat', async (_name, headers, body, code) => {
    let asked = 0;
    const server = track(
      await serveQueueStats(() => {
        asked++;
        return emptyStatFor('p');
      }, { host: '127.0.0.1', port: 0 }),
    );
    const a = await raw(server.port, headers, body);
    expect(a.status).toBe(200);
    expect(a.headers['grpc-status'] ?? a.trailers['grpc-status']).toBe(code);
    expect(String(a.headers['grpc-message'] ?? '')).not.toBe('');
    expect(a.body.length).toBe(0);
    expect(a.headers['grpc-accept-encoding']).toBe('identity');
    expect(asked).toBe(0);
  });

  it('refuses a GET (405) and a non-gRPC content type (415) as plain HTTP', async () => {
    const server = track(await serveQueueStats(() => emptyStatFor('p'), { host: '127.0.0.1', port: 0 }));
    expect((await raw(server.port, { ...GRPC, ':method': 'GET' })).status).toBe(405);
    expect((await raw(server.port, { ...GRPC, 'content-type': 'application/json' }, Buffer.from('{}'))).status).toBe(415);
  });

  it('a latest() that throws answers INTERNAL, which the grpc-js client reports', async () => {
    const server = track(
      await serveQueueStats(() => {
        throw new Error('no stat yet');
      }, { host: '127.0.0.1', port: 0 }),
    );
    const client = new QueueStatsClient(`127.0.0.1:${server.port}`);
    closers.push(() => client.close());
    await expect(client.scrape(2000)).rejects.toThrow(/no stat yet/);
  });

  it('an HTTP/1.1 client on the stats port gets its connection closed, and the server keeps serving', async () => {
    const server = track(await serveQueueStats(() => emptyStatFor('p'), { host: '127.0.0.1', port: 0 }));
    const closed = await new Promise<boolean>((resolve) => {
      const req = request({ host: '127.0.0.1', port: server.port, path: '/', agent: false }, (res) => {
        res.resume();
        resolve(false);
      });
      req.on('error', () => resolve(true));
      req.end();
    });
    expect(closed).toBe(true);
    const client = new QueueStatsClient(`127.0.0.1:${server.port}`);
    closers.push(() => client.close());
    expect((await client.scrape(2000)).podName).toBe('p');
  });

  it('closes a connection that never sends the HTTP/2 preface, and still serves scrapes', async () => {
    const server = track(await serveQueueStats(() => emptyStatFor('p'), { host: '127.0.0.1', port: 0, prefaceTimeoutMs: 200 }));
    const socket = connect(server.port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.resume(); // read the server's SETTINGS and GOAWAY, so that the close is seen
    const started = Date.now();
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(Date.now() - started).toBeLessThan(3000);
    const client = new QueueStatsClient(`127.0.0.1:${server.port}`);
    closers.push(() => client.close());
    // A slow scrape (past the preface timeout) on a connection that did speak HTTP/2 is not cut.
    await new Promise((r) => setTimeout(r, 300));
    expect((await client.scrape(2000)).podName).toBe('p');
  });

  it('cancels a stream whose request body never ends, and answers the next scrape on the same connection', async () => {
    let asked = 0;
    const server = track(
      await serveQueueStats(() => {
        asked++;
        return emptyStatFor('p');
      }, { host: '127.0.0.1', port: 0, streamTimeoutMs: 200 }),
    );
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    session.on('error', () => undefined);
    closers.push(() => session.destroy());
    const stream = session.request(GRPC, { endStream: false });
    stream.on('error', () => undefined);
    stream.write(Buffer.from([0, 0, 0])); // part of a frame, then nothing
    const code = await new Promise<number>((resolve) => stream.on('close', () => resolve(stream.rstCode ?? -1)));
    expect(code).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(asked).toBe(0);
    const next = session.request(GRPC, { endStream: false });
    const chunks: Buffer[] = [];
    next.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((resolve) => {
      next.on('close', () => resolve());
      next.end(grpcFrame(Buffer.alloc(0)));
    });
    expect(Buffer.concat(chunks)).toEqual(grpcFrame(encodeStat(emptyStatFor('p'))));
  });

  it('cannot listen on a port in use: rejects naming the address', async () => {
    const first = track(await serveQueueStats(() => emptyStatFor('p'), { host: '127.0.0.1', port: 0 }));
    await expect(serveQueueStats(() => emptyStatFor('p'), { host: '127.0.0.1', port: first.port })).rejects.toThrow(/EADDRINUSE/);
  });
});

function emptyStatFor(podName: string): Stat {
  return { podName, averageConcurrentRequests: 0, averageProxiedConcurrentRequests: 0, requestCount: 0, proxiedRequestCount: 0, processUptimeSeconds: 0, timestampMs: 0 };
}
