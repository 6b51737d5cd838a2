/**
 * Request accounting (knative-reference §a3 step 8, §a5): an *in* event on arrival, before the breaker, so queued
 * requests count as concurrency; the matching *out* when the response is done. `K-Proxy-Request: activator` is proxied.
 */
import type { Clock } from '../../common/clock.js';
import { H, PROXY_REQUEST_ACTIVATOR } from '../../common/http/headers.js';
import type { Handler } from '../../common/http/types.js';
import type { RequestStats } from '../request-stats.js';

export function withStats(next: Handler, stats: RequestStats, clock: Clock): Handler {
  return async (req, res, startMs) => {
    const proxied = req.headers[H.proxyRequest] === PROXY_REQUEST_ACTIVATOR;
    stats.handle(proxied ? 'proxiedIn' : 'in', clock.now());
    try {
      await next(req, res, startMs);
    } finally {
      stats.handle(proxied ? 'proxiedOut' : 'out', clock.now());
    }
  };
}
