/** Records `revision_request_count` / `revision_request_latencies` for every request the proxy answers (probes excluded). */
import type { Clock } from '../../common/clock.js';
import type { Handler } from '../../common/http/types.js';
import type { QueueProxyMetrics } from './metrics.js';

export function withRequestMetrics(next: Handler, metrics: QueueProxyMetrics, clock: Clock): Handler {
  return async (req, res, startMs) => {
    try {
      await next(req, res, startMs);
    } finally {
      if (res.headersSent) metrics.recordRequest(res.statusCode, clock.now() - startMs);
    }
  };
}
