/**
 * `buildAutoscaler(deps)`: the KPA autoscaler of every revision, wired from injected parts (backend, routing, scraper,
 * clock). It never listens and never reads the environment; `main.ts` and `tide up` add the servers.
 */
import type { ScaleTarget } from './backend.js';
import { KPA_CLASS, type AutoscalerConfig } from './config/autoscaler-config.js';
import type { RevisionScalingSpec } from './config/revision-spec.js';
import { DEFAULT_SCRAPE_TIMEOUT_MS, RevisionLoop, type RevisionSnapshot, type Routing, type Scraper } from './runtime/revision-loop.js';
import { DEFAULT_HISTORY_SAMPLES, SampleHistory, type RevisionSample } from './runtime/sample-history.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { revisionKey, type RevisionStat } from '../common/stats.js';

export type { Routing, Scraper, RevisionSnapshot, RevisionSample };

export interface AutoscalerDeps {
  readonly scaleTarget: ScaleTarget;
  readonly routing: Routing;
  /** Reads one queue-proxy's stats (`host:port`); the gRPC adapter is `createGrpcScraper` in http/scraper.ts. */
  readonly scraper: Scraper;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly config: AutoscalerConfig;
  /** Deadline for one pod scrape; default 3 s (§c2). */
  readonly scrapeTimeoutMs?: number;
  /** Shuffles pods before sampling (§c2); without it pods are sampled in the backend's order. */
  readonly random?: () => number;
  /** Samples kept per revision for the dashboard; default 900 (15 minutes). */
  readonly historySamples?: number;
}

/** Everything the dashboard and `/metrics` read. */
export interface AutoscalerSnapshot {
  readonly timeMs: number;
  readonly revisions: readonly RevisionSnapshot[];
}

/** A scrape's duration and outcome, for `kn_autoscaler_scrape_duration`. */
export interface ScrapeEvent {
  readonly namespace: string;
  readonly revision: string;
  readonly durationMs: number;
  readonly ok: boolean;
}

export interface Autoscaler {
  /** Starts managing a revision, or applies a changed spec to one already managed. Non-KPA classes are left alone. */
  upsertRevision(namespace: string, revision: string, spec: RevisionScalingSpec): void;
  /** Stops managing a revision and forgets its history. Unknown revisions are ignored. */
  removeRevision(namespace: string, revision: string): void;
  /** Activator reports (§b5). Stats for revisions this autoscaler does not manage are dropped. */
  record(stats: readonly RevisionStat[]): void;
  /** Starts every revision's timers (and those of revisions added later). */
  start(): void;
  /** Stops every timer. Safe to call twice. */
  stop(): void;
  snapshot(): AutoscalerSnapshot;
  /** Kept samples with `seq > afterSeq`, oldest first. */
  history(afterSeq?: number): RevisionSample[];
  /** Calls `listener` with every new sample; returns the unsubscribe function. */
  subscribe(listener: (sample: RevisionSample) => void): () => void;
  /** Calls `listener` after every scrape; returns the unsubscribe function. */
  onScrape(listener: (event: ScrapeEvent) => void): () => void;
}

/**
 * Builds the autoscaler.
 * @example
 * const autoscaler = buildAutoscaler({ scaleTarget, routing, scraper: createGrpcScraper().scrape, clock: systemClock, logger, config });
 * autoscaler.upsertRevision('default', 'hello-00001', spec);
 * autoscaler.start();
 */
export function buildAutoscaler(deps: AutoscalerDeps): Autoscaler {
  const loops = new Map<string, RevisionLoop>();
  const history = new SampleHistory(deps.historySamples ?? DEFAULT_HISTORY_SAMPLES);
  const sampleListeners = new Set<(s: RevisionSample) => void>();
  const scrapeListeners = new Set<(e: ScrapeEvent) => void>();
  let seq = 0;
  let running = false;
  let dropped = 0;

  const emit = <T>(listeners: Set<(x: T) => void>, x: T): void => {
    for (const l of listeners) {
      try {
        l(x);
      } catch (err) {
        deps.logger.warn({ err }, 'a dashboard listener threw; ignored');
      }
    }
  };

  return {
    upsertRevision(namespace, revision, spec) {
      const key = revisionKey(namespace, revision);
      if (spec.autoscalerClass !== KPA_CLASS) {
        deps.logger.warn({ namespace, revision, class: spec.autoscalerClass }, 'not a KPA-class revision; Tide leaves it alone');
        this.removeRevision(namespace, revision);
        return;
      }
      const existing = loops.get(key);
      if (existing) {
        existing.updateSpec(spec);
        return;
      }
      const loop = new RevisionLoop(
        {
          namespace,
          revision,
          scaleTarget: deps.scaleTarget,
          routing: deps.routing,
          scraper: deps.scraper,
          clock: deps.clock,
          logger: deps.logger,
          scrapeTimeoutMs: deps.scrapeTimeoutMs ?? DEFAULT_SCRAPE_TIMEOUT_MS,
          random: deps.random,
          onSample: (body) => {
            const sample: RevisionSample = { seq: ++seq, ...body };
            history.add(key, sample);
            emit(sampleListeners, sample);
          },
          onScrape: (durationMs, ok) => emit(scrapeListeners, { namespace, revision, durationMs, ok }),
        },
        spec,
      );
      loops.set(key, loop);
      deps.logger.info({ namespace, revision, metric: spec.decider.metric, target: spec.decider.targetValue }, 'managing revision');
      if (running) loop.start();
    },

    removeRevision(namespace, revision) {
      const key = revisionKey(namespace, revision);
      const loop = loops.get(key);
      if (!loop) return;
      loop.stop();
      loops.delete(key);
      history.drop(key);
      deps.logger.info({ namespace, revision }, 'no longer managing revision');
    },

    record(stats) {
      for (const s of stats) {
        const loop = loops.get(revisionKey(s.namespace, s.revision));
        if (loop) loop.recordActivator(s.stat);
        else if (++dropped % 1000 === 1) deps.logger.debug({ namespace: s.namespace, revision: s.revision, dropped }, 'stat for an unknown revision dropped');
      }
    },

    start() {
      running = true;
      for (const loop of loops.values()) loop.start();
    },

    stop() {
      running = false;
      for (const loop of loops.values()) loop.stop();
    },

    snapshot() {
      return { timeMs: deps.clock.now(), revisions: [...loops.values()].map((l) => l.snapshot()) };
    },

    history(afterSeq = 0) {
      return history.since(afterSeq);
    },

    subscribe(listener) {
      sampleListeners.add(listener);
      return () => sampleListeners.delete(listener);
    },

    onScrape(listener) {
      scrapeListeners.add(listener);
      return () => scrapeListeners.delete(listener);
    },
  };
}
