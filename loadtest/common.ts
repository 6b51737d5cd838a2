/**
 * What every k6 script here shares: the target and Host from __ENV, one HTTP iteration of a scenario's request shape,
 * and handleSummary (JSON to SUMMARY or summary-<scenario>.json, and the same text summary `tide load` prints).
 */
import { check } from 'k6';
import http from 'k6/http';
import { textSummary, type SummaryData } from './scenarios/summary.ts';
import { pickPath, type ScenarioDef } from './scenarios/types.ts';

/** TARGET: tide up's front door by default; HOST: the service's Host header (tide up: <name>.localhost). */
export const TARGET = (__ENV.TARGET ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
export const HOST = __ENV.HOST ?? 'hello.localhost';

/** One request of an HTTP scenario, tagged with its kind so thresholds can name it. */
export function httpIteration(def: ScenarioDef): void {
  const shape = def.request;
  if (shape.type !== 'http') throw new Error(`${def.name} is not an HTTP scenario`);
  const p = pickPath(shape.paths, Math.random());
  const params = { headers: { Host: HOST }, tags: { kind: p.kind } };
  const res = shape.method === 'POST' ? http.post(`${TARGET}${p.path}`, shape.body ?? '', params) : http.get(`${TARGET}${p.path}`, params);
  check(res, { 'status is 2xx': (r) => r.status >= 200 && r.status < 300 });
}

export function summaryFor(def: ScenarioDef): (data: SummaryData) => Record<string, string> {
  return (data) => ({
    stdout: textSummary(data, `scenario: ${def.name} (${def.description})`),
    [__ENV.SUMMARY ?? `summary-${def.name}.json`]: JSON.stringify(data, null, 2),
  });
}
