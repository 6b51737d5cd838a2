/**
 * The service's replicas and panic periods during a run, from the autoscaler's dashboard API (`/api/events` sends its
 * kept per-second samples first; autoscaler/http/dashboard-server.ts). Best effort: the report says why when there
 * is none.
 */
import http from 'node:http';
import type { RevisionSample } from '../autoscaler/runtime/sample-history.js';

/** Bytes read at most (the server keeps 15 minutes per revision). */
const MAX_BYTES = 16 * 1024 * 1024;

export type Feed = { readonly samples: readonly RevisionSample[]; readonly revision: string } | { readonly unavailable: string };

/** Parses Server-Sent Events text into the samples it carries (incomplete or foreign events are skipped). */
export function parseSamples(text: string): RevisionSample[] {
  const out: RevisionSample[] = [];
  for (const event of text.split('\n\n')) {
    const data = event
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => l.slice(6))
      .join('\n');
    if (data === '') continue;
    try {
      const s = JSON.parse(data) as RevisionSample;
      if (typeof s.timeMs === 'number' && typeof s.revision === 'string') out.push(s);
    } catch {
      // a partial last event
    }
  }
  return out;
}

/**
 * Samples of one revision between `fromMs` and `toMs`: `revision` if given, else the one named by the Host's first
 * label (`hello.localhost` → hello), else the only one.
 */
export function pickRevision(samples: readonly RevisionSample[], fromMs: number, toMs: number, revision: string | undefined): Feed {
  const inRun = samples.filter((s) => s.timeMs >= fromMs - 1000 && s.timeMs <= toMs + 1000);
  const names = [...new Set(inRun.map((s) => s.revision))];
  const name = revision !== undefined && names.includes(revision) ? revision : names.length === 1 ? names[0] : undefined;
  if (name === undefined) return { unavailable: names.length === 0 ? 'the autoscaler kept no samples for the run' : `several revisions (${names.join(', ')}); pass --revision` };
  return { revision: name, samples: inRun.filter((s) => s.revision === name) };
}

/** Reads the dashboard's kept samples (waits `quietMs` after the last byte, at most `timeoutMs` in all). */
export function fetchSamples(dashboard: URL, timeoutMs = 3000, quietMs = 300): Promise<RevisionSample[] | string> {
  return new Promise((resolve) => {
    let body = '';
    let done = false;
    let quiet: NodeJS.Timeout | undefined;
    const finish = (r: RevisionSample[] | string): void => {
      if (done) return;
      done = true;
      clearTimeout(overall);
      clearTimeout(quiet);
      req.destroy();
      resolve(r);
    };
    const overall = setTimeout(() => finish(body ? parseSamples(body) : `no answer from ${dashboard.href} in ${timeoutMs} ms`), timeoutMs);
    const req = http.get(new URL('api/events', dashboard), { headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        finish(`${dashboard.href} answered ${res.statusCode}`);
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
        if (body.length > MAX_BYTES) finish(parseSamples(body));
        clearTimeout(quiet);
        quiet = setTimeout(() => finish(parseSamples(body)), quietMs);
      });
      res.on('end', () => finish(parseSamples(body)));
    });
    req.on('error', (err) => finish(`${dashboard.href} unreachable: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
  });
}
