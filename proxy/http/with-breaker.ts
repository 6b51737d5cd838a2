/**
 * Knative's breaker stage (docs/knative-parity.md §a4): CC running slots, a queue of 10 × CC, an immediate 503
 * `pending request queue full` beyond. A wait ends when a slot frees, the client leaves (nothing written), or the
 * request's earliest timeout passes (504 `request timeout`, as Knative's timeout handler, which wraps the breaker, answers).
 */
import { QUEUE_FULL_BODY, type Breaker, type Release } from '../../common/breaker.js';
import type { Clock } from '../../common/clock.js';
import { QueueFullError, QueueTimeoutError } from '../../common/errors.js';
import { respondFailure, type Handler } from '../../common/http/types.js';

export interface BreakerStageOptions {
  clock: Clock;
  /** The earliest of the request's timers (total, response-start, idle; all count from entry, §a8); 0 = none. */
  queueTimeoutMs: number;
  timeoutBody: string;
  onOverflow: () => void;
}

/** The overflow refusal, shared: it carries no per-request data. */
const QUEUE_FULL = new QueueFullError(QUEUE_FULL_BODY);

export function withBreaker(next: Handler, breaker: Breaker, opts: BreakerStageOptions): Handler {
  const { clock, queueTimeoutMs, timeoutBody, onOverflow } = opts;
  const timedOut = new QueueTimeoutError(timeoutBody);
  return async (req, res, startMs) => {
    // Fast path: a free slot and nobody waiting ahead; no timer, no listener.
    let release: Release | undefined = breaker.tryAcquire();
    if (release === undefined) {
      if (breaker.inFlight >= breaker.totalSlots) {
        onOverflow();
        respondFailure(res, QUEUE_FULL);
        return;
      }
      const ac = new AbortController();
      const onClose = (): void => ac.abort(new Error('client gone'));
      res.once('close', onClose);
      const cancelTimer =
        queueTimeoutMs > 0 ? clock.setTimeout(() => ac.abort(timedOut), Math.max(0, startMs + queueTimeoutMs - clock.now())) : undefined;
      try {
        release = await breaker.acquire(ac.signal);
      } catch (err) {
        // The breaker's own QueueFullError, our timeout; a client that left (or a bug: 500) otherwise.
        if (err instanceof QueueFullError) onOverflow();
        if (err instanceof QueueFullError || err === timedOut) respondFailure(res, err);
        return;
      } finally {
        cancelTimer?.();
        res.off('close', onClose);
      }
    }
    try {
      await next(req, res, startMs);
    } finally {
      release();
    }
  };
}
