/**
 * Warm-up of the serving path before the first readiness answer (issue 15 item 2). A fresh queue-proxy under load spends
 * its first second or two in cold code: every request runs node:http's server, undici's client and our fast path in
 * V8's interpreter and baseline tiers (a cpu profile of the first 1.7 s under 1,000 req/s showed ~10× the CPU per
 * request of steady state, spread over node core, undici and Tide). This drives a bounded number of requests through
 * a throwaway copy of the same path (buildQueueProxy + createListener, the same forwarder code) to an in-process
 * loopback sink, so those functions are compiled with feedback before real traffic arrives. The user's app never sees
 * these requests, and no stat or metric of the real proxy counts them.
 */
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock } from '../common/clock.js';
import { createListener } from '../common/http/server.js';
import { startTrace } from '../common/start-trace.js';
import { buildQueueProxy } from './app.js';
import type { QueueProxyConfig } from './config.js';

export interface WarmUpOptions {
  /** Requests to send at most. */
  requests: number;
  /** How many are in flight at once (also the number of connections each way). */
  concurrency: number;
  /** Stop starting new requests after this long. */
  maxMs: number;
}

export const DEFAULT_WARM_UP: Readonly<WarmUpOptions> = { requests: 400, concurrency: 16, maxMs: 60 };

/** Runs the warm-up; resolves with how many requests completed and how long it took. Never throws. */
export async function warmUpServingPath(config: Readonly<QueueProxyConfig>, opts: Readonly<WarmUpOptions> = DEFAULT_WARM_UP): Promise<{ requests: number; ms: number }> {
  const started = performance.now();
  const sink = createServer((req, res) => {
    req.resume();
    res.end('ok');
  });
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  let twin: ReturnType<typeof buildQueueProxy> | undefined;
  let listener: ReturnType<typeof createListener> | undefined;
  let done = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      sink.once('error', reject);
      sink.listen(0, '127.0.0.1', resolve);
    });
    const sinkPort = (sink.address() as AddressInfo).port;
    twin = buildQueueProxy({
      config: { ...config, userHost: '127.0.0.1', userPort: sinkPort, readinessProbes: [] },
      readiness: { isReady: () => Promise.resolve(true) },
    });
    listener = createListener({ handler: twin.handler, onUpgrade: twin.onUpgrade, clock: systemClock, onError: () => undefined });
    const port = await listener.listen(0, '127.0.0.1');
    startTrace.mark('warm-up twin listening');
    const deadline = started + opts.maxMs;
    const one = (): Promise<void> =>
      new Promise((resolve) => {
        const req = request({ host: '127.0.0.1', port, path: '/', agent, method: 'GET' }, (res) => {
          res.resume();
          res.on('end', () => {
            done++;
            resolve();
          });
          res.on('error', () => resolve());
        });
        req.on('error', () => resolve());
        req.end();
      });
    let sent = 0;
    const lane = async (): Promise<void> => {
      while (sent < opts.requests && performance.now() < deadline) {
        sent++;
        await one();
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, lane));
  } catch {
    // A warm-up that cannot run (no loopback) leaves the proxy as it was.
  } finally {
    agent.destroy();
    await listener?.close({ timeoutMs: 0 }).catch(() => undefined);
    await twin?.close().catch(() => undefined);
    sink.closeAllConnections();
    await new Promise<void>((r) => sink.close(() => r()));
  }
  startTrace.mark('warm-up done');
  return { requests: done, ms: performance.now() - started };
}
