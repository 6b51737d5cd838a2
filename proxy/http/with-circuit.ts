/**
 * Fails fast while the app circuit is open (Tide, beyond Knative): 503 + `Retry-After`, before the request takes a
 * place in the breaker queue. Requests refused here never reach the circuit's counts.
 */
import { H } from '../../common/http/headers.js';
import { respondText, type Handler, type ProxyResponse } from '../../common/http/types.js';
import type { CircuitGate } from './circuit.js';

export const CIRCUIT_OPEN_BODY = 'circuit open';

/** Writes the circuit's 503. */
export function refuseOpenCircuit(res: ProxyResponse, circuit: CircuitGate): void {
  if (res.headersSent) return;
  res.setHeader(H.retryAfter, String(circuit.retryAfterSeconds()));
  respondText(res, 503, CIRCUIT_OPEN_BODY);
}

export function withCircuit(next: Handler, circuit: CircuitGate, onReject: () => void): Handler {
  return (req, res, startMs) => {
    if (circuit.isRejecting()) {
      onReject();
      refuseOpenCircuit(res, circuit);
      return;
    }
    return next(req, res, startMs);
  };
}
