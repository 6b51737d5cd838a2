/** The per-second samples the dashboard draws, and a bounded history of them (a ring per revision). */

/** One revision's live numbers for one second, as the dashboard and `/api/events` show them. */
export interface RevisionSample {
  /** Monotonic across all revisions of one autoscaler: the SSE event id, so a reconnecting page resumes. */
  readonly seq: number;
  /** When the sample was taken (ms since epoch, from the autoscaler's clock). */
  readonly timeMs: number;
  readonly namespace: string;
  readonly revision: string;
  /** Which metric the windows average (the decider's `metric`). */
  readonly metric: 'concurrency' | 'rps';
  /** Requests per second seen in the last second: scraped pods (scaled to the revision) + activators, proxied counted once. */
  readonly rps: number;
  /** Average in-flight requests in the last second, same sources. */
  readonly concurrency: number;
  /** Stable-window average of `metric` (revision total), or null when the collector has no data (§c2 ErrNoData). */
  readonly stable: number | null;
  /** Panic-window average of `metric` (revision total), or null with no data. */
  readonly panic: number | null;
  /** The per-pod target after utilisation (§c4 TargetValue). */
  readonly targetPerPod: number;
  /** targetPerPod × ready pods: the load the ready pods are sized for. */
  readonly targetTotal: number;
  /** The decider's last valid desired pods (−1 before the first valid tick). */
  readonly desired: number;
  /** Replicas the backend currently holds (what the scaler asked for). */
  readonly requested: number;
  /** Ready pods (§c1). */
  readonly ready: number;
  readonly inPanic: boolean;
  /** serve: straight to the pods; proxy: through the activator (§b1). */
  readonly mode: 'serve' | 'proxy';
  /** The decider's excess burst capacity (§c5 EBC). */
  readonly excessBurstCapacity: number;
  /** PodAutoscaler Active condition: activating, active or inactive (§c7). */
  readonly state: 'activating' | 'active' | 'inactive';
  /** Requests waiting in the activators for capacity (sum over activators, last report). */
  readonly activatorQueue: number;
  /** Longest wait for capacity among requests the activators dispatched in their last period, in seconds. */
  readonly coldStartWaitSeconds: number;
}

/** Fifteen minutes of one sample a second. */
export const DEFAULT_HISTORY_SAMPLES = 15 * 60;

/** A fixed-size ring: `push` overwrites the oldest entry once full. */
class Ring<T> {
  readonly #items: (T | undefined)[];
  #start = 0;
  #size = 0;

  constructor(capacity: number) {
    this.#items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    const cap = this.#items.length;
    this.#items[(this.#start + this.#size) % cap] = item;
    if (this.#size < cap) this.#size++;
    else this.#start = (this.#start + 1) % cap;
  }

  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.#size; i++) out.push(this.#items[(this.#start + i) % this.#items.length] as T);
    return out;
  }
}

/**
 * Recent samples of every revision, `capacity` per revision, so a page opened now can draw the last minutes.
 * Memory is bounded: capacity × revisions samples of ~300 bytes (900 × 100 revisions ≈ 27 MB worst case).
 */
export class SampleHistory {
  readonly #capacity: number;
  readonly #rings = new Map<string, Ring<RevisionSample>>();

  constructor(capacity = DEFAULT_HISTORY_SAMPLES) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`history capacity must be a positive integer, got ${capacity}`);
    this.#capacity = capacity;
  }

  add(key: string, sample: RevisionSample): void {
    let ring = this.#rings.get(key);
    if (!ring) {
      ring = new Ring(this.#capacity);
      this.#rings.set(key, ring);
    }
    ring.push(sample);
  }

  /** Forgets a revision's history (when it is removed). */
  drop(key: string): void {
    this.#rings.delete(key);
  }

  /** Every kept sample with `seq > afterSeq`, in seq order (time order across revisions). */
  since(afterSeq = 0): RevisionSample[] {
    const out: RevisionSample[] = [];
    for (const ring of this.#rings.values()) for (const s of ring.toArray()) if (s.seq > afterSeq) out.push(s);
    return out.sort((a, b) => a.seq - b.seq);
  }
}
