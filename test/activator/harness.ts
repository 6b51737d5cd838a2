/** Builds an activator in-process on 127.0.0.1:0 with the shared listener, static sources and a recording stats sink. */
import * as http from 'node:http';
import { systemClock, type Clock } from '../../common/clock.js';
import { createListener, type Listener, type ListenerOptions } from '../../common/http/server.js';
import { silentLogger } from '../../common/logger.js';
import type { RevisionStat } from '../../common/stats.js';
import { buildActivator, type Activator, type StatsSink } from '../../activator/app.js';
import type { ActivatorConfig } from '../../activator/config.js';
import type { RevisionInfo } from '../../activator/endpoints.js';
import { StaticEndpointsSource, StaticRevisionSource } from '../../activator/static-source.js';
import { seededRandom } from '../support/seeded-random.js';

export class RecordingSink implements StatsSink {
  reports: RevisionStat[][] = [];
  reachable = true;
  report(stats: readonly RevisionStat[]): Promise<void> {
    this.reports.push([...stats]);
    return Promise.resolve();
  }
  isReachable(): boolean {
    return this.reachable;
  }
}

export function revision(name: string, over: Partial<RevisionInfo> = {}): RevisionInfo {
  return {
    namespace: 'default',
    revision: name,
    hosts: [`${name}.default.svc.cluster.local`, `${name}.localhost`],
    containerConcurrency: 1,
    timeoutSeconds: 30,
    responseStartTimeoutSeconds: 30,
    idleTimeoutSeconds: 0,
    ...over,
  };
}

export interface Harness {
  app: Activator;
  listener: Listener;
  port: number;
  revisions: StaticRevisionSource;
  endpoints: StaticEndpointsSource;
  sink: RecordingSink;
  close(): Promise<void>;
}

export async function startActivatorHarness(opts: {
  revisions: RevisionInfo[];
  clock?: Clock;
  config?: Partial<ActivatorConfig>;
  notFoundText?: (host: string | undefined) => string;
  /** Listener options over the defaults (the hostile suite shortens connection timeouts). */
  listener?: Partial<ListenerOptions>;
}): Promise<Harness> {
  const clock = opts.clock ?? systemClock;
  const revisions = new StaticRevisionSource(opts.revisions);
  const endpoints = new StaticEndpointsSource();
  const sink = new RecordingSink();
  const app = buildActivator({ revisions, endpoints, stats: sink, clock, random: seededRandom(11), logger: silentLogger(), config: { drainDelayMs: 0, ...opts.config }, ...(opts.notFoundText ? { notFoundText: opts.notFoundText } : {}) });
  app.start();
  const listener = createListener({ ...opts.listener, handler: app.handler, onUpgrade: app.upgradeHandler, clock });
  const port = await listener.listen(0, '127.0.0.1');
  return {
    app,
    listener,
    port,
    revisions,
    endpoints,
    sink,
    async close() {
      await listener.close({ timeoutMs: 2000 });
      await app.stop();
    },
  };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on its own connection. */
export function send(port: number, opts: { host?: string; headers?: Record<string, string>; path?: string; method?: string; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: opts.path ?? '/',
        method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
        agent: false,
        headers: { host: opts.host ?? 'hello.localhost', ...opts.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Polls `cond` every 5 ms of real time until true, failing after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
