/** Free loopback ports for replicas: distinct, bindable, never handed out twice in a row. */
import { describe, expect, it } from 'vitest';
import net from 'node:net';
import { freePorts, isListening } from '../../local/process/ports.js';

function bind(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

describe('freePorts', () => {
  it('returns distinct ports that can be bound, and none of them twice across calls', async () => {
    const a = await freePorts(5);
    const b = await freePorts(5);
    expect(new Set([...a, ...b]).size).toBe(10);
    const servers = await Promise.all(a.map(bind));
    try {
      for (const p of a) expect(await isListening(p)).toBe(true);
    } finally {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
    for (const p of a) expect(await isListening(p)).toBe(false);
  });
});
