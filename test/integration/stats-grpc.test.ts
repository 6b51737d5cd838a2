import { afterEach, describe, expect, it } from 'vitest';
import {
  AutoscalerStatsClient,
  QueueStatsClient,
  serveAutoscalerStats,
  serveQueueStats,
  type StartedGrpcServer,
} from '../../common/http/stats-grpc.js';
import type { RevisionStat } from '../../common/stats.js';
import { startSilentServer } from '../common/http/helpers.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function track(s: StartedGrpcServer): StartedGrpcServer {
  closers.push(() => s.close(100));
  return s;
}

describe('stats protocol over gRPC (docs/architecture.md, Stats)', () => {
  it('QueueStats.Scrape returns the latest stat with every field', async () => {
    const stat = {
      podName: 'hello-00001-abc',
      averageConcurrentRequests: 2.5,
      averageProxiedConcurrentRequests: 0.5,
      requestCount: 12,
      proxiedRequestCount: 3,
      processUptimeSeconds: 42,
      timestampMs: 1_767_225_600_000,
    };
    const server = track(await serveQueueStats(() => stat, { host: '127.0.0.1', port: 0 }));
    const client = new QueueStatsClient(`127.0.0.1:${server.port}`);
    closers.push(() => client.close());
    expect(await client.scrape()).toEqual(stat);
  });

  it('AutoscalerStats.Report delivers batches and drops entries without a revision', async () => {
    const got: RevisionStat[][] = [];
    const server = track(await serveAutoscalerStats((b) => got.push(b), { host: '127.0.0.1', port: 0 }));
    const client = new AutoscalerStatsClient(`127.0.0.1:${server.port}`);
    closers.push(() => client.close());
    const stat = { podName: 'activator', averageConcurrentRequests: 1, averageProxiedConcurrentRequests: 0, requestCount: 1, proxiedRequestCount: 0, processUptimeSeconds: 1, timestampMs: 0 };
    await client.report([
      { namespace: 'default', revision: 'hello', stat },
      { namespace: 'default', revision: '', stat },
    ]);
    expect(got).toEqual([[{ namespace: 'default', revision: 'hello', stat }]]);
  });

  it('a scrape of a peer that never answers fails within the deadline', async () => {
    // A TCP server that accepts and says nothing: a hostile or stuck pod.
    const silent = await startSilentServer();
    closers.push(() => silent.close());

    const port = silent.port;
    const client = new QueueStatsClient(`127.0.0.1:${port}`);
    closers.push(() => client.close());
    const started = Date.now();
    await expect(client.scrape(300)).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
