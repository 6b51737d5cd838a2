/** The paced connector (upstream-connect.ts): at most N unconfirmed connections per upstream; data, close or time confirms. */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pacedConnector } from '../../../common/http/upstream-connect.js';
import { FakeClock } from '../../support/fake-clock.js';
import { startSilentServer } from './helpers.js';

const closers: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A server that accepts and stays silent until told to write. */
async function silentServer(): Promise<{ port: number; accepted: net.Socket[] }> {
  const server = await startSilentServer();
  closers.push(() => server.close());
  return server;
}

describe('pacedConnector', () => {
  it('keeps at most maxUnconfirmed connects open per upstream; the pod answering, or confirmAfterMs, lets the next ones start', async () => {
    const { port, accepted } = await silentServer();
    const clock = new FakeClock();
    const connect = pacedConnector({ clock, connectTimeoutMs: 2000, maxUnconfirmed: 2, confirmAfterMs: 50 });
    const sockets: net.Socket[] = [];
    closers.push(() => sockets.forEach((s) => s.destroy()));
    for (let i = 0; i < 5; i++) {
      connect({ hostname: '127.0.0.1', port: String(port), protocol: 'http:' }, (err, s) => {
        if (err === null && s !== null) {
          s.on('data', () => undefined);
          sockets.push(s);
        }
      });
    }
    await until(() => sockets.length === 2 && accepted.length === 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(sockets.length).toBe(2);
    // Time confirms the first two (a slow app does not stall new connections for long).
    clock.advance(50);
    await until(() => sockets.length === 4);
    // The pod answering on one connection confirms it at once: the fifth starts without any time passing.
    accepted[2]!.write('x');
    await until(() => sockets.length === 5);
  });

  it('a failed connect frees its place and reports the error', async () => {
    const { port } = await silentServer();
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const clock = new FakeClock();
    const connect = pacedConnector({ clock, connectTimeoutMs: 2000, maxUnconfirmed: 1, confirmAfterMs: 1_000_000 });
    const errors: string[] = [];
    const sockets: net.Socket[] = [];
    closers.push(() => sockets.forEach((s) => s.destroy()));
    for (let i = 0; i < 2; i++) {
      connect({ hostname: '127.0.0.1', port: String(deadPort), protocol: 'http:' }, (err, _s) => {
        errors.push(String((err as { code?: string } | null)?.code));
      });
    }
    await until(() => errors.length === 2);
    expect(errors).toEqual(['ECONNREFUSED', 'ECONNREFUSED']);
    // Another upstream has its own gate.
    connect({ hostname: '127.0.0.1', port: String(port), protocol: 'http:' }, (err, s) => {
      if (err === null && s !== null) sockets.push(s);
    });
    await until(() => sockets.length === 1);
  });
});
