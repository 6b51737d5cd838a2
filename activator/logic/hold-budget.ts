/**
 * Bounds on what the activator holds while a revision has no capacity: waiting requests per revision and in total,
 * and body bytes. Knative bounds buffering only by the request timeout (§b3: depth 10 000 + 2^31−1 slots), so a long
 * outage or a large burst can exhaust the activator's memory; these bounds keep memory flat whatever the load (a
 * Tide addition beyond Knative). Pure bookkeeping: the HTTP adapter asks before it holds a request.
 */

export interface HoldLimits {
  /** Requests that may wait for one revision at once. */
  readonly maxWaitingPerRevision: number;
  /** Requests that may wait across all revisions at once. */
  readonly maxWaitingTotal: number;
  /** Body bytes that waiting requests may hold in the activator's memory at once, over all revisions. */
  readonly maxHeldBodyBytes: number;
}

/** Why a request was refused; each maps to a 503 with Retry-After. */
export type HoldRefusal = 'revision-full' | 'total-full' | 'body-full';

/** A granted hold. `release` gives its place and bytes back; it is idempotent. */
export interface HoldTicket {
  readonly bodyBytes: number;
  release(): void;
}

export class HoldBudget {
  readonly #limits: HoldLimits;
  readonly #perRevision = new Map<string, number>();
  #total = 0;
  #bodyBytes = 0;

  constructor(limits: HoldLimits) {
    this.#limits = limits;
  }

  /** Requests waiting now, over all revisions. */
  get waiting(): number {
    return this.#total;
  }

  /** Body bytes reserved by waiting requests now. */
  get heldBodyBytes(): number {
    return this.#bodyBytes;
  }

  /** Requests waiting now for one revision. */
  waitingFor(key: string): number {
    return this.#perRevision.get(key) ?? 0;
  }

  /**
   * Reserves a waiting place for `key` and `bodyBytes` of body (the most the request can hold while paused), or
   * says which bound it would break. Checked in order: revision, total, bytes.
   */
  tryHold(key: string, bodyBytes: number): HoldTicket | HoldRefusal {
    const mine = this.#perRevision.get(key) ?? 0;
    if (mine >= this.#limits.maxWaitingPerRevision) return 'revision-full';
    if (this.#total >= this.#limits.maxWaitingTotal) return 'total-full';
    if (bodyBytes > 0 && this.#bodyBytes + bodyBytes > this.#limits.maxHeldBodyBytes) return 'body-full';
    this.#perRevision.set(key, mine + 1);
    this.#total++;
    this.#bodyBytes += bodyBytes;
    let released = false;
    return {
      bodyBytes,
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        this.#bodyBytes -= bodyBytes;
        const n = (this.#perRevision.get(key) ?? 1) - 1;
        if (n <= 0) this.#perRevision.delete(key);
        else this.#perRevision.set(key, n);
      },
    };
  }
}
