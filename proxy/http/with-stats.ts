/**
 * Request accounting (docs/knative-parity.md §a3 step 8, §a5): an *in* event on arrival, before the breaker, so queued
 * requests count as concurrency; the matching *out* when the response is done. `K-Proxy-Request: activator` is proxied.
 */
import type { Clock } from '../../common/clock.js';
import { H, PROXY_REQUEST_ACTIVATOR } from '../../common/http/headers.js';
import type { Handler, ProxyRequest } from '../../common/http/types.js';
import type { RequestStats } from '../../common/request-stats.js';

/** The stage's arrival: counts `req` in (proxied if the activator sent it); returns whether it was proxied. */
export function countIn(stats: RequestStats, req: ProxyRequest, nowMs: number): boolean {
  const proxied = req.headers[H.proxyRequest] === PROXY_REQUEST_ACTIVATOR;
  stats.handle(proxied ? 'proxiedIn' : 'in', nowMs);
  return proxied;
}

/** The stage's completion, matching countIn. */
export function countOut(stats: RequestStats, proxied: boolean, nowMs: number): void {
  stats.handle(proxied ? 'proxiedOut' : 'out', nowMs);
}

export function withStats(next: Handler, stats: RequestStats, clock: Clock): Handler {
  return async (req, res, startMs) => {
    const proxied = countIn(stats, req, clock.now());
    try {
      await next(req, res, startMs);
    } finally {
      countOut(stats, proxied, clock.now());
    }
  };
}
