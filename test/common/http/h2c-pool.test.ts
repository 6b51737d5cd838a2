import * as http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { H2cPool, streamNeverProcessed, type SessionSlot } from '../../../common/http/h2c-pool.js';
import { startH2Upstream, until, type H2Upstream } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An h2c upstream that holds every stream open until `release()`. */
async function holdingUpstream(options: http2.ServerOptions = {}): Promise<H2Upstream & { release(): void }> {
  const held: http2.ServerHttp2Stream[] = [];
  const up = await startH2Upstream((stream) => held.push(stream), options);
  cleanups.push(() => up.close());
  return Object.assign(up, {
    release() {
      for (const s of held.splice(0)) if (!s.destroyed) s.respond({ ':status': 200 }, { endStream: true });
    },
  });
}

function pool(maxStreamsPerSession: number): H2cPool {
  const p = new H2cPool({ maxStreamsPerSession, keepAliveMs: 5_000 });
  cleanups.push(() => p.closeAll());
  return p;
}

const GET = (address: string): http2.OutgoingHttpHeaders => ({ ':method': 'GET', ':path': '/', ':scheme': 'http', ':authority': address });

function opened(p: H2cPool, address: string): { stream: http2.ClientHttp2Stream; slot: SessionSlot } {
  const o = p.stream(address, GET(address), true);
  o.stream.on('error', () => undefined);
  return o;
}

describe('h2c session pool', () => {
  it('streams share a session up to maxStreamsPerSession, then a second session opens; closed streams free their place', async () => {
    const up = await holdingUpstream();
    const p = pool(2);
    const a = opened(p, up.address);
    const b = opened(p, up.address);
    const c = opened(p, up.address);
    expect(a.slot).toBe(b.slot);
    expect(c.slot).not.toBe(a.slot);
    expect(p.sessionCount(up.address)).toBe(2);
    await until(() => up.requests.length === 3);
    expect(up.sessions).toBe(2);
    up.release();
    await until(() => a.slot.active === 0 && c.slot.active === 0);
    // Room again on the first session: no third connection.
    expect(opened(p, up.address).slot).toBe(a.slot);
  });

  it("the peer's SETTINGS_MAX_CONCURRENT_STREAMS caps a session below ours", async () => {
    const up = await holdingUpstream({ settings: { maxConcurrentStreams: 1 } });
    const p = pool(100);
    const a = opened(p, up.address);
    await until(() => a.slot.peerMaxStreams === 1);
    const b = opened(p, up.address);
    expect(b.slot).not.toBe(a.slot);
    expect(p.sessionCount(up.address)).toBe(2);
  });

  it('close(upstream) destroys and forgets its sessions; other upstreams keep theirs', async () => {
    const [one, two] = [await holdingUpstream(), await holdingUpstream()];
    const p = pool(10);
    const a = opened(p, one.address);
    const b = opened(p, two.address);
    p.close(one.address);
    expect(a.slot.session.destroyed).toBe(true);
    expect(b.slot.session.destroyed).toBe(false);
    expect([p.sessionCount(one.address), p.sessionCount(two.address)]).toEqual([0, 1]);
    expect(opened(p, one.address).slot).not.toBe(a.slot);
  });

  it('a session that received GOAWAY takes no new stream, and streams above its last id count as never processed', async () => {
    const up = await holdingUpstream();
    const p = pool(10);
    const a = opened(p, up.address);
    await until(() => up.requests.length === 1);
    // As node emits it for a peer's GOAWAY frame (code, last stream id).
    a.slot.session.emit('goaway', http2.constants.NGHTTP2_NO_ERROR, 0);
    expect(a.slot.goawayLastStreamId).toBe(0);
    expect(p.sessionCount(up.address)).toBe(0);
    expect(streamNeverProcessed(a.stream, a.slot)).toBe(true);
    expect(opened(p, up.address).slot).not.toBe(a.slot);
  });

  it('streamNeverProcessed: REFUSED_STREAM or no id yes; an id at or below the GOAWAY last id, or no GOAWAY, no', () => {
    const slot = (goaway: number | undefined): SessionSlot => ({ goawayLastStreamId: goaway }) as SessionSlot;
    const stream = (id: number | undefined, rstCode = 0): http2.ClientHttp2Stream => ({ id, rstCode }) as http2.ClientHttp2Stream;
    expect(streamNeverProcessed(stream(3, http2.constants.NGHTTP2_REFUSED_STREAM), slot(undefined))).toBe(true);
    expect(streamNeverProcessed(stream(undefined), slot(undefined))).toBe(true);
    expect(streamNeverProcessed(stream(5), slot(3))).toBe(true);
    expect(streamNeverProcessed(stream(3), slot(3))).toBe(false);
    expect(streamNeverProcessed(stream(3), slot(undefined))).toBe(false);
    expect(streamNeverProcessed(stream(3), undefined)).toBe(false);
  });
});
