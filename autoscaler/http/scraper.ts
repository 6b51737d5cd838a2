/** The gRPC scraper: one cached QueueStatsClient per pod address, every call bounded in size and time (§c2). */
import { QueueStatsClient } from '../../common/http/stats-grpc.js';
import type { Stat } from '../../common/stats.js';

export interface GrpcScraperOptions {
  /** Deadline of one scrape (Knative's HTTP timeout: 3 s). */
  readonly timeoutMs?: number;
  /** Clients kept at most; the least recently used is closed beyond this. */
  readonly maxClients?: number;
  /** A client unused for this long is closed (pods come and go; their channels should not linger). */
  readonly idleMs?: number;
}

export interface GrpcScraper {
  /** Scrapes `host:port`; rejects on a gRPC error, an oversized answer or the deadline. */
  scrape(address: string): Promise<Stat>;
  /** Closes every client and the idle sweep. */
  close(): void;
}

/**
 * Creates a scraper. Answers larger than MAX_SCRAPE_BYTES are refused by the client (a hostile pod cannot make the
 * autoscaler allocate), and each call carries a gRPC deadline.
 */
export function createGrpcScraper(opts: GrpcScraperOptions = {}): GrpcScraper {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const maxClients = opts.maxClients ?? 1000;
  const idleMs = opts.idleMs ?? 60_000;
  /** Insertion order = recency order (re-inserted on each use). */
  const clients = new Map<string, { client: QueueStatsClient; usedAt: number }>();

  const sweep = setInterval(() => {
    const cutoff = Date.now() - idleMs;
    for (const [address, entry] of clients) {
      if (entry.usedAt >= cutoff) continue;
      entry.client.close();
      clients.delete(address);
    }
  }, Math.max(1000, Math.min(idleMs, 30_000)));
  sweep.unref();

  return {
    scrape(address) {
      let entry = clients.get(address);
      if (entry) clients.delete(address);
      else entry = { client: new QueueStatsClient(address), usedAt: 0 };
      entry.usedAt = Date.now();
      clients.set(address, entry);
      while (clients.size > maxClients) {
        const [oldest, e] = clients.entries().next().value as [string, { client: QueueStatsClient }];
        e.client.close();
        clients.delete(oldest);
      }
      return entry.client.scrape(timeoutMs);
    },
    close() {
      clearInterval(sweep);
      for (const { client } of clients.values()) client.close();
      clients.clear();
    },
  };
}
