/**
 * undici Pool options that send HTTP/1.1 client requests to an upstream as HTTP/2 streams over cleartext with prior
 * knowledge (h2c), so a burst of requests shares a few connections instead of opening one each. For the forwarder's
 * `upstreamPoolOptions` (forward.ts); the upstream must accept the HTTP/2 preface on its port, as the shared
 * listener (server.ts) does. The forwarder's request/response relay is unchanged: undici turns the request into
 * `:method`/`:path`/`:authority` (from `host`, else the upstream address) and streams bodies both ways.
 *
 * undici sends a request with a streamed body only on an h2 connection with nothing else in flight (it could not
 * replay it), so such a request would wait behind the others: callers should send those over HTTP/1.1 (the activator
 * does). Upgrades (WebSockets) never go through the pool.
 */
import { Client, type Dispatcher, type Pool } from 'undici';

/** Streams per connection before the pool opens another; the shared listener's SETTINGS_MAX_CONCURRENT_STREAMS. */
export const H2C_STREAMS_PER_CONNECTION = 100;

export interface H2cPoolOptions {
  /** TCP connect timeout (ms). */
  connectTimeoutMs: number;
  /** Default H2C_STREAMS_PER_CONNECTION. */
  streamsPerConnection?: number;
}

export function h2cPoolOptions(opts: H2cPoolOptions): Pool.Options {
  const streams = opts.streamsPerConnection ?? H2C_STREAMS_PER_CONNECTION;
  // `useH2c` (prior knowledge, no ALPN) is read by undici 7's connector, which a Pool builds from `connect`; it is
  // missing from undici's type definitions.
  const connect: NonNullable<Pool.Options['connect']> & { useH2c: boolean } = { timeout: opts.connectTimeoutMs, noDelay: true, useH2c: true };
  const o: Pool.Options = {
    allowH2: true,
    // undici counts a client busy once pending + running reach `pipelining`; for h2 that is the stream budget.
    pipelining: streams,
    maxConcurrentStreams: streams,
    connect,
    factory: (origin, options) => new H2cClient(origin, options, streams),
  };
  return o;
}

/**
 * An h2c connection as the Pool sees it: it takes up to `streams` requests, including while it is still connecting.
 * (undici's own Client reports itself busy while a request is pending, i.e. for the whole connect, so a Pool facing a
 * burst opened a connection per request, exactly what h2c is meant to avoid.) A bodiless request is marked
 * idempotent so it is multiplexed whatever its method: the forwarder never lets undici replay a request.
 */
class H2cClient extends Client {
  readonly #streams: number;

  constructor(origin: string | URL, options: Client.Options, streams: number) {
    super(origin, options);
    this.#streams = streams;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    super.dispatch(options.body == null ? { ...options, idempotent: true } : options, handler);
    return this.stats.size < this.#streams;
  }
}
