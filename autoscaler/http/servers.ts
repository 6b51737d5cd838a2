/** The autoscaler's two listeners: the gRPC stats receiver (activator reports) and the HTTP dashboard/metrics server. */
import type { Autoscaler } from '../app.js';
import { startDashboardServer } from './dashboard-server.js';
import { serveAutoscalerStats } from '../../common/http/stats-grpc.js';
import type { Logger } from '../../common/logger.js';

export interface AutoscalerServersOptions {
  /** Interface to bind; default 127.0.0.1. */
  readonly host?: string;
  /** gRPC AutoscalerStats.Report (0 = any free port). */
  readonly statsPort: number;
  /** Dashboard, `/api/*`, `/healthz`, `/metrics` (0 = any free port). */
  readonly httpPort: number;
  readonly logger: Logger;
  /** More Prometheus text appended to `/metrics`. */
  readonly extraMetrics?: () => Promise<string>;
}

export interface StartedAutoscalerServers {
  readonly statsPort: number;
  readonly httpPort: number;
  /** The activator's `host:port` for stats. */
  readonly statsAddress: string;
  /** The dashboard's URL. */
  readonly dashboardUrl: string;
  close(): Promise<void>;
}

/**
 * Starts both servers for `autoscaler`. Each activator batch is recorded as received (the stats receiver caps a
 * message at MAX_REPORT_BYTES); a failing batch is answered with an error and never crashes the process.
 */
export async function startAutoscalerServers(autoscaler: Autoscaler, opts: AutoscalerServersOptions): Promise<StartedAutoscalerServers> {
  const host = opts.host ?? '127.0.0.1';
  const stats = await serveAutoscalerStats((batch) => autoscaler.record(batch), { host, port: opts.statsPort });
  let http;
  try {
    http = await startDashboardServer(autoscaler, { host, port: opts.httpPort, logger: opts.logger, ...(opts.extraMetrics ? { extraMetrics: opts.extraMetrics } : {}) });
  } catch (err) {
    await stats.close(100);
    throw err;
  }
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    statsPort: stats.port,
    httpPort: http.port,
    statsAddress: `${shownHost}:${stats.port}`,
    dashboardUrl: http.url,
    close: async () => {
      await Promise.all([stats.close(1000), http.close()]);
    },
  };
}
