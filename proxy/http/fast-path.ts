/**
 * The common path of the request chain in one object per request: no circuit, a free breaker slot (or no breaker), so
 * nothing waits. It runs the work of stages 2, 3, 5 and 6 of app.ts's chain for such a request through the same stage
 * functions (recordRequestEnd, countIn/countOut, the slot's release, recordAppEnd), in the same order, without their
 * async frames, promises and closures: the forwarder reports the outcome to this object (ForwardSink) and this object
 * is also the forward's ForwardCall. Requests that must wait for a slot, and proxies with a circuit, take the composed
 * chain instead.
 */
import type { Release } from '../../common/breaker.js';
import type { Clock } from '../../common/clock.js';
import type { CallbackForward, ForwardCall, ForwardOutcome, ForwardSink } from '../../common/http/forward.js';
import { respondText, type OutgoingHeaders, type ProxyRequest, type ProxyResponse } from '../../common/http/types.js';
import type { Logger } from '../../common/logger.js';
import type { RequestStats } from '../../common/request-stats.js';
import type { QueueProxyMetrics } from './metrics.js';
import { recordAppEnd } from './reverse-proxy.js';
import { recordRequestEnd } from './with-request-metrics.js';
import { countIn, countOut } from './with-stats.js';

/** What every fast request shares (built once per proxy). */
export interface FastPathEnv {
  forward: CallbackForward;
  upstream: string;
  totalTimeoutMs: number;
  responseStartTimeoutMs: number;
  idleTimeoutMs: number;
  rewriteHeaders: (headers: OutgoingHeaders, req: ProxyRequest) => void;
  clock: Clock;
  stats: RequestStats;
  metrics: QueueProxyMetrics;
  logger: Logger;
}

/** One request on the fast path: the forward's call description and the receiver of its outcome. */
export class FastRequest implements ForwardCall, ForwardSink {
  readonly upstream: string;
  readonly startMs: number;
  readonly totalTimeoutMs: number;
  readonly responseStartTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly rewriteHeaders: (headers: OutgoingHeaders, req: ProxyRequest) => void;
  readonly #env: FastPathEnv;
  readonly #req: ProxyRequest;
  readonly #res: ProxyResponse;
  readonly #release: Release;
  #proxied = false;
  #appStartMs = 0;
  #done = false;

  constructor(env: FastPathEnv, req: ProxyRequest, res: ProxyResponse, startMs: number, release: Release) {
    this.upstream = env.upstream;
    this.startMs = startMs;
    this.totalTimeoutMs = env.totalTimeoutMs;
    this.responseStartTimeoutMs = env.responseStartTimeoutMs;
    this.idleTimeoutMs = env.idleTimeoutMs;
    this.rewriteHeaders = env.rewriteHeaders;
    this.#env = env;
    this.#req = req;
    this.#res = res;
    this.#release = release;
  }

  /** Counts the arrival and starts the forward. A throw is the caller's (the listener answers 500), after the accounting. */
  start(): void {
    const env = this.#env;
    // One clock read for the arrival (stats, §a5) and the app's start (app latency).
    const now = env.clock.now();
    this.#proxied = countIn(env.stats, this.#req, now);
    this.#appStartMs = now;
    try {
      env.forward(this.#req, this.#res, this, this);
    } catch (err) {
      this.#complete(undefined);
      throw err;
    }
  }

  onForwarded(outcome: ForwardOutcome): void {
    try {
      this.#complete(outcome);
    } catch (err) {
      // As the listener does with a handler's rejection: log, and answer 500 if nothing was written.
      this.#env.logger.warn({ err, where: 'handler' }, 'listener error');
      respondText(this.#res, 500, 'internal error');
    }
  }

  /** The chain's finalizers, innermost first; each runs even if an inner one throws. */
  #complete(outcome: ForwardOutcome | undefined): void {
    if (this.#done) return;
    this.#done = true;
    const env = this.#env;
    const now = env.clock.now();
    try {
      try {
        try {
          if (outcome !== undefined) recordAppEnd(env.metrics, outcome, now - this.#appStartMs);
        } finally {
          this.#release();
        }
      } finally {
        countOut(env.stats, this.#proxied, now);
      }
    } finally {
      recordRequestEnd(env.metrics, this.#res, now - this.startMs);
    }
  }
}
