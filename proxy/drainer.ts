/**
 * The drain state machine (docs/knative-parity.md §a7, knative/pkg `network/handlers/drain.go`): once draining, health checks
 * fail; the drain finishes after a quiet period with no new request; each request restarts the quiet timer.
 */
import type { Cancel, Clock } from '../common/clock.js';

export class Drainer {
  readonly #clock: Clock;
  readonly #quietMs: number;
  #cancelTimer: Cancel | undefined;
  /** Set while a drain is under way or finished (until `reset`). */
  #done: Promise<void> | undefined;
  #resolve: (() => void) | undefined;
  #finished = false;

  constructor(clock: Clock, quietMs: number) {
    this.#clock = clock;
    this.#quietMs = quietMs;
  }

  /** True from the first `drain()` until `reset()`: health checks answer 503 `shutting down`. */
  get isDraining(): boolean {
    return this.#done !== undefined;
  }

  /** True once the quiet period has passed (and no `reset` since). */
  get isFinished(): boolean {
    return this.#finished;
  }

  /**
   * Starts the drain, or joins the one under way. Resolves when `quietMs` pass with no `requestSeen()`, or at `reset()`.
   * Never rejects.
   */
  drain(): Promise<void> {
    if (this.#done) return this.#done;
    this.#done = new Promise<void>((resolve) => {
      this.#resolve = resolve;
    });
    this.#arm();
    return this.#done;
  }

  /** A non-probe request arrived: while draining (and not finished), restart the quiet timer (§a7 step 1). */
  requestSeen(): void {
    if (this.#cancelTimer) this.#arm();
  }

  /**
   * Cancels the drain: everyone waiting in `drain()` returns and health checks pass again. Knative does this when
   * `/wait-for-drain` was called but no SIGTERM followed within 1 s (a liveness restart of the user container).
   */
  reset(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    const resolve = this.#resolve;
    this.#done = undefined;
    this.#resolve = undefined;
    this.#finished = false;
    resolve?.();
  }

  #arm(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = this.#clock.setTimeout(() => {
      this.#cancelTimer = undefined;
      this.#finished = true;
      this.#resolve?.();
    }, this.#quietMs);
  }
}
