/**
 * Probes the user container the way Knative's queue-proxy does (docs/knative-parity.md §a6, `pkg/queue/readiness/probe.go`):
 * TCP, HTTP GET or gRPC health check, all probes in parallel, aggressive polling when `periodSeconds` is 0, one shared in-flight probe.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { PROBE_USER_AGENTS, H } from '../../common/http/headers.js';
import type { ProbeAction, ReadinessProbeSpec } from '../config.js';

/** Knative's aggressive mode: poll every 50 ms, 100 ms per attempt, for up to 10 s. */
export const AGGRESSIVE_PROBE = { intervalMs: 50, attemptTimeoutMs: 100, totalMs: 10_000 } as const;

/** One attempt: resolves true on success, false on failure or timeout; never rejects. */
export function probeOnce(action: ProbeAction, timeoutMs: number): Promise<boolean> {
  switch (action.kind) {
    case 'tcp':
      return probeTcp(action.host, action.port, timeoutMs);
    case 'http':
      return probeHttp(action, timeoutMs);
    case 'grpc':
      // grpc-js is loaded only by an app that asks for a grpc probe (cold path: ~100 ms of imports otherwise).
      return import('./grpc-health-probe.js').then(
        (m) => m.probeGrpcHealth(action.host, action.port, action.service, timeoutMs),
        () => false,
      );
  }
}

function probeTcp(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function probeHttp(action: Extract<ProbeAction, { kind: 'http' }>, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { [H.userAgent]: PROBE_USER_AGENTS.queueProxy, [H.networkProbe]: 'queue' };
    for (const [k, v] of action.headers) headers[k.toLowerCase()] = v;
    // node:https (with node:tls, ~10 ms) is loaded by the first https probe, not by every queue-proxy's start.
    const req = (action.scheme === 'https' ? process.getBuiltinModule('node:https').request : httpRequest)({
      host: action.host,
      port: action.port,
      path: action.path,
      method: 'GET',
      headers,
      agent: false,
      ...(action.scheme === 'https' ? { rejectUnauthorized: false } : {}),
    });
    let settled = false;
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    req.once('response', (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      done(status >= 200 && status < 400);
    });
    req.once('error', () => done(false));
    req.end();
  });
}

/** Answers "is the app ready?" for health checks; concurrent callers share one in-flight probe. */
export interface ReadinessCheck {
  isReady(): Promise<boolean>;
}

export class ReadinessProber implements ReadinessCheck {
  readonly #probes: readonly ReadinessProbeSpec[];
  readonly #attempt: (action: ProbeAction, timeoutMs: number) => Promise<boolean>;
  #inFlight: Promise<boolean> | undefined;
  #closed = false;
  #lastResult = false;

  constructor(probes: readonly ReadinessProbeSpec[], attempt: (action: ProbeAction, timeoutMs: number) => Promise<boolean> = probeOnce) {
    this.#probes = probes;
    this.#attempt = attempt;
  }

  /** The result of the last finished probe (false before any). */
  get lastResult(): boolean {
    return this.#lastResult;
  }

  isReady(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.#inFlight) return this.#inFlight;
    const p = Promise.all(this.#probes.map((s) => this.#probeContainer(s))).then((all) => all.every(Boolean));
    this.#inFlight = p.then((ok) => {
      this.#inFlight = undefined;
      this.#lastResult = ok;
      return ok;
    });
    return this.#inFlight;
  }

  /** Stops polling loops early (shutdown). */
  close(): void {
    this.#closed = true;
  }

  async #probeContainer(spec: ReadinessProbeSpec): Promise<boolean> {
    if (spec.periodMs > 0) return this.#attempt(spec.action, spec.timeoutMs);
    // §a6 aggressive mode: until successThreshold consecutive passes, or 10 s.
    const deadline = Date.now() + AGGRESSIVE_PROBE.totalMs;
    let passes = 0;
    for (;;) {
      if (this.#closed) return false;
      const ok = await this.#attempt(spec.action, AGGRESSIVE_PROBE.attemptTimeoutMs);
      passes = ok ? passes + 1 : 0;
      if (passes >= spec.successThreshold) return true;
      if (Date.now() + AGGRESSIVE_PROBE.intervalMs > deadline) return false;
      await new Promise((r) => setTimeout(r, AGGRESSIVE_PROBE.intervalMs).unref());
    }
  }
}
