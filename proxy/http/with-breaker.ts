/**
 * Knative's breaker stage (knative-reference §a4): CC running slots, a queue of 10 × CC, an immediate 503
 * `pending request queue full` beyond. A wait ends when a slot frees, the client leaves (nothing written), or the
 * request's earliest timeout passes (504 `request timeout`, as Knative's timeout handler, which wraps the breaker, answers).
 */
import type { Breaker, Release } from '../../common/breaker.js';
import type { Clock } from '../../common/clock.js';
import { hasCode } from '../../common/errors.js';
import { respondText, type Handler } from '../../common/http/types.js';

export interface BreakerStageOptions {
  clock: Clock;
  /** The earliest of the request's timers (total, response-start, idle; all count from entry, §a8); 0 = none. */
  queueTimeoutMs: number;
  timeoutBody: string;
  onOverflow: () => void;
}

const TIMED_OUT = new Error('timed out in the breaker queue');

export function withBreaker(next: Handler, breaker: Breaker, opts: BreakerStageOptions): Handler {
  const { clock, queueTimeoutMs, timeoutBody, onOverflow } = opts;
  return async (req, res, startMs) => {
    // Fast path: a free slot and nobody waiting ahead; no timer, no listener.
    let release: Release | undefined = breaker.tryAcquire();
    if (release === undefined) {
      if (breaker.inFlight >= breaker.totalSlots) {
        onOverflow();
        respondText(res, 503, 'pending request queue full');
        return;
      }
      const ac = new AbortController();
      const onClose = (): void => ac.abort(new Error('client gone'));
      res.once('close', onClose);
      const cancelTimer =
        queueTimeoutMs > 0 ? clock.setTimeout(() => ac.abort(TIMED_OUT), Math.max(0, startMs + queueTimeoutMs - clock.now())) : undefined;
      try {
        release = await breaker.acquire(ac.signal);
      } catch (err) {
        if (hasCode(err, 'QUEUE_FULL')) {
          onOverflow();
          respondText(res, 503, 'pending request queue full');
        } else if (err === TIMED_OUT) {
          respondText(res, 504, timeoutBody);
        }
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
