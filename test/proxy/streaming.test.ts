/** WebSocket and gRPC (h2c) streaming through the whole queue-proxy. */
import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { WebSocket, WebSocketServer } from 'ws';
import { startApp, startQp, until } from './fixtures.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const passthrough = (b: Buffer): Buffer => b;
const STREAM_SERVICE: grpc.ServiceDefinition = {
  Count: {
    path: '/tide.test.Counter/Count',
    requestStream: false,
    responseStream: true,
    requestSerialize: passthrough,
    requestDeserialize: passthrough,
    responseSerialize: passthrough,
    responseDeserialize: passthrough,
  },
};

describe('streaming through the queue-proxy', () => {
  it('WebSocket echo works, counts as concurrency while open and holds a breaker slot', async () => {
    const app = await startApp();
    closers.push(() => app.close());
    const wss = new WebSocketServer({ server: app.server });
    wss.on('connection', (ws) => ws.on('message', (m: Buffer) => ws.send(`echo:${m.toString()}`)));
    closers.push(() => new Promise<void>((r) => wss.close(() => r())));
    const qp = await startQp(app.port, { CONTAINER_CONCURRENCY: '2' });
    closers.push(() => qp.close());
    const ws = new WebSocket(`ws://127.0.0.1:${qp.ports.serving}/chat`, { headers: { 'knative-serving-revision': 'x' } });
    closers.push(() => ws.terminate());
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const replies: string[] = [];
    ws.on('message', (m: Buffer) => replies.push(m.toString()));
    ws.send('a');
    ws.send('b');
    await until(() => replies.length === 2);
    expect(replies).toEqual(['echo:a', 'echo:b']);
    expect(qp.qp.stats.concurrency).toBe(1);
    expect(qp.qp.breaker!.active).toBe(1);
    expect(app.seen).toHaveLength(0); // the upgrade went to the ws server, not the plain handler
    ws.close();
    await until(() => qp.qp.stats.concurrency === 0 && qp.qp.breaker!.inFlight === 0);
  });

  it('gRPC server streaming over h2c: every message and the status arrive', async () => {
    const server = new grpc.Server();
    server.addService(STREAM_SERVICE, {
      Count: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        for (let i = 1; i <= 3; i++) call.write(Buffer.from(`m${i}`));
        call.end();
      },
    });
    const appPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    closers.push(() => new Promise<void>((r) => server.tryShutdown(() => r())));
    const qp = await startQp(appPort, { CONTAINER_CONCURRENCY: '10' });
    closers.push(() => qp.close());
    const Client = grpc.makeGenericClientConstructor(STREAM_SERVICE, 'Counter');
    const client = new Client(`127.0.0.1:${qp.ports.serving}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      Count: (req: Buffer) => grpc.ClientReadableStream<Buffer>;
    };
    closers.push(() => client.close());
    const got: string[] = [];
    const stream = client.Count(Buffer.from('go'));
    stream.on('data', (m: Buffer) => got.push(m.toString()));
    const status = await new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
    expect(status.code).toBe(grpc.status.OK);
    expect(got).toEqual(['m1', 'm2', 'm3']);
    qp.qp.reportTick();
    expect(qp.qp.latestStat().requestCount).toBe(1);
  });
});

describe('websockets during drain (§a7)', () => {
  it('§a7 an open WebSocket keeps working through the quiet period and is closed after the websocket grace', async () => {
    const app = await startApp();
    closers.push(() => app.close());
    const wss = new WebSocketServer({ server: app.server });
    wss.on('connection', (ws) => ws.on('message', (m: Buffer) => ws.send(`echo:${m.toString()}`)));
    closers.push(() => new Promise<void>((r) => wss.close(() => r())));
    const qp = await startQp(app.port, { TIDE_DRAIN_QUIET_SECONDS: '0.1', TIDE_WEBSOCKET_GRACE_SECONDS: '0.4' });
    closers.push(() => qp.close());
    const ws = new WebSocket(`ws://127.0.0.1:${qp.ports.serving}/`);
    closers.push(() => ws.terminate());
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const closed = new Promise<number>((r) => ws.once('close', () => r(Date.now())));
    const replies: string[] = [];
    ws.on('message', (m: Buffer) => replies.push(m.toString()));
    const t0 = Date.now();
    const terminated = qp.terminate();
    ws.send('during-drain');
    await until(() => replies.length === 1);
    expect(replies).toEqual(['echo:during-drain']);
    const closedAt = await closed;
    await terminated;
    // Quiet period (0.1 s) then up to the grace (0.4 s): not cut at the drain's end, and not held past the grace.
    expect(closedAt - t0).toBeGreaterThanOrEqual(400);
    expect(closedAt - t0).toBeLessThan(2000);
  });
});

describe('gRPC during drain (§a7)', () => {
  it('§a7 h2 clients keep being served during the quiet period (GOAWAY, then a new connection)', async () => {
    const server = new grpc.Server();
    server.addService(STREAM_SERVICE, {
      Count: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        call.write(Buffer.from('one'));
        call.end();
      },
    });
    const appPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    closers.push(() => new Promise<void>((r) => server.tryShutdown(() => r())));
    const qp = await startQp(appPort, { TIDE_DRAIN_QUIET_SECONDS: '0.3' });
    closers.push(() => qp.close());
    const Client = grpc.makeGenericClientConstructor(STREAM_SERVICE, 'Counter');
    const client = new Client(`127.0.0.1:${qp.ports.serving}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      Count: (req: Buffer) => grpc.ClientReadableStream<Buffer>;
    };
    closers.push(() => client.close());
    const once = async (): Promise<{ code: number; got: string[] }> => {
      const got: string[] = [];
      const stream = client.Count(Buffer.from('go'));
      stream.on('data', (m: Buffer) => got.push(m.toString()));
      const status = await new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
      return { code: status.code, got };
    };
    expect(await once()).toEqual({ code: grpc.status.OK, got: ['one'] });
    const terminated = qp.terminate();
    await new Promise((r) => setTimeout(r, 50));
    expect(await once()).toEqual({ code: grpc.status.OK, got: ['one'] });
    await terminated;
    expect(qp.qp.drainer.isFinished).toBe(true);
  });
});
