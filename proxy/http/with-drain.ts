/**
 * The drainer stage (docs/knative-parity.md §a3 step 3, §a6, §a7): answers health checks and hash probes for any path, before
 * metrics, stats or the breaker see them; every other request restarts the drain's quiet timer and goes on.
 */
import { respondText, type Handler, type ProxyResponse } from '../../common/http/types.js';
import type { Drainer } from '../drainer.js';
import { answerHashProbe, answerHealthCheck, classifyProbe, type ProbeAnswer } from '../probes.js';
import type { ReadinessCheck } from './readiness-prober.js';

function send(res: ProxyResponse, a: ProbeAnswer): void {
  if (res.headersSent) return;
  if (a.headers) for (const [k, v] of Object.entries(a.headers)) res.setHeader(k, v);
  respondText(res, a.status, a.body);
}

/** `onReadyAnswer` is called after each health check answered 200 has been written (main defers start-up work to it). */
export function withDrain(next: Handler, drainer: Drainer, readiness: ReadinessCheck, onReadyAnswer?: () => void): Handler {
  const isReady = (): Promise<boolean> => readiness.isReady();
  return (req, res, startMs) => {
    const kind = classifyProbe(req.headers);
    if (kind === 'none') {
      drainer.requestSeen();
      return next(req, res, startMs);
    }
    if (kind === 'hash') {
      send(res, drainer.isDraining ? { status: 503, body: 'shutting down' } : answerHashProbe(req.headers));
      return;
    }
    return answerHealthCheck(req.headers, drainer.isDraining, isReady).then((a) => {
      send(res, a);
      if (a.status === 200) onReadyAnswer?.();
    });
  };
}
