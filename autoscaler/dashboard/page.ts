/**
 * The dashboard page: one self-contained HTML document (inline CSS and script, uPlot served next to it from
 * `assets/`). Kept as a string in a module so it ships inside dist/ with no build step and no network at run time.
 * All URLs are relative, so the page works behind a path prefix (kubectl proxy, an ingress) against any autoscaler
 * that serves `api/events` and `api/revisions`.
 *
 * The script is plain ES2017 without template literals (it lives inside one). Browser-tested by
 * test/dashboard/dashboard.browser.test.ts; its syntax is checked by test/dashboard/page.test.ts.
 */

/** The inline script, exported separately so a test can compile it. */
export const DASHBOARD_SCRIPT = String.raw`
(function () {
  'use strict';
  var KEEP_SECONDS = 900;              // history kept in the page: 15 minutes, like the server
  var rangeSeconds = 300;              // shown window, changed by the header buttons
  var dark = !(window.matchMedia && window.matchMedia('(prefers-color-scheme: light)').matches);
  var C = dark ? {
    text: '#c9d1d9', dim: '#8b949e', grid: 'rgba(240,246,252,0.08)', axis: '#8b949e',
    blue: '#58a6ff', purple: '#d2a8ff', green: '#3fb950', orange: '#f0883e', red: '#f85149', yellow: '#e3b341',
    panic: 'rgba(248,81,73,0.16)', readyFill: 'rgba(63,185,80,0.12)', rpsFill: 'rgba(88,166,255,0.10)'
  } : {
    text: '#1f2328', dim: '#59636e', grid: 'rgba(31,35,40,0.08)', axis: '#59636e',
    blue: '#0969da', purple: '#8250df', green: '#1a7f37', orange: '#bc4c00', red: '#cf222e', yellow: '#9a6700',
    panic: 'rgba(207,34,46,0.12)', readyFill: 'rgba(26,127,55,0.10)', rpsFill: 'rgba(9,105,218,0.08)'
  };
  document.documentElement.setAttribute('data-theme', dark ? 'dark' : 'light');

  var services = {};                   // key -> service view
  var lastSeq = 0;
  var dirty = false;
  var main = document.getElementById('services');
  var empty = document.getElementById('empty');
  var statusEl = document.getElementById('status');

  function fmt(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    var d = digits === undefined ? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2) : digits;
    return Number(v).toFixed(d).replace(/\.0+$/, '').replace(/(\.\d*?)0+$/, '$1');
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function axis(extra) {
    var a = {
      stroke: C.axis, font: '11px system-ui, sans-serif', size: 44, gap: 4,
      grid: { stroke: C.grid, width: 1 }, ticks: { stroke: C.grid, width: 1, size: 4 }
    };
    for (var k in extra) a[k] = extra[k];
    return a;
  }
  function zeroBased(u, min, max) { return [0, max > 0 ? max * 1.15 : 1]; }
  function replicasRange(u, min, max) { return [0, Math.max(3, Math.ceil(max * 1.2))]; }
  var stepped = uPlot.paths.stepped({ align: 1 });
  function pad(n) { return n < 10 ? '0' + n : String(n); }
  function clock(sec) { var d = new Date(sec * 1000); return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()); }
  // One-line clock labels (uPlot's default adds a second, date line that needs more room).
  var timeAxis = axis({ size: 26, space: 80, values: function (u, splits) { return splits.map(clock); } });

  // One definition per chart: title, series (field, label, style) and axes.
  var CHARTS = [
    { id: 'traffic', title: 'Traffic',
      scales: { x: { time: true }, y: { range: zeroBased }, c: { range: zeroBased } },
      series: [
        { field: 'rps', label: 'requests/s', stroke: C.blue, width: 2, fill: C.rpsFill },
        { field: 'concurrency', label: 'in flight', stroke: C.purple, width: 1.5, dash: [5, 3], scale: 'c' }
      ],
      axes: [timeAxis, axis({ label: 'req/s', labelSize: 14, labelFont: '11px system-ui' }),
             axis({ side: 1, scale: 'c', grid: { show: false }, label: 'in flight', labelSize: 14, labelFont: '11px system-ui' })] },
    { id: 'metric', title: 'Scaling metric',
      scales: { x: { time: true }, y: { range: zeroBased } },
      series: [
        { field: 'stable', label: 'stable avg', stroke: C.green, width: 2 },
        { field: 'panic', label: 'panic avg', stroke: C.orange, width: 1.5 },
        { field: 'targetTotal', label: 'target × ready', stroke: C.dim, width: 1.5, dash: [6, 4], paths: stepped }
      ],
      axes: [timeAxis, axis({})] },
    { id: 'replicas', title: 'Replicas',
      scales: { x: { time: true }, y: { range: replicasRange }, p: { range: [0, 1] } },
      series: [
        { field: 'inPanic', label: 'panic', class: 'panic-series', stroke: 'transparent', fill: C.panic, scale: 'p', paths: stepped, width: 0,
          value: function (u, v) { return v === null ? '–' : v ? 'yes' : 'no'; } },
        { field: 'ready', label: 'ready', stroke: C.green, width: 2, fill: C.readyFill, paths: stepped },
        { field: 'desired', label: 'desired', stroke: C.blue, width: 2, paths: stepped },
        { field: 'requested', label: 'requested', stroke: C.purple, width: 1.5, dash: [5, 4], paths: stepped }
      ],
      axes: [timeAxis, axis({ incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] })] },
    { id: 'activator', title: 'Activator',
      scales: { x: { time: true }, y: { range: zeroBased }, w: { range: zeroBased } },
      series: [
        { field: 'activatorQueue', label: 'queued', stroke: C.orange, width: 2, paths: stepped },
        { field: 'coldStartWaitSeconds', label: 'cold-start wait (s)', stroke: C.red, width: 2, scale: 'w' }
      ],
      axes: [timeAxis, axis({ label: 'queued', labelSize: 14, labelFont: '11px system-ui', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] }),
             axis({ side: 1, scale: 'w', grid: { show: false }, label: 'seconds', labelSize: 14, labelFont: '11px system-ui' })] }
  ];
  var FIELDS = ['rps', 'concurrency', 'stable', 'panic', 'targetTotal', 'inPanic', 'ready', 'desired', 'requested', 'activatorQueue', 'coldStartWaitSeconds'];

  function makeService(key, sample) {
    var sec = el('section', 'svc');
    sec.setAttribute('data-revision', key);
    var head = el('div', 'svc-head');
    var title = el('h2');
    title.appendChild(el('span', 'ns', sample.namespace + '/'));
    title.appendChild(el('span', 'rev', sample.revision));
    head.appendChild(title);
    var mode = el('span', 'chip mode');
    var panic = el('span', 'chip panic', 'panic');
    var state = el('span', 'chip state');
    head.appendChild(mode); head.appendChild(panic); head.appendChild(state);
    var nums = el('div', 'nums');
    head.appendChild(nums);
    sec.appendChild(head);
    var grid = el('div', 'grid');
    sec.appendChild(grid);
    var view = { key: key, sec: sec, mode: mode, panic: panic, state: state, nums: nums, data: { t: [] }, charts: [], last: sample };
    for (var f = 0; f < FIELDS.length; f++) view.data[FIELDS[f]] = [];
    CHARTS.forEach(function (def) {
      var card = el('div', 'card');
      card.appendChild(el('h3', null, def.id === 'metric' ? 'Scaling metric: ' + sample.metric : def.title));
      var holder = el('div', 'plot');
      card.appendChild(holder);
      grid.appendChild(card);
      var series = [{ value: '{HH}:{mm}:{ss}' }].concat(def.series.map(function (s) {
        var o = { label: s.label, stroke: s.stroke, width: s.width, points: { show: false } };
        ['fill', 'dash', 'scale', 'paths', 'value', 'class'].forEach(function (k) { if (s[k] !== undefined) o[k] = s[k]; });
        if (o.value === undefined) o.value = function (u, v) { return fmt(v); };
        return o;
      }));
      var opts = {
        width: 400, height: 170, series: series, scales: def.scales, axes: def.axes,
        legend: { live: false }, cursor: { points: { size: 6 }, drag: { x: false, y: false } }, padding: [8, 8, 0, 0]
      };
      var empties = [[]].concat(def.series.map(function () { return []; }));
      var u = new uPlot(opts, empties, holder);
      view.charts.push({ def: def, u: u, holder: holder });
    });
    // Sections are kept sorted by key.
    var keys = Object.keys(services).concat([key]).sort();
    var next = keys[keys.indexOf(key) + 1];
    main.insertBefore(sec, next ? services[next].sec : null);
    services[key] = view;
    empty.hidden = true;
    resize(view);
    return view;
  }

  function resize(view) {
    view.charts.forEach(function (c) {
      var w = Math.max(200, Math.floor(c.holder.clientWidth));
      if (c.u.width !== w) c.u.setSize({ width: w, height: 170 });
    });
  }

  function onSample(s) {
    if (!s || typeof s.seq !== 'number' || s.seq <= lastSeq) return;
    lastSeq = s.seq;
    var key = s.namespace + '/' + s.revision;
    var view = services[key] || makeService(key, s);
    var d = view.data;
    d.t.push(s.timeMs / 1000);
    d.rps.push(s.rps);
    d.concurrency.push(s.concurrency);
    d.stable.push(s.stable);
    d.panic.push(s.panic);
    d.targetTotal.push(s.targetTotal);
    d.inPanic.push(s.inPanic ? 1 : 0);
    d.ready.push(s.ready);
    d.desired.push(s.desired < 0 ? null : s.desired);
    d.requested.push(s.requested);
    d.activatorQueue.push(s.activatorQueue);
    d.coldStartWaitSeconds.push(s.coldStartWaitSeconds);
    var cut = 0;
    var oldest = s.timeMs / 1000 - KEEP_SECONDS;
    while (cut < d.t.length && d.t[cut] < oldest) cut++;
    if (cut > 0) for (var k in d) d[k].splice(0, cut);
    view.last = s;
    view.dirty = true;
    schedule();
  }

  function schedule() {
    if (dirty) return;
    dirty = true;
    (window.requestAnimationFrame || setTimeout)(render);
  }

  function render() {
    dirty = false;
    Object.keys(services).forEach(function (key) {
      var v = services[key];
      if (!v.dirty) return;
      v.dirty = false;
      var d = v.data;
      var from = 0;
      var start = d.t.length ? d.t[d.t.length - 1] - rangeSeconds : 0;
      while (from < d.t.length && d.t[from] < start) from++;
      v.charts.forEach(function (c) {
        var cols = [d.t.slice(from)].concat(c.def.series.map(function (s) { return d[s.field].slice(from); }));
        c.u.setData(cols);
      });
      renderHead(v);
    });
  }

  function renderHead(v) {
    var s = v.last;
    v.sec.setAttribute('data-seq', String(s.seq));
    v.sec.setAttribute('data-ready', String(s.ready));
    v.sec.setAttribute('data-desired', String(s.desired));
    v.sec.setAttribute('data-requested', String(s.requested));
    v.sec.setAttribute('data-mode', s.mode);
    v.sec.setAttribute('data-panic', String(s.inPanic));
    v.mode.textContent = s.mode === 'serve' ? 'serve: direct to pods' : 'proxy: via activator';
    v.mode.className = 'chip mode ' + s.mode;
    v.panic.hidden = !s.inPanic;
    v.state.textContent = s.state;
    v.state.className = 'chip state ' + s.state;
    var unit = s.metric === 'rps' ? ' req/s' : '';
    var parts = [
      ['ready', s.ready + ' / ' + (s.desired < 0 ? '?' : s.desired) + ' desired'],
      ['traffic', fmt(s.rps) + ' req/s · ' + fmt(s.concurrency) + ' in flight'],
      [s.metric, 'stable ' + fmt(s.stable) + ' · panic ' + fmt(s.panic) + ' · target ' + fmt(s.targetPerPod) + unit + '/pod'],
      ['activator', fmt(s.activatorQueue, 0) + ' queued · wait ' + fmt(s.coldStartWaitSeconds) + ' s']
    ];
    v.nums.textContent = '';
    parts.forEach(function (p) {
      var span = el('span', 'num');
      span.appendChild(el('i', null, p[0]));
      var b = el('b', p[0] === 'ready' ? 'ready-count' : null, p[1]);
      span.appendChild(b);
      v.nums.appendChild(span);
    });
  }

  function setStatus(state, text) {
    statusEl.setAttribute('data-state', state);
    statusEl.textContent = text;
  }

  function connect() {
    var es = new EventSource('api/events');
    es.onopen = function () { setStatus('live', 'live'); };
    es.onmessage = function (e) {
      try { onSample(JSON.parse(e.data)); } catch (err) { /* a bad line is skipped */ }
    };
    es.onerror = function () { setStatus('down', 'reconnecting…'); };
  }

  // Revisions the autoscaler no longer manages are removed from the page.
  function prune() {
    fetch('api/revisions').then(function (r) { return r.ok ? r.json() : null; }).then(function (body) {
      if (!body || !body.revisions) return;
      var live = {};
      body.revisions.forEach(function (r) { live[r.namespace + '/' + r.revision] = true; });
      Object.keys(services).forEach(function (key) {
        if (live[key]) return;
        services[key].charts.forEach(function (c) { c.u.destroy(); });
        services[key].sec.remove();
        delete services[key];
      });
      empty.hidden = Object.keys(services).length > 0;
    }).catch(function () {});
  }

  Array.prototype.forEach.call(document.querySelectorAll('[data-range]'), function (b) {
    b.addEventListener('click', function () {
      rangeSeconds = Number(b.getAttribute('data-range'));
      Array.prototype.forEach.call(document.querySelectorAll('[data-range]'), function (o) { o.classList.toggle('on', o === b); });
      Object.keys(services).forEach(function (k) { services[k].dirty = true; });
      schedule();
    });
  });
  window.addEventListener('resize', function () {
    Object.keys(services).forEach(function (k) { resize(services[k]); });
  });

  connect();
  setInterval(prune, 10000);
})();
`;

const STYLE = `
:root { color-scheme: dark; --bg: #0d1117; --card: #161b22; --line: #30363d; --text: #c9d1d9; --dim: #8b949e;
  --blue: #58a6ff; --green: #3fb950; --orange: #f0883e; --red: #f85149; --purple: #d2a8ff; }
@media (prefers-color-scheme: light) {
  :root { color-scheme: light; --bg: #f6f8fa; --card: #ffffff; --line: #d0d7de; --text: #1f2328; --dim: #59636e;
    --blue: #0969da; --green: #1a7f37; --orange: #bc4c00; --red: #cf222e; --purple: #8250df; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; align-items: center; gap: 16px; padding: 12px 20px; border-bottom: 1px solid var(--line); position: sticky; top: 0; background: var(--bg); z-index: 2; }
h1 { font-size: 16px; margin: 0; font-weight: 600; letter-spacing: .2px; }
h1 .wave { color: var(--blue); }
h1 small { color: var(--dim); font-weight: 400; margin-left: 6px; }
#status { font-size: 12px; color: var(--dim); display: flex; align-items: center; gap: 6px; }
#status::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: var(--dim); }
#status[data-state=live]::before { background: var(--green); box-shadow: 0 0 6px var(--green); }
#status[data-state=down]::before { background: var(--red); }
.range { margin-left: auto; display: flex; gap: 2px; }
.range button { background: transparent; color: var(--dim); border: 1px solid var(--line); padding: 3px 10px; font: inherit; font-size: 12px; cursor: pointer; }
.range button:first-child { border-radius: 6px 0 0 6px; }
.range button:last-child { border-radius: 0 6px 6px 0; }
.range button.on { background: var(--card); color: var(--text); border-color: var(--dim); }
main { padding: 12px 20px 24px; }
#empty { color: var(--dim); padding: 40px 0; text-align: center; }
#empty code { color: var(--text); }
.svc { margin: 8px 0 24px; }
.svc-head { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 10px; margin-bottom: 8px; }
.svc-head h2 { margin: 0; font-size: 15px; font-weight: 600; }
.svc-head .ns { color: var(--dim); font-weight: 400; }
.chip { font-size: 11px; padding: 1px 8px; border-radius: 10px; border: 1px solid var(--line); color: var(--dim); }
.chip.serve { color: var(--green); border-color: var(--green); }
.chip.proxy { color: var(--orange); border-color: var(--orange); }
.chip.panic { color: #fff; background: var(--red); border-color: var(--red); font-weight: 600; }
.chip.active { color: var(--green); }
.chip.activating { color: var(--orange); }
.nums { display: flex; flex-wrap: wrap; gap: 4px 18px; width: 100%; color: var(--dim); font-size: 12px; }
.num i { font-style: normal; text-transform: uppercase; letter-spacing: .5px; font-size: 10px; margin-right: 6px; }
.num b { color: var(--text); font-weight: 600; font-variant-numeric: tabular-nums; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 12px; }
@media (max-width: 900px) { .grid { grid-template-columns: minmax(0, 1fr); } }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px 4px; min-width: 0; }
.card h3 { margin: 0 0 2px; font-size: 12px; font-weight: 600; color: var(--dim); text-transform: uppercase; letter-spacing: .6px; }
.plot { width: 100%; }
.uplot { width: 100%; font-family: inherit; }
.u-legend { font-size: 11px; color: var(--dim); text-align: left; margin: 0; }
.u-legend .u-series > * { padding: 1px 4px; }
.u-legend .panic-series .u-marker { background: var(--red) !important; border-color: var(--red) !important; opacity: .45; }
.u-legend .u-value { color: var(--text); font-variant-numeric: tabular-nums; }
`;

/** The whole page. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tide autoscaler</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="assets/uPlot.min.css">
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1><span class="wave">≋</span> Tide <small>autoscaler</small></h1>
  <div id="status" data-state="connecting">connecting…</div>
  <div class="range" role="group" aria-label="time window">
    <button type="button" data-range="60">1 min</button>
    <button type="button" data-range="300" class="on">5 min</button>
    <button type="button" data-range="900">15 min</button>
  </div>
</header>
<main id="services">
  <p id="empty">No revisions yet. Run <code>tide up</code>, or point an activator and workloads at this autoscaler.</p>
</main>
<script src="assets/uPlot.iife.min.js"></script>
<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;
