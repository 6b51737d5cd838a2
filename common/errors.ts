/**
 * Every failure a Tide component produces or relays, one class each with a stable `code` (undici's `errors.js` is the
 * model). Match on `err.code`, never on the message. For the failures that end a request, the message is the body the
 * client reads, and `ERRORS` below is the one place that says which HTTP status and metric label each code gets.
 */

/** Per code: the HTTP status it ends a request with (0: it never answers a client) and its metric label. */
export const ERRORS = {
  /** A configuration source, CLI flag or constructor option is invalid. */
  CONFIG_INVALID: { status: 0, label: 'config_invalid' },
  /** The request body went over the listener's limit. */
  BODY_TOO_LARGE: { status: 413, label: 'body_too_large' },
  /** The client's request cannot be expressed to the upstream (undici's or node:http2's checks refuse it); never the app's fault. */
  UNFORWARDABLE: { status: 400, label: 'unforwardable' },
  /** The upstream answered with a stream reset (h2c RST_STREAM) before finishing. */
  UPSTREAM_RESET: { status: 502, label: 'upstream_reset' },
  /** The upstream could not be reached or failed before a response started (the errno is the `cause`). */
  UPSTREAM_FAILED: { status: 502, label: 'upstream_failed' },
  /** One of the request's timers expired while the upstream had it (docs/knative-parity.md §a8). */
  UPSTREAM_TIMEOUT: { status: 504, label: 'upstream_timeout' },
  /** The proxy gave up the upstream exchange itself (timeout, client gone); never shown to a client. */
  UPSTREAM_ABORTED: { status: 0, label: 'upstream_aborted' },
  /** No pod took the request: every dispatch attempt failed before sending (activator). */
  NO_POD_REACHABLE: { status: 502, label: 'no_pod_reachable' },
  /** A bounded queue is full: the queue-proxy's breaker, the activator's hold bounds. */
  QUEUE_FULL: { status: 503, label: 'queue_full' },
  /** The request's deadline passed while it waited for capacity (breaker or throttler). */
  QUEUE_TIMEOUT: { status: 504, label: 'queue_timeout' },
  /** The app circuit is open (queue-proxy). */
  CIRCUIT_OPEN: { status: 503, label: 'circuit_open' },
  /** No revision matches the request (activator). */
  UNKNOWN_REVISION: { status: 404, label: 'unknown_revision' },
  /** The client left before an answer; nothing is written. */
  CLIENT_GONE: { status: 0, label: 'client_gone' },
  /** The autoscaler could not scrape enough pods, or stopped while waiting for them. */
  SCRAPE_FAILED: { status: 0, label: 'scrape_failed' },
} as const satisfies Record<string, { status: number; label: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** The base of every Tide error: a stable `code`; `httpStatus` 0 where no request is involved. */
export abstract class TideError extends Error {
  abstract readonly code: ErrorCode;
  get httpStatus(): number {
    return ERRORS[this.code].status;
  }
}

/** One problem found while reading configuration: which key, and what is wrong with it. */
export interface ConfigProblem {
  /** The key, variable, flag, field or option, exactly as the user wrote it (e.g. `CONTAINER_CONCURRENCY`). */
  readonly key: string;
  readonly message: string;
}

/** All the problems found in one configuration source (or one constructor's options), reported together. */
export class ConfigError extends TideError {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID' as const;
  readonly problems: readonly ConfigProblem[];

  constructor(source: string, problems: readonly ConfigProblem[]) {
    super(`${source}: ${problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`);
    this.problems = problems;
  }
}

export class BodyTooLargeError extends TideError {
  override readonly name = 'BodyTooLargeError';
  readonly code = 'BODY_TOO_LARGE' as const;
  constructor(limitBytes: number) {
    super(`request body over ${limitBytes} bytes`);
  }
}

export class UpstreamResetError extends TideError {
  override readonly name = 'UpstreamResetError';
  readonly code = 'UPSTREAM_RESET' as const;
  /** The RST_STREAM error code the upstream sent. */
  readonly rstCode: number;
  constructor(rstCode: number) {
    super(`upstream reset the stream (${rstCode})`);
    this.rstCode = rstCode;
  }
}

export class UnforwardableError extends TideError {
  override readonly name = 'UnforwardableError';
  readonly code = 'UNFORWARDABLE' as const;
  /** The refusing check's own code (`UND_ERR_INVALID_ARG`, `ERR_INVALID_CHAR`, ...). */
  readonly detail: string;
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`request cannot be forwarded: ${detail}`, options);
    this.detail = detail;
  }
}

export class UpstreamFailedError extends TideError {
  override readonly name = 'UpstreamFailedError';
  readonly code = 'UPSTREAM_FAILED' as const;
  /** The underlying failure's own code (`ECONNREFUSED`, `UND_ERR_SOCKET`, ...) as relayed in the 502 body. */
  readonly detail: string;
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`upstream error: ${detail}`, options);
    this.detail = detail;
  }
}

export class UpstreamTimeoutError extends TideError {
  override readonly name = 'UpstreamTimeoutError';
  readonly code = 'UPSTREAM_TIMEOUT' as const;
  /** `body` is the component's timeout text (`request timeout`, `activator request timeout`). */
  constructor(body: string) {
    super(body);
  }
}

export class UpstreamAbortedError extends TideError {
  override readonly name = 'UpstreamAbortedError';
  readonly code = 'UPSTREAM_ABORTED' as const;
  constructor() {
    super('upstream exchange aborted by the proxy');
  }
}

export class NoPodReachableError extends TideError {
  override readonly name = 'NoPodReachableError';
  readonly code = 'NO_POD_REACHABLE' as const;
  constructor() {
    super('activator: no pod reachable');
  }
}

export class QueueFullError extends TideError {
  override readonly name = 'QueueFullError';
  readonly code = 'QUEUE_FULL' as const;
  /** Which bound was hit, when there are several (the activator's `revision-full`, `total-full`, `body-full`). */
  readonly reason: string | undefined;
  constructor(body: string, reason?: string) {
    super(body);
    this.reason = reason;
  }
}

export class QueueTimeoutError extends TideError {
  override readonly name = 'QueueTimeoutError';
  readonly code = 'QUEUE_TIMEOUT' as const;
  /** `body` is the component's timeout text, as for UpstreamTimeoutError. */
  constructor(body: string) {
    super(body);
  }
}

export class CircuitOpenError extends TideError {
  override readonly name = 'CircuitOpenError';
  readonly code = 'CIRCUIT_OPEN' as const;
  constructor() {
    super('circuit open');
  }
}

export class UnknownRevisionError extends TideError {
  override readonly name = 'UnknownRevisionError';
  readonly code = 'UNKNOWN_REVISION' as const;
  constructor() {
    super('no such revision');
  }
}

export class ClientGoneError extends TideError {
  override readonly name = 'ClientGoneError';
  readonly code = 'CLIENT_GONE' as const;
  constructor() {
    super('client gone');
  }
}

export class ScrapeFailedError extends TideError {
  override readonly name = 'ScrapeFailedError';
  readonly code = 'SCRAPE_FAILED' as const;
}

/** True if `err` is a TideError with the given code. */
export function hasCode<C extends ErrorCode>(err: unknown, code: C): err is TideError & { readonly code: C } {
  return err instanceof TideError && err.code === code;
}

/** What a client gets for a failure, and the label it is counted under. */
export interface FailureReply {
  /** 0: write nothing (the client is gone, or the failure never ends a request). */
  readonly status: number;
  readonly body: string;
  readonly label: string;
}

const INTERNAL: FailureReply = { status: 500, body: 'internal error', label: 'internal' };

/**
 * The one mapping from a failure to the HTTP answer and the metric label: a TideError's status and label from `ERRORS`,
 * its message as the body; anything else is a bug, answered 500 `internal error`.
 */
export function failureReply(err: unknown): FailureReply {
  if (!(err instanceof TideError)) return INTERNAL;
  const e = ERRORS[err.code];
  return { status: e.status, body: err.message, label: e.label };
}
