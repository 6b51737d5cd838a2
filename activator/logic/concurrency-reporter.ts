/**
 * The activator's demand report to the autoscaler (docs/knative-parity.md §b5, `pkg/activator/handler/concurrency_reporter.go`):
 * time-weighted concurrency and request count per revision, an immediate "poke" on the first request for a revision
 * with no entry, and the first-report adjustment that keeps the poke from being counted twice.
 */
import { RequestStats } from '../../common/request-stats.js';

/** One revision's stat as the activator sends it. */
export interface DemandStat {
  readonly key: string;
  readonly averageConcurrency: number;
  readonly requestCount: number;
}

interface Entry {
  stats: RequestStats;
  /** 1 until the first periodic report after the poke, then 0. */
  firstAdjustment: number;
}

/** Per-revision demand, keyed by `namespace/revision`. Feed it request events; it returns what to send. */
export class ConcurrencyReporter {
  readonly #entries = new Map<string, Entry>();

  /** Revisions with a live entry. */
  get tracked(): number {
    return this.#entries.size;
  }

  /**
   * Records an arrival. Returns the poke to send at once (concurrency 1, request count 1) when the revision had no
   * entry, else undefined (§b5).
   */
  requestIn(key: string, nowMs: number): DemandStat | undefined {
    let entry = this.#entries.get(key);
    let poke: DemandStat | undefined;
    if (!entry) {
      entry = { stats: new RequestStats(nowMs), firstAdjustment: 1 };
      this.#entries.set(key, entry);
      poke = { key, averageConcurrency: 1, requestCount: 1 };
    }
    entry.stats.handle('in', nowMs);
    return poke;
  }

  /** Records a completion. A completion for a revision whose entry was deleted is ignored. */
  requestOut(key: string, nowMs: number): void {
    this.#entries.get(key)?.stats.handle('out', nowMs);
  }

  /**
   * The 1 s report (§b5): per entry, (average concurrency − first adjustment) floored at 0 and
   * (request count − first adjustment); entries whose average concurrency over the period was 0 are deleted after
   * being reported, so the next request pokes again.
   */
  report(nowMs: number): DemandStat[] {
    const out: DemandStat[] = [];
    for (const [key, entry] of this.#entries) {
      const r = entry.stats.report(nowMs);
      const adj = entry.firstAdjustment;
      entry.firstAdjustment = 0;
      // An empty period (two reports in the same ms) averages 0: the entry stays while requests are in flight.
      if (r.averageConcurrency === 0 && entry.stats.concurrency === 0) this.#entries.delete(key);
      out.push({
        key,
        averageConcurrency: Math.max(r.averageConcurrency - adj, 0),
        requestCount: Math.max(r.requestCount - adj, 0),
      });
    }
    return out;
  }
}
