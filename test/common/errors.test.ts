import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BodyTooLargeError,
  UnforwardableError,
  CircuitOpenError,
  ClientGoneError,
  ConfigError,
  ERRORS,
  NoPodReachableError,
  QueueFullError,
  QueueTimeoutError,
  ScrapeFailedError,
  TideError,
  UnknownRevisionError,
  UpstreamAbortedError,
  UpstreamFailedError,
  UpstreamResetError,
  UpstreamTimeoutError,
  failureReply,
  hasCode,
  type ErrorCode,
} from '../../common/errors.js';

/** One instance of every class, with what a client must get for it. */
const CASES: { err: TideError; code: ErrorCode; status: number; body: string; label: string }[] = [
  { err: new ConfigError('src', [{ key: 'K', message: 'bad' }]), code: 'CONFIG_INVALID', status: 0, body: 'src: K: bad', label: 'config_invalid' },
  { err: new BodyTooLargeError(10), code: 'BODY_TOO_LARGE', status: 413, body: 'request body over 10 bytes', label: 'body_too_large' },
  { err: new UnforwardableError('ERR_INVALID_CHAR'), code: 'UNFORWARDABLE', status: 400, body: 'request cannot be forwarded: ERR_INVALID_CHAR', label: 'unforwardable' },
  { err: new UpstreamResetError(2), code: 'UPSTREAM_RESET', status: 502, body: 'upstream reset the stream (2)', label: 'upstream_reset' },
  { err: new UpstreamFailedError('ECONNREFUSED'), code: 'UPSTREAM_FAILED', status: 502, body: 'upstream error: ECONNREFUSED', label: 'upstream_failed' },
  { err: new UpstreamTimeoutError('request timeout'), code: 'UPSTREAM_TIMEOUT', status: 504, body: 'request timeout', label: 'upstream_timeout' },
  { err: new UpstreamAbortedError(), code: 'UPSTREAM_ABORTED', status: 0, body: 'upstream exchange aborted by the proxy', label: 'upstream_aborted' },
  { err: new NoPodReachableError(), code: 'NO_POD_REACHABLE', status: 502, body: 'activator: no pod reachable', label: 'no_pod_reachable' },
  { err: new QueueFullError('pending request queue full'), code: 'QUEUE_FULL', status: 503, body: 'pending request queue full', label: 'queue_full' },
  { err: new QueueTimeoutError('activator request timeout'), code: 'QUEUE_TIMEOUT', status: 504, body: 'activator request timeout', label: 'queue_timeout' },
  { err: new CircuitOpenError(), code: 'CIRCUIT_OPEN', status: 503, body: 'circuit open', label: 'circuit_open' },
  { err: new UnknownRevisionError(), code: 'UNKNOWN_REVISION', status: 404, body: 'no such revision', label: 'unknown_revision' },
  { err: new ClientGoneError(), code: 'CLIENT_GONE', status: 0, body: 'client gone', label: 'client_gone' },
  { err: new ScrapeFailedError('3 of 5'), code: 'SCRAPE_FAILED', status: 0, body: '3 of 5', label: 'scrape_failed' },
];

describe('errors: one class per failure, one mapping to status, body and metric label', () => {
  it.each(CASES)('$code → $status', ({ err, code, status, body, label }) => {
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe(code);
    expect(err.httpStatus).toBe(status);
    expect(hasCode(err, code)).toBe(true);
    expect(failureReply(err)).toEqual({ status, body, label });
  });

  it('the cases cover every code, each once', () => {
    expect(CASES.map((c) => c.code).sort()).toEqual(Object.keys(ERRORS).sort());
  });

  it('anything that is not a TideError is a bug: 500 internal error', () => {
    expect(failureReply(new Error('boom'))).toEqual({ status: 500, body: 'internal error', label: 'internal' });
    expect(failureReply('a string')).toEqual({ status: 500, body: 'internal error', label: 'internal' });
    expect(hasCode(new Error('x'), 'QUEUE_FULL')).toBe(false);
  });

  it('every code is produced somewhere in the product (no dead codes)', () => {
    const root = join(import.meta.dirname, '..', '..');
    const errorsTs = join(root, 'common', 'errors.ts');
    let text = '';
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.ts') && p !== errorsTs) text += readFileSync(p, 'utf8');
      }
    };
    for (const d of ['common', 'proxy', 'activator', 'autoscaler', 'local', 'cli']) walk(join(root, d));
    expect(CASES.filter(({ err }) => !text.includes(`new ${err.constructor.name}(`)).map((c) => c.code)).toEqual([]);
  });
});
