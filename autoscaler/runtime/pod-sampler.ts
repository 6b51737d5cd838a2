/** One scrape of a revision: Knative's direct pod sampling, old pods preferred (docs/knative-parity.md §c2, `stats_scraper.go`). */
import type { PodInfo } from '../backend.js';
import { sampleSize, scaleSample } from '../metrics/collector.js';
import { ScrapeFailedError } from '../../common/errors.js';
import type { Stat } from '../../common/stats.js';

/** The outcome of a successful revision scrape. */
export interface SampledStat {
  /** The revision total: sum(sampled)/n × N, pod name `service-scraper`. */
  readonly stat: Stat;
  /** n: how many pods answered (= sampleSize(N)). */
  readonly sampled: number;
  /** N: ready pods when the scrape started. */
  readonly readyPods: number;
}

export interface PodSamplerOptions {
  /** Pods older than this (ready for ≥ the stable window) are preferred; younger ones are backups. */
  readonly stableWindowMs: number;
  readonly nowMs: number;
  /** Scrapes one pod; must settle in bounded time (the caller wraps it in a deadline). */
  readonly scrapePod: (pod: PodInfo) => Promise<Stat>;
  /** Shuffles each age group (Knative picks pods at random); without it the order is the backend's. */
  readonly random?: (() => number) | undefined;
}

function shuffle<T>(items: T[], random: (() => number) | undefined): T[] {
  if (!random) return items;
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = items[i] as T;
    items[i] = items[j] as T;
    items[j] = a;
  }
  return items;
}

/**
 * Scrapes a sample of the ready pods (§c2). N ready pods give n = sampleSize(N) workers; each takes pods from one
 * queue (old pods first, then young ones) until it has one answer. If the queue runs dry before every worker has
 * an answer the whole scrape fails (Knative: "partial success → error, nothing recorded").
 *
 * Resolves to undefined when no pod is ready (Knative records nothing and reports no error then).
 * Rejects with a ScrapeFailedError (`SCRAPE_FAILED`) when fewer than n pods answered.
 *
 * @example 10 ready pods → 7 workers; each answer is summed, divided by 7 and multiplied by 10.
 */
export async function samplePods(pods: readonly PodInfo[], opts: PodSamplerOptions): Promise<SampledStat | undefined> {
  const ready = pods.filter((p) => p.ready);
  const total = ready.length;
  if (total === 0) return undefined;
  const isOld = (p: PodInfo): boolean => p.readySinceMs !== undefined && opts.nowMs - p.readySinceMs >= opts.stableWindowMs;
  const queue = [...shuffle(ready.filter(isOld), opts.random), ...shuffle(ready.filter((p) => !isOld(p)), opts.random)];
  const n = sampleSize(total);
  const stats: Stat[] = [];
  let lastError: unknown;

  const worker = async (): Promise<boolean> => {
    for (let pod = queue.shift(); pod !== undefined; pod = queue.shift()) {
      try {
        stats.push(await opts.scrapePod(pod));
        return true;
      } catch (err) {
        lastError = err;
      }
    }
    return false;
  };

  const results = await Promise.all(Array.from({ length: n }, worker));
  const answered = results.filter(Boolean).length;
  if (answered < n) {
    throw new ScrapeFailedError(`scraped ${answered} of ${n} sampled pods (${total} ready): ${lastError instanceof Error ? lastError.message : String(lastError)}`, {
      cause: lastError,
    });
  }
  return { stat: scaleSample(stats, total), sampled: n, readyPods: total };
}
