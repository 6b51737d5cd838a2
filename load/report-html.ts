/**
 * `tide load --report FILE.html`: one self-contained page (uPlot inlined, as `tide simulate --chart`) with the
 * summary, latency percentiles and throughput per second, and the service's replicas with panic periods shaded when
 * the autoscaler's samples were available.
 */
import { escapeHtml, escapeRawText, scriptJson, type UplotAssets } from '../autoscaler/simulate/chart-html.js';
import type { RevisionSample } from '../autoscaler/runtime/sample-history.js';
import { formatMs, type SummaryData } from '../loadtest/scenarios/summary.ts';
import type { SecondRow } from './engine.js';
import type { Feed } from './autoscaler-feed.js';

export interface ReportInput {
  readonly title: string;
  readonly startMs: number;
  readonly timeline: readonly SecondRow[];
  readonly summary: SummaryData;
  readonly durationMetric: string;
  readonly feed: Feed;
}

/** Panic periods as [from, to] seconds since the run's start. */
export function panicRanges(samples: readonly RevisionSample[], startMs: number): [number, number][] {
  const out: [number, number][] = [];
  let open: number | undefined;
  for (const s of samples) {
    const t = (s.timeMs - startMs) / 1000;
    if (s.inPanic && open === undefined) open = t;
    if (!s.inPanic && open !== undefined) {
      out.push([open, t]);
      open = undefined;
    }
  }
  const last = samples[samples.length - 1];
  if (open !== undefined && last) out.push([open, (last.timeMs - startMs) / 1000]);
  return out;
}

/** The report's data as columns (seconds since start). */
export function reportData(r: ReportInput): Record<string, unknown> {
  const tl = r.timeline;
  const samples = 'samples' in r.feed ? r.feed.samples : [];
  return {
    t: tl.map((x) => x.t),
    p50: tl.map((x) => x.p50),
    p95: tl.map((x) => x.p95),
    p99: tl.map((x) => x.p99),
    completed: tl.map((x) => x.completed),
    failed: tl.map((x) => x.failed),
    dropped: tl.map((x) => x.dropped),
    st: samples.map((s) => (s.timeMs - r.startMs) / 1000),
    ready: samples.map((s) => s.ready),
    desired: samples.map((s) => (s.desired < 0 ? null : s.desired)),
    panic: panicRanges(samples, r.startMs),
  };
}

const CLIENT_SCRIPT = String.raw`
(function () {
  var D = DATA;
  function shade(u) {
    var ctx = u.ctx;
    ctx.save();
    ctx.fillStyle = 'rgba(230, 80, 60, 0.13)';
    for (var i = 0; i < D.panic.length; i++) {
      var l = Math.max(u.valToPos(D.panic[i][0], 'x', true), u.bbox.left);
      var r = Math.min(u.valToPos(D.panic[i][1], 'x', true), u.bbox.left + u.bbox.width);
      if (r > l) ctx.fillRect(l, u.bbox.top, Math.max(1, r - l), u.bbox.height);
    }
    ctx.restore();
  }
  function size() { return { width: Math.max(480, document.body.clientWidth - 8), height: 300 }; }
  var x = { label: 'seconds since start' };
  var lat = new uPlot(Object.assign(size(), {
    scales: { x: { time: false } },
    axes: [x, { label: 'latency (ms)', size: 60 }],
    series: [{ label: 's' },
      { label: 'p50', stroke: '#1a9e5a', width: 1.5 }, { label: 'p95', stroke: '#f0a020', width: 1.5 }, { label: 'p99', stroke: '#e0533d', width: 1.5 }],
    hooks: { drawClear: [shade] },
  }), [D.t, D.p50, D.p95, D.p99], document.getElementById('latency'));
  var thr = new uPlot(Object.assign(size(), {
    scales: { x: { time: false } },
    axes: [x, { label: 'per second', size: 60 }],
    series: [{ label: 's' },
      { label: 'completed', stroke: '#4f6bed', width: 1.5 }, { label: 'failed', stroke: '#e0533d', width: 1.5 }, { label: 'dropped', stroke: '#9b59b6', width: 1, dash: [4, 3] }],
    hooks: { drawClear: [shade] },
  }), [D.t, D.completed, D.failed, D.dropped], document.getElementById('throughput'));
  var charts = [lat, thr];
  if (D.st.length > 0) {
    charts.push(new uPlot(Object.assign(size(), {
      scales: { x: { time: false } },
      axes: [x, { label: 'pods', size: 50 }],
      series: [{ label: 's' },
        { label: 'ready', stroke: '#1a9e5a', width: 2.5, paths: uPlot.paths.stepped({ align: 1 }) },
        { label: 'desired', stroke: '#f0a020', width: 2, paths: uPlot.paths.stepped({ align: 1 }) }],
      hooks: { drawClear: [shade] },
    }), [D.st, D.ready, D.desired], document.getElementById('replicas')));
  }
  window.addEventListener('resize', function () { charts.forEach(function (c) { c.setSize(size()); }); });
})();
`;

export function renderReport(r: ReportInput, assets: UplotAssets): string {
  const d = r.summary.metrics[r.durationMetric]?.values ?? {};
  const facts: [string, string][] = [
    ['duration', formatMs(r.summary.state.testRunDurationMs)],
    ...(['p(50)', 'p(95)', 'p(99)', 'max'] as const).map((k): [string, string] => [k === 'p(50)' ? 'median' : k, formatMs(d[k === 'p(50)' ? 'med' : k] ?? 0)]),
    ['iterations', String(r.summary.metrics['iterations']?.values['count'] ?? 0)],
    ['failed checks', String(r.summary.metrics['checks']?.values['fails'] ?? 0)],
    ['dropped', String(r.summary.metrics['dropped_iterations']?.values['count'] ?? 0)],
  ];
  const thresholds = Object.entries(r.summary.metrics).flatMap(([name, m]) =>
    Object.entries(m.thresholds ?? {}).map(([expr, t]) => `<li class="${t.ok ? 'ok' : 'bad'}">${t.ok ? '✓' : '✗'} ${escapeHtml(name)} ${escapeHtml(expr)}</li>`),
  );
  const replicas = 'samples' in r.feed ? `<h2>replicas (${escapeHtml(r.feed.revision)}); shaded: panic</h2><div id="replicas"></div>` : `<p class="note">No replicas: ${escapeHtml(r.feed.unavailable)}.</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(r.title)}</title>
<style>${escapeRawText(assets.css)}</style>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2433; }
  h1 { font-size: 20px; } h2 { font-size: 15px; margin: 18px 0 4px; }
  .facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr)); gap: 8px; }
  .fact { background: #f4f6fa; border-radius: 6px; padding: 8px 10px; } .k { font-size: 12px; color: #5b6478; } .v { font-weight: 600; }
  .ok { color: #1a7e4a; } .bad { color: #c0392b; } .note { color: #5b6478; }
</style>
</head>
<body>
<h1>${escapeHtml(r.title)}</h1>
<div class="facts">${facts.map(([k, v]) => `<div class="fact"><div class="k">${escapeHtml(k)}</div><div class="v">${escapeHtml(v)}</div></div>`).join('')}</div>
<ul>${thresholds.join('')}</ul>
<h2>latency per second (${escapeHtml(r.durationMetric)})</h2><div id="latency"></div>
<h2>throughput per second</h2><div id="throughput"></div>
${replicas}
<script>${escapeRawText(assets.js)}</script>
<script>
var DATA = ${scriptJson(reportData(r))};
${CLIENT_SCRIPT}
</script>
</body>
</html>
`;
}
