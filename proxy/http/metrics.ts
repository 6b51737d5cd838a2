/**
 * The queue-proxy's Prometheus metrics (port 9091) on a private prom-client Registry: Knative's user-facing names and
 * labels (docs/knative-parity.md §a5) plus Tide's own circuit, retry and overflow counters.
 */
import type * as Prom from 'prom-client';
import type { Metric } from 'prom-client';
import type { CircuitState } from './circuit.js';

/** Knative's request latency distribution in milliseconds (pkg/queue request metrics). */
export const LATENCY_BUCKETS_MS = [5, 10, 20, 40, 60, 80, 100, 150, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800, 900, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

/** The fixed labels of every Knative request metric. */
export interface RevisionLabels {
  namespace_name: string;
  service_name: string;
  configuration_name: string;
  revision_name: string;
  pod_name: string;
  container_name: string;
}

/** Statuses whose series exist (at 0) from start-up, so rate() works from the first scrape (serving#12131). */
const INITIAL_CODES = [200, 502, 503, 504];

const CIRCUIT_STATE_VALUE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };

type Labels = Record<string, string>;

/** One status code's series of a request counter + latency histogram pair. */
interface Series {
  labels: Labels;
  count: number;
  sumMs: number;
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  buckets: Float64Array;
}

/**
 * A request counter and its latency histogram, recorded on the hot path with plain arithmetic and rendered by prom-client
 * at scrape time. prom-client's own labelled `inc`/`observe` hash the label set on every call, which cost more than the
 * rest of the request chain together (measured: ~4 µs of ~5 µs per request).
 */
class RequestSeries {
  readonly #series = new Map<number, Series>();
  readonly #base: Labels;

  constructor(base: Labels) {
    this.#base = base;
  }

  get(status: number): Series {
    let s = this.#series.get(status);
    if (s === undefined) {
      s = {
        labels: { ...this.#base, response_code: String(status), response_code_class: `${Math.floor(status / 100)}xx` },
        count: 0,
        sumMs: 0,
        buckets: new Float64Array(LATENCY_BUCKETS_MS.length + 1),
      };
      // Statuses are 100–599, so this map is bounded.
      this.#series.set(status, s);
    }
    return s;
  }

  record(status: number, ms: number): void {
    const s = this.get(status);
    s.count++;
    s.sumMs += ms;
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]!) i++;
    s.buckets[i]!++;
  }

  /** A prom-client metric object for the counter. */
  counter(name: string, help: string): Metric {
    return this.#metric(name, help, 'counter', () => [...this.#series.values()].map((s) => ({ labels: s.labels, value: s.count })));
  }

  /** A prom-client metric object for the histogram (cumulative buckets, sum, count). */
  histogram(name: string, help: string): Metric {
    return this.#metric(name, help, 'histogram', () => {
      const values: { labels: Labels; value: number; metricName: string }[] = [];
      for (const s of this.#series.values()) {
        let acc = 0;
        for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) {
          acc += s.buckets[i]!;
          values.push({ labels: { le: String(LATENCY_BUCKETS_MS[i]), ...s.labels }, value: acc, metricName: `${name}_bucket` });
        }
        values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${name}_bucket` });
        values.push({ labels: s.labels, value: s.sumMs, metricName: `${name}_sum` });
        values.push({ labels: s.labels, value: s.count, metricName: `${name}_count` });
      }
      return values;
    });
  }

  #metric(name: string, help: string, type: 'counter' | 'histogram', values: () => unknown[]): Metric {
    const metric = {
      name,
      help,
      type,
      aggregator: 'sum',
      get: () => Promise.resolve({ name, help, type, aggregator: 'sum', values: values() }),
      reset: () => undefined,
    };
    return metric as unknown as Metric;
  }
}

/** prom-client, loaded at the first scrape: the serving port never waits for it at start-up (cold path, issue 15). */
type PromClient = typeof Prom;

/**
 * What the request path records; `status` is what the client got. Every count is a plain number on the hot path;
 * the prom-client Registry that renders them is built at the first scrape, so loading prom-client (~30 ms) stays out
 * of the queue-proxy's start-up.
 */
export class QueueProxyMetrics {
  readonly #requests: RequestSeries;
  readonly #app: RequestSeries;
  readonly #base: Labels;
  readonly #sources: { queueDepth: () => number; retries: () => number; retryBudgetExhausted: () => number };
  #overflow = 0;
  #circuitRejections = 0;
  #circuitState = 0;
  #registry: Promise<Prom.Registry> | undefined;
  #contentType = 'text/plain; version=0.0.4; charset=utf-8';

  constructor(labels: RevisionLabels, sources: { queueDepth: () => number; retries: () => number; retryBudgetExhausted: () => number }) {
    this.#base = { ...labels };
    this.#sources = sources;
    this.#requests = new RequestSeries(this.#base);
    this.#app = new RequestSeries(this.#base);
    for (const code of INITIAL_CODES) {
      this.#requests.get(code);
      this.#app.get(code);
    }
  }

  #build(prom: Pick<PromClient, 'Registry' | 'Gauge' | 'Counter'>): Prom.Registry {
    const r = new prom.Registry();
    const base = this.#base;
    const sources = this.#sources;
    const circuitState = (): number => this.#circuitState;
    r.registerMetric(this.#requests.counter('revision_request_count', 'The number of requests that are routed to queue-proxy'));
    r.registerMetric(this.#requests.histogram('revision_request_latencies', 'The response time in millisecond'));
    r.registerMetric(this.#app.counter('revision_app_request_count', 'The number of requests that are routed to user-container'));
    r.registerMetric(this.#app.histogram('revision_app_request_latencies', 'The response time in millisecond'));
    new prom.Gauge({
      name: 'revision_queue_depth',
      help: 'The current number of items in the serving and waiting queue, or not reported if unlimited concurrency',
      labelNames: Object.keys(base),
      registers: [r],
      collect() {
        this.set(base, sources.queueDepth());
      },
    });
    // Counters whose value is read at scrape time: prom-client counters only go up, so each adds what is new.
    const counter = (name: string, help: string, read: () => number): void => {
      let seen = 0;
      const c = new prom.Counter({
        name,
        help,
        registers: [r],
        collect() {
          const now = read();
          if (now > seen) this.inc(now - seen);
          seen = now;
        },
      });
      c.inc(0);
    };
    counter('tide_queue_proxy_breaker_overflow_total', 'Requests refused at once with 503 because the breaker queue was full (knative §a4)', () => this.#overflow);
    counter('tide_queue_proxy_circuit_rejections_total', 'Requests refused with 503 because the app circuit was open', () => this.#circuitRejections);
    new prom.Gauge({
      name: 'tide_queue_proxy_circuit_state',
      help: 'App circuit: 0 closed, 1 half-open, 2 open (always 0 when the circuit is disabled)',
      registers: [r],
      collect() {
        this.set(circuitState());
      },
    });
    counter('tide_queue_proxy_retries_total', 'Retried attempts to the app (only requests the app never received)', sources.retries);
    counter('tide_queue_proxy_retry_budget_exhausted_total', 'Retries not attempted because the retry budget was spent', sources.retryBudgetExhausted);
    this.#contentType = r.contentType;
    return r;
  }

  /** Every request answered by the proxy (probes excluded), with the status the client got. */
  recordRequest(status: number, latencyMs: number): void {
    this.#requests.record(status, latencyMs);
  }

  /** Requests that were sent to the app (inside the breaker). */
  recordAppRequest(status: number, latencyMs: number): void {
    this.#app.record(status, latencyMs);
  }

  breakerOverflow(): void {
    this.#overflow++;
  }

  circuitRejected(): void {
    this.#circuitRejections++;
  }

  circuitState(s: CircuitState): void {
    this.#circuitState = CIRCUIT_STATE_VALUE[s];
  }

  /** The Registry, built when first asked for (loading prom-client). */
  #loaded(): Promise<Prom.Registry> {
    // prom-client is CommonJS: `default` is its module.exports both under Node's own loader and in the bundle, where
    // the chunk esbuild splits it into exports nothing else (its named exports were undefined there: /metrics was 500).
    this.#registry ??= import('prom-client').then((prom) => this.#build(prom.default));
    return this.#registry;
  }

  /** Loads prom-client and builds the Registry now instead of at the first scrape. */
  async prepare(): Promise<void> {
    await this.#loaded();
  }

  /** Prometheus text exposition (the first call loads prom-client). */
  async text(): Promise<string> {
    return (await this.#loaded()).metrics();
  }

  /** The exposition's Content-Type (prom-client's, once text() has run). */
  get contentType(): string {
    return this.#contentType;
  }
}
