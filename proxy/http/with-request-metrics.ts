/** Records `revision_request_count` / `revision_request_latencies` for every request the proxy answers (probes excluded). */
import type { Clock } from '../../common/clock.js';
import type { Handler, ProxyResponse } from '../../common/http/types.js';
import type { QueueProxyMetrics } from './metrics.js';

/** The stage's work once a request is over: count it with the status the client got, if it got one. */
export function recordRequestEnd(metrics: QueueProxyMetrics, res: ProxyResponse, elapsedMs: number): void {
  if (res.headersSent) metrics.recordRequest(res.statusCode, elapsedMs);
}

export function withRequestMetrics(next: Handler, metrics: QueueProxyMetrics, clock: Clock): Handler {
  return async (req, res, startMs) => {
    try {
      await next(req, res, startMs);
    } finally {
      recordRequestEnd(metrics, res, clock.now() - startMs);
    }
  };
}
