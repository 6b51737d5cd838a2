/** §b4 pod probe: `GET http://addr/healthz`, `K-Network-Probe: queue`, UA `Knative-Activator-Probe`; passes on 200 + body `queue`. */
import * as http from 'node:http';
import type { Clock } from '../../common/clock.js';
import { H, PROBE_USER_AGENTS } from '../../common/http/headers.js';

/** Resolves true if the pod at `address` (`host:port`) passed, false otherwise. Never rejects. */
export type Prober = (address: string) => Promise<boolean>;

/** The largest probe answer read; `queue` is 5 bytes. */
const MAX_PROBE_BODY = 64;

/** A prober over node:http with a short-lived connection per probe, timed out by `clock` after `timeoutMs`. */
export function createHttpProber(opts: { clock: Clock; timeoutMs: number }): Prober {
  return (address) =>
    new Promise<boolean>((resolve) => {
      const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
      if (!m) {
        resolve(false);
        return;
      }
      let settled = false;
      const finish = (ok: boolean): void => {
        if (settled) return;
        settled = true;
        cancel();
        req.destroy();
        resolve(ok);
      };
      const req = http.request(
        {
          host: m[1],
          port: Number(m[2]),
          path: '/healthz',
          method: 'GET',
          agent: false,
          headers: { [H.networkProbe]: 'queue', [H.userAgent]: PROBE_USER_AGENTS.activator },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            body += d;
            if (body.length > MAX_PROBE_BODY) finish(false);
          });
          res.on('end', () => finish(res.statusCode === 200 && body.trim() === 'queue'));
          res.on('error', () => finish(false));
        },
      );
      const cancel = opts.clock.setTimeout(() => finish(false), opts.timeoutMs);
      req.on('error', () => finish(false));
      req.end();
    });
}
