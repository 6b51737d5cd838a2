import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { startProxy, type Rig } from './helpers.js';

// A proto-less service: messages are raw bytes, so the test needs no .proto file.
const id = (b: Buffer): Buffer => b;
const service: grpc.ServiceDefinition = {
  Echo: { path: '/test.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
  Count: { path: '/test.Echo/Count', requestStream: false, responseStream: true, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
  Sum: { path: '/test.Echo/Sum', requestStream: true, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function startGrpc(): Promise<number> {
  const server = new grpc.Server();
  server.addService(service, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const text = call.request.toString();
      if (text === 'hang') return; // never answers
      if (text === 'missing') {
        cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' });
        return;
      }
      const md = new grpc.Metadata();
      md.set('x-trailer', 'yes');
      cb(null, Buffer.from(`echo:${text}:${String(call.metadata.get('x-meta')[0] ?? '')}`), md);
    },
    Count: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const n = Number(call.request.toString());
      for (let i = 1; i <= n; i++) call.write(Buffer.from(String(i)));
      call.end();
    },
    Sum: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      let sum = 0;
      call.on('data', (b: Buffer) => (sum += Number(b.toString())));
      call.on('end', () => cb(null, Buffer.from(String(sum))));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  cleanups.push(() => void server.forceShutdown());
  return port;
}

async function setup(totalTimeoutMs = 5000): Promise<{ client: grpc.Client; rig: Rig }> {
  const port = await startGrpc();
  const rig = await startProxy(() => `127.0.0.1:${port}`, { totalTimeoutMs });
  cleanups.push(() => rig.close());
  const client = new grpc.Client(`127.0.0.1:${rig.port}`, grpc.credentials.createInsecure());
  cleanups.push(() => client.close());
  return { client, rig };
}

describe('gRPC over h2c through the proxy', () => {
  it('unary: message, request metadata and trailers relayed', async () => {
    const { client, rig } = await setup();
    const md = new grpc.Metadata();
    md.set('x-meta', 'm1');
    let trailer = '';
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const call = client.makeUnaryRequest('/test.Echo/Echo', id, id, Buffer.from('hi'), md, (err, v) => (err ? reject(err) : resolve(v!)));
      call.on('status', (s: grpc.StatusObject) => (trailer = String(s.metadata.get('x-trailer')[0] ?? '')));
    });
    expect(reply.toString()).toBe('echo:hi:m1');
    await new Promise((r) => setTimeout(r, 10));
    expect(trailer).toBe('yes');
    expect(rig.outcomes[0]).toMatchObject({ result: 'ok', status: 200 });
  });

  it('unary error: grpc-status and message relayed', async () => {
    const { client } = await setup();
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      client.makeUnaryRequest('/test.Echo/Echo', id, id, Buffer.from('missing'), (e) => resolve(e!)),
    );
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(err.details).toBe('no such thing');
  });

  it('server streaming: 3 messages then EOF', async () => {
    const { client } = await setup();
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.makeServerStreamRequest('/test.Echo/Count', id, id, Buffer.from('3'));
      call.on('data', (b: Buffer) => got.push(b.toString()));
      call.on('error', reject);
      call.on('status', (s: grpc.StatusObject) => (s.code === grpc.status.OK ? resolve() : reject(new Error(s.details))));
    });
    expect(got).toEqual(['1', '2', '3']);
  });

  it('client streaming: the request stream is relayed', async () => {
    const { client } = await setup();
    const sum = await new Promise<string>((resolve, reject) => {
      const call = client.makeClientStreamRequest('/test.Echo/Sum', id, id, (err, v) => (err ? reject(err) : resolve(v!.toString())));
      for (const n of [1, 2, 3, 4]) call.write(Buffer.from(String(n)));
      call.end();
    });
    expect(sum).toBe('10');
  });

  it('§a8: a call with no answer gets the proxy 504 (grpc-js: UNAVAILABLE) at the timeout', async () => {
    const { client, rig } = await setup(150);
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      client.makeUnaryRequest('/test.Echo/Echo', id, id, Buffer.from('hang'), (e) => resolve(e!)),
    );
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(rig.outcomes[0]).toMatchObject({ result: 'timeout', status: 504 });
  });

  it('upstream down: the client gets an error status, the proxy survives', async () => {
    const { createForwarder } = await import('../../../common/http/forward.js');
    const { createListener } = await import('../../../common/http/server.js');
    const { deadPort } = await import('./helpers.js');
    const port = await deadPort();
    const fw = createForwarder();
    const l = createListener({ handler: async (req, res, startMs) => void (await fw.forward(req, res, { upstream: `127.0.0.1:${port}`, startMs })) });
    const lp = await l.listen(0, '127.0.0.1');
    cleanups.push(async () => {
      await l.close({ timeoutMs: 200 });
      await fw.close();
    });
    const client = new grpc.Client(`127.0.0.1:${lp}`, grpc.credentials.createInsecure());
    cleanups.push(() => client.close());
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      client.makeUnaryRequest('/test.Echo/Echo', id, id, Buffer.from('x'), (e) => resolve(e!)),
    );
    expect(err.code).toBe(grpc.status.UNAVAILABLE); // grpc-js maps HTTP 502 to UNAVAILABLE
  });
});
