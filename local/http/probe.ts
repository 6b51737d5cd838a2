/** The queue-proxy readiness probe as Kubernetes sends it (docs/knative-parity.md §a6): `GET /` + `K-Network-Probe: queue`. */
import http from 'node:http';
import { H } from '../../common/http/headers.js';

/**
 * True if the queue-proxy at `address` (`host:port`) answers 200 with body `queue`, i.e. the app behind it is ready.
 * Any error, other status or timeout is false. Never rejects.
 */
export function probeQueueProxy(address: string, timeoutMs: number): Promise<boolean> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i);
  const port = Number(address.slice(i + 1));
  return new Promise((resolve) => {
    let settled = false;
    const done = (v: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(v);
    };
    const req = http.request(
      { host, port, path: '/', method: 'GET', agent: false, headers: { [H.networkProbe]: 'queue', [H.userAgent]: 'kube-probe/tide-up', connection: 'close' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (body.length < 64) body += d;
        });
        res.on('end', () => done(res.statusCode === 200 && body.trim() === 'queue'));
        res.on('error', () => done(false));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      done(false);
    }, timeoutMs);
    req.on('error', () => done(false));
    req.end();
  });
}
