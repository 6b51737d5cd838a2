/**
 * The simulated revision: pods that take time to start, and requests that run on ready pods or wait for capacity.
 * A fluid, event-driven model on a virtual clock (seconds): no timers, no randomness.
 */
import type { Workload, WorkloadCursor } from './trace.js';

/** Remainders below this are floating-point dust, not requests. */
const EPS = 1e-9;

export interface RevisionModelOptions {
  /** Requests one pod runs at once; 0 = unlimited (then one ready pod serves everything). */
  readonly containerConcurrency: number;
  /** Seconds from a pod being asked for to it being ready. */
  readonly podStartSeconds: number;
  /** Pods already ready at time 0. */
  readonly initialReadyPods: number;
  /**
   * A request still waiting this long after arriving is given up (the activator's and queue-proxy's request
   * timeout answers 504, §a8, §b2). 0 = requests wait for ever.
   */
  readonly timeoutSeconds?: number;
}

/** What happened over one interval (normally one second), as time integrals and counts. */
export interface IntervalTotals {
  /** ∫(waiting + running) dt: divided by the interval, the average concurrency counted from arrival (§a5). */
  inSystemArea: number;
  /** ∫waiting dt: request-seconds spent waiting for capacity. */
  waitingArea: number;
  /** Requests that arrived. */
  arrivals: number;
  /** Requests given up after waiting the whole request timeout. */
  timedOut: number;
  /** ∫(ready + starting pods) dt: pod-seconds paid for. */
  podArea: number;
  /** ∫ready pods dt. */
  readyArea: number;
}

function emptyTotals(): IntervalTotals {
  return { inSystemArea: 0, waitingArea: 0, arrivals: 0, timedOut: 0, podArea: 0, readyArea: 0 };
}

/** Min-heap of running batches keyed by end time (parallel arrays, no per-entry objects). */
class EndHeap {
  #end: number[] = [];
  #count: number[] = [];

  get size(): number {
    return this.#end.length;
  }

  peekEnd(): number {
    return this.#end.length > 0 ? this.#end[0]! : Infinity;
  }

  push(end: number, count: number): void {
    const e = this.#end;
    const c = this.#count;
    let i = e.length;
    e.push(end);
    c.push(count);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (e[parent]! <= end) break;
      e[i] = e[parent]!;
      c[i] = c[parent]!;
      i = parent;
    }
    e[i] = end;
    c[i] = count;
  }

  /** Removes the earliest batch and returns its count. */
  pop(): number {
    const e = this.#end;
    const c = this.#count;
    const top = c[0]!;
    const lastE = e.pop()!;
    const lastC = c.pop()!;
    const n = e.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const m = r < n && e[r]! < e[l]! ? r : l;
        if (e[m]! >= lastE) break;
        e[i] = e[m]!;
        c[i] = c[m]!;
        i = m;
      }
      e[i] = lastE;
      c[i] = lastC;
    }
    return top;
  }
}

/**
 * Requests arrive from the workload and run on ready pods, first come first served; what does not fit waits
 * (at zero pods everything waits, as in the activator). Capacity = ready × containerConcurrency (unlimited when 0
 * and at least one pod is ready). Scaling up adds pods that become ready `podStartSeconds` later; scaling down removes
 * starting pods first, then ready ones, at once (running requests finish; no new ones are admitted beyond capacity).
 */
export class RevisionModel {
  readonly #w: WorkloadCursor;
  readonly #cc: number;
  readonly #podStart: number;
  readonly #timeout: number;
  #timedOut = 0;
  #now = 0;
  // FIFO of waiting batches.
  #qAt: number[] = [];
  #qCount: number[] = [];
  #qDur: number[] = [];
  #qHead = 0;
  #waiting = 0;
  #running = 0;
  readonly #heap = new EndHeap();
  #ready: number;
  /** Ready times of starting pods, ascending (podStart is constant and time only moves forward). */
  #pending: number[] = [];
  #totals = emptyTotals();
  #coldStarts = 0;
  #waitHistogramMs = new Map<number, number>();
  #admitted = 0;
  #waitSumS = 0;
  #maxWaitS = 0;

  constructor(workload: Workload, opts: RevisionModelOptions) {
    this.#w = workload.open();
    this.#cc = opts.containerConcurrency;
    this.#podStart = opts.podStartSeconds;
    this.#timeout = opts.timeoutSeconds !== undefined && opts.timeoutSeconds > 0 ? opts.timeoutSeconds : Infinity;
    this.#ready = opts.initialReadyPods;
  }

  get now(): number {
    return this.#now;
  }
  get readyPods(): number {
    return this.#ready;
  }
  /** Ready plus starting pods: the replicas that exist. */
  get pods(): number {
    return this.#ready + this.#pending.length;
  }
  get waiting(): number {
    return this.#waiting;
  }
  get running(): number {
    return this.#running;
  }
  get inSystem(): number {
    return this.#waiting + this.#running;
  }
  /** Times the revision went from 0 to ≥1 ready pods while requests were waiting. */
  get coldStarts(): number {
    return this.#coldStarts;
  }
  /** Requests given up after waiting the whole request timeout. */
  get timedOut(): number {
    return this.#timedOut;
  }
  /** Requests admitted to a pod so far. */
  get admitted(): number {
    return this.#admitted;
  }
  /** Longest wait of any admitted request, seconds. */
  get maxWaitSeconds(): number {
    return this.#maxWaitS;
  }
  /** Arrival time of the next request not yet arrived, or Infinity. */
  get nextArrival(): number {
    return this.#w.at;
  }

  /** Mean wait of admitted requests, seconds; 0 if none admitted. */
  waitMeanSeconds(): number {
    return this.#admitted > EPS ? this.#waitSumS / this.#admitted : 0;
  }

  /** Capacity in concurrent requests. */
  capacity(): number {
    if (this.#ready <= 0) return 0;
    return this.#cc === 0 ? Infinity : this.#ready * this.#cc;
  }

  /** The wait that `q` (0..1) of admitted requests do not exceed, seconds (ms resolution). 0 if none admitted. */
  waitQuantile(q: number): number {
    if (this.#admitted <= EPS) return 0;
    const keys = [...this.#waitHistogramMs.keys()].sort((x, y) => x - y);
    const want = q * this.#admitted;
    let acc = 0;
    for (const k of keys) {
      acc += this.#waitHistogramMs.get(k)!;
      if (acc >= want - EPS) return k / 1000;
    }
    return keys.length > 0 ? keys[keys.length - 1]! / 1000 : 0;
  }

  /** Returns what happened since the last call and starts a new interval. */
  takeTotals(): IntervalTotals {
    const t = this.#totals;
    this.#totals = emptyTotals();
    return t;
  }

  /**
   * Sets the number of pods (ready + starting) at the current time. More pods start now and are ready after the
   * start-up delay; fewer pods removes starting pods (newest first), then ready ones.
   */
  setPods(n: number): void {
    const want = Math.max(0, Math.floor(n));
    let have = this.pods;
    while (have < want) {
      this.#pending.push(this.#now + this.#podStart);
      have++;
    }
    while (have > want && this.#pending.length > 0) {
      this.#pending.pop();
      have--;
    }
    if (have > want) this.#ready = Math.max(0, this.#ready - (have - want));
    // A zero start-up delay makes pods ready at once; arrivals due now are left to advanceTo.
    this.#processDue(false);
  }

  /**
   * Moves the clock to `t` (seconds), processing every arrival, completion and pod start strictly before `t` and
   * integrating the interval totals. Events at exactly `t` are left for the next call, so an interval [a, b) owns
   * the arrivals at a but not those at b.
   */
  advanceTo(t: number): void {
    if (t < this.#now) throw new RangeError(`time moves forward only: ${t} < ${this.#now}`);
    for (;;) {
      const headTimeout = this.#qHead < this.#qAt.length ? this.#qAt[this.#qHead]! + this.#timeout : Infinity;
      const next = Math.min(this.nextArrival, this.#heap.peekEnd(), this.#pending.length > 0 ? this.#pending[0]! : Infinity, headTimeout);
      if (next >= t) {
        this.#integrate(t);
        return;
      }
      this.#integrate(next);
      this.#processDue();
    }
  }

  /**
   * Completes requests and readies pods due exactly now, and admits waiting requests, without taking arrivals due
   * now (they belong to the next interval). Call at an interval boundary before reading the pod count, so a pod
   * ready at exactly t counts at t.
   */
  settle(): void {
    this.#processDue(false);
  }

  #integrate(to: number): void {
    const dt = to - this.#now;
    if (dt > 0) {
      const tot = this.#totals;
      tot.inSystemArea += (this.#waiting + this.#running) * dt;
      tot.waitingArea += this.#waiting * dt;
      const pods = this.#ready + this.#pending.length;
      tot.podArea += pods * dt;
      tot.readyArea += this.#ready * dt;
    }
    this.#now = to;
  }

  /** Handles everything due at `now`: completions, then pods becoming ready, then arrivals, then admission. */
  #processDue(withArrivals = true): void {
    const now = this.#now;
    while (this.#heap.size > 0 && this.#heap.peekEnd() <= now) this.#running -= this.#heap.pop();
    if (this.#running < EPS) this.#running = 0;
    let becameReady = 0;
    while (this.#pending.length > 0 && this.#pending[0]! <= now) {
      this.#pending.shift();
      becameReady++;
    }
    if (becameReady > 0) {
      if (this.#ready === 0 && this.#waiting > EPS) this.#coldStarts++;
      this.#ready += becameReady;
    }
    const w = this.#w;
    while (withArrivals && w.at <= now) {
      const c = w.count;
      this.#qAt.push(w.at);
      this.#qCount.push(c);
      this.#qDur.push(w.duration);
      this.#waiting += c;
      this.#totals.arrivals += c;
      w.next();
    }
    this.#admit();
  }

  #admit(): void {
    // The oldest requests first: any that have waited the whole timeout get a 504 instead of a pod.
    while (this.#qHead < this.#qAt.length && this.#qAt[this.#qHead]! + this.#timeout <= this.#now) {
      const c = this.#qCount[this.#qHead]!;
      this.#waiting -= c;
      this.#timedOut += c;
      this.#totals.timedOut += c;
      this.#qHead++;
    }
    let free = this.capacity() - this.#running;
    while (free > EPS && this.#qHead < this.#qAt.length) {
      const h = this.#qHead;
      const c = this.#qCount[h]!;
      const take = Math.min(c, free);
      const wait = this.#now - this.#qAt[h]!;
      this.#heap.push(this.#now + this.#qDur[h]!, take);
      this.#running += take;
      this.#waiting -= take;
      free -= take;
      this.#admitted += take;
      this.#waitSumS += wait * take;
      if (wait > this.#maxWaitS) this.#maxWaitS = wait;
      const key = Math.round(wait * 1000);
      this.#waitHistogramMs.set(key, (this.#waitHistogramMs.get(key) ?? 0) + take);
      if (c - take > EPS) {
        this.#qCount[h] = c - take;
      } else {
        this.#qHead++;
      }
    }
    if (this.#waiting < EPS) this.#waiting = 0;
    // Drop the consumed head now and then so the arrays do not grow for the whole trace.
    if (this.#qHead > 4096 && this.#qHead * 2 > this.#qAt.length) {
      this.#qAt = this.#qAt.slice(this.#qHead);
      this.#qCount = this.#qCount.slice(this.#qHead);
      this.#qDur = this.#qDur.slice(this.#qHead);
      this.#qHead = 0;
    }
  }
}
