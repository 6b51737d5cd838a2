/**
 * The interactive chart of a simulation: one self-contained HTML file with uPlot inlined (works offline), a summary
 * header, load and pods on two axes, and panic periods shaded. The uPlot sources are passed in (the CLI reads them).
 */
import { formatDuration, panicRanges, round6, summaryFacts, type RunDescription } from './report.js';
import type { SimulationResult, TimelineRow } from './simulator.js';

/** uPlot's browser build and stylesheet, as text (`node_modules/uplot/dist/uPlot.iife.min.js`, `uPlot.min.css`). */
export interface UplotAssets {
  readonly js: string;
  readonly css: string;
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Makes text safe inside a <script> or <style> element. */
export function escapeRawText(s: string): string {
  return s.replace(/<\/(script|style)/gi, '<\\/$1');
}

/** JSON safe inside <script>: no `<` at all, so no `</script>` or `<!--`. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Timelines longer than this are merged (keeping each group's maxima) so the page stays a few MB. */
export const HTML_MAX_POINTS = 100_000;

/** Merges consecutive rows into at most `max` rows, keeping each group's first `t` and the maximum of each value. */
function mergeRows(rows: readonly TimelineRow[], max: number): TimelineRow[] {
  if (rows.length <= max) return [...rows];
  const per = Math.ceil(rows.length / max);
  const out: TimelineRow[] = [];
  for (let i = 0; i < rows.length; i += per) {
    const m = { ...rows[i]! };
    for (let j = i + 1; j < Math.min(rows.length, i + per); j++) {
      const r = rows[j]!;
      m.load = Math.max(m.load, r.load);
      m.concurrency = Math.max(m.concurrency, r.concurrency);
      m.waiting = Math.max(m.waiting, r.waiting);
      m.desired = Math.max(m.desired, r.desired);
      m.replicas = Math.max(m.replicas, r.replicas);
      m.ready = Math.max(m.ready, r.ready);
    }
    out.push(m);
  }
  return out;
}

/**
 * Series as columns, `null` for "no value" (desired before the first valid tick). Timelines longer than
 * {@link HTML_MAX_POINTS} are merged keeping maxima; panic ranges always come from the full timeline.
 */
export function chartData(result: SimulationResult): {
  t: number[];
  load: number[];
  concurrency: number[];
  waiting: number[];
  desired: (number | null)[];
  replicas: number[];
  ready: number[];
  panic: [number, number][];
} {
  const rows = mergeRows(result.timeline, HTML_MAX_POINTS);
  return {
    t: rows.map((r) => r.t),
    load: rows.map((r) => round6(r.load)),
    concurrency: rows.map((r) => round6(r.concurrency)),
    waiting: rows.map((r) => round6(r.waiting)),
    desired: rows.map((r) => (r.desired < 0 ? null : r.desired)),
    replicas: rows.map((r) => r.replicas),
    ready: rows.map((r) => r.ready),
    panic: panicRanges(result.timeline),
  };
}

/** Runs in the browser: builds the uPlot chart from DATA. Kept as plain ES2017 so any browser opens the file. */
const CLIENT_SCRIPT = String.raw`
(function () {
  var D = DATA;
  function fmtT(s) {
    s = Math.round(s);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), x = s % 60;
    if (h > 0) return h + 'h' + (m < 10 ? '0' : '') + m + (x ? 'm' + (x < 10 ? '0' : '') + x + 's' : 'm');
    if (m > 0) return m + 'm' + (x ? (x < 10 ? '0' : '') + x + 's' : '');
    return x + 's';
  }
  function panicShading(u) {
    var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
    ctx.save();
    ctx.fillStyle = 'rgba(230, 80, 60, 0.13)';
    for (var i = 0; i < D.panic.length; i++) {
      var x0 = u.valToPos(D.panic[i][0], 'x', true), x1 = u.valToPos(D.panic[i][1], 'x', true);
      var l = Math.max(x0, u.bbox.left), r = Math.min(x1, u.bbox.left + u.bbox.width);
      if (r > l) ctx.fillRect(l, top, Math.max(1, r - l), h);
    }
    ctx.restore();
  }
  var el = document.getElementById('chart');
  function size() { return { width: Math.max(480, el.clientWidth), height: Math.max(320, Math.round(window.innerHeight * 0.6)) }; }
  var incrs = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
  var opts = Object.assign(size(), {
    title: '',
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: false }, load: { auto: true, range: function (u, lo, hi) { return [0, Math.max(1, hi * 1.05)]; } },
              pods: { auto: true, range: function (u, lo, hi) { return [0, Math.max(1, Math.ceil(hi * 1.1))]; } } },
    axes: [
      { label: 'time since start', incrs: incrs, values: function (u, splits) { return splits.map(fmtT); } },
      { scale: 'load', label: D.loadLabel, size: 60 },
      { scale: 'pods', label: 'pods', side: 1, grid: { show: false }, size: 50,
        incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], values: function (u, s) { return s.map(function (v) { return String(v); }); } },
    ],
    series: [
      { label: 'time', value: function (u, v) { return v == null ? '-' : fmtT(v); } },
      { label: D.loadLabel, scale: 'load', stroke: '#8a94a6', fill: 'rgba(138,148,166,0.18)', width: 1 },
      { label: 'in flight + waiting', scale: 'load', stroke: '#4f6bed', width: 1.5 },
      { label: 'waiting', scale: 'load', stroke: '#e0533d', width: 1.5, dash: [4, 3] },
      { label: 'desired pods', scale: 'pods', stroke: '#f0a020', width: 2, paths: uPlot.paths.stepped({ align: 1 }) },
      { label: 'replicas requested', scale: 'pods', stroke: '#9b59b6', width: 1, dash: [2, 3], paths: uPlot.paths.stepped({ align: 1 }) },
      { label: 'ready pods', scale: 'pods', stroke: '#1a9e5a', width: 2.5, paths: uPlot.paths.stepped({ align: 1 }) },
    ],
    hooks: { drawClear: [panicShading] },
  });
  var data = [D.t, D.load, D.concurrency, D.waiting, D.desired, D.replicas, D.ready];
  var plot = new uPlot(opts, data, el);
  window.addEventListener('resize', function () { plot.setSize(size()); });
})();
`;

/**
 * Renders the chart page. `run` names what was simulated; the header repeats the summary so the page stands alone.
 * @example renderHtmlChart(result, run, { js, css }) // '<!doctype html>…'
 */
export function renderHtmlChart(result: SimulationResult, run: RunDescription, assets: UplotAssets): string {
  const data = chartData(result);
  const loadLabel = run.format === 'rps' ? 'load (requests/s)' : run.format === 'arrivals' ? 'arrivals per second' : 'load (concurrency)';
  const facts = summaryFacts(result.summary)
    .map(([k, v]) => `<div class="fact"><div class="k">${escapeHtml(k)}</div><div class="v">${escapeHtml(v)}</div></div>`)
    .join('\n');
  const title = `tide simulate: ${run.source}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${escapeRawText(assets.css)}</style>
<style>
  body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1d2433; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .sub { color: #5b6478; margin-bottom: 16px; }
  .facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 8px; margin-bottom: 16px; }
  .fact { background: #f4f6fa; border-radius: 6px; padding: 8px 10px; }
  .fact .k { font-size: 12px; color: #5b6478; text-transform: uppercase; letter-spacing: .03em; }
  .fact .v { font-size: 15px; font-weight: 600; }
  #chart { width: 100%; }
  .legend-note { color: #5b6478; font-size: 12px; margin-top: 8px; }
  .swatch { display: inline-block; width: 12px; height: 12px; background: rgba(230, 80, 60, 0.25); vertical-align: -1px; margin-right: 4px; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<div class="sub">${escapeHtml(`${run.format} trace; pod start ${formatDuration(run.podStartSeconds)}`)}${run.settings.length > 0 ? `<br>${escapeHtml(run.settings.join('; '))}` : ''}</div>
<div class="facts">
${facts}
</div>
<div id="chart"></div>
<div class="legend-note"><span class="swatch"></span>shaded: the decider is in panic mode. Pods on the right axis; drag to zoom, double-click to reset.</div>
<script>${escapeRawText(assets.js)}</script>
<script>
var DATA = ${scriptJson({ ...data, loadLabel })};
${CLIENT_SCRIPT}
</script>
</body>
</html>
`;
}
