/**
 * Fails fast while the app circuit is open (Tide, beyond Knative): 503 + `Retry-After`, before the request takes a
 * place in the breaker queue. Requests refused here never reach the circuit's counts.
 */
import { CircuitOpenError } from '../../common/errors.js';
import { H } from '../../common/http/headers.js';
import { respondFailure, type Handler, type ProxyResponse } from '../../common/http/types.js';
import type { CircuitGate } from './circuit.js';

/** The one refusal, shared: it carries no per-request data. */
export const CIRCUIT_OPEN = new CircuitOpenError();

/** Writes the circuit's 503. */
export function refuseOpenCircuit(res: ProxyResponse, circuit: CircuitGate): void {
  if (res.headersSent) return;
  res.setHeader(H.retryAfter, String(circuit.retryAfterSeconds()));
  respondFailure(res, CIRCUIT_OPEN);
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
