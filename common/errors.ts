/** Errors with stable codes. Match on `err.code`, never on the message. */

/** Every code a Tide component can produce, with the HTTP status it maps to when it ends a request. */
export const ERROR_CODES = {
  // Configuration and input.
  CONFIG_INVALID: 0,
  INPUT_INVALID: 400,
  // shared proxy core (common/http)
  HTTP_BAD_REQUEST: 400,
  HTTP_HEADERS_TOO_LARGE: 431,
  HTTP_BODY_TOO_LARGE: 413,
  HTTP_UPSTREAM_ERROR: 502,
  HTTP_UPSTREAM_TIMEOUT: 504,
  // queue-proxy
  QP_QUEUE_FULL: 503,
  QP_CIRCUIT_OPEN: 503,
  QP_UPSTREAM_TIMEOUT: 504,
  QP_UPSTREAM_ERROR: 502,
  QP_BAD_REQUEST: 400,
  QP_HEADERS_TOO_LARGE: 431,
  QP_BODY_TOO_LARGE: 413,
  QP_DRAINING: 503,
  // activator
  ACT_UNKNOWN_REVISION: 404,
  ACT_QUEUE_FULL: 503,
  ACT_CAPACITY_TIMEOUT: 504,
  ACT_UPSTREAM_ERROR: 502,
  // autoscaler
  AS_NO_DATA: 0,
  AS_SCRAPE_FAILED: 0,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A refusal or failure the data plane expects and handles; `httpStatus` is 0 where no request is involved. */
export class DataPlaneError extends Error {
  override readonly name = 'DataPlaneError';
  readonly code: ErrorCode;
  readonly httpStatus: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.httpStatus = ERROR_CODES[code];
  }
}

/** One problem found while reading configuration: which key, and what is wrong with it. */
export interface ConfigProblem {
  /** The key, variable, flag or field, exactly as the user wrote it (e.g. `CONTAINER_CONCURRENCY`). */
  readonly key: string;
  readonly message: string;
}

/** All the problems found in one configuration source, reported together. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID' as const;
  readonly problems: readonly ConfigProblem[];

  constructor(source: string, problems: readonly ConfigProblem[]) {
    super(`${source}: ${problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`);
    this.problems = problems;
  }
}

/** True if `err` is a DataPlaneError with the given code. */
export function hasCode(err: unknown, code: ErrorCode): err is DataPlaneError {
  return err instanceof DataPlaneError && err.code === code;
}
