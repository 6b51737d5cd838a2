/** A static SVG chart of a simulation (load, desired and ready pods, panic shaded), for docs and pull requests. */
import { formatDuration, panicRanges, type RunDescription } from './report.js';
import type { SimulationResult, TimelineRow } from './simulator.js';

const W = 960;
const H = 420;
const M = { left: 64, right: 56, top: 62, bottom: 70 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;
/** At most this many columns are drawn; longer timelines keep each column's maximum so spikes stay visible. */
export const SVG_MAX_COLUMNS = 900;

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function f(x: number): string {
  return String(Math.round(x * 10) / 10);
}

/** A "nice" tick step (1, 2 or 5 × 10^k) giving at most `maxTicks` ticks up to `max`. */
export function niceStep(max: number, maxTicks: number, integer = false): number {
  if (!(max > 0)) return 1;
  const raw = max / maxTicks;
  const pow = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) {
    const step = m * pow;
    if (step >= raw) return integer ? Math.max(1, Math.round(step)) : step;
  }
  return 10 * pow;
}

function timeLabel(s: number): string {
  if (s === 0) return '0';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const x = s % 60;
  if (h > 0) return m === 0 ? `${h}h` : `${h}h${String(m).padStart(2, '0')}`;
  if (m > 0) return x === 0 ? `${m}m` : `${m}m${String(x).padStart(2, '0')}`;
  return `${x}s`;
}

interface Column {
  t0: number;
  t1: number;
  load: number;
  concurrency: number;
  desired: number;
  ready: number;
}

function columns(rows: readonly TimelineRow[]): Column[] {
  const n = rows.length;
  const per = Math.max(1, Math.ceil(n / SVG_MAX_COLUMNS));
  const out: Column[] = [];
  for (let i = 0; i < n; i += per) {
    const c: Column = { t0: rows[i]!.t, t1: rows[i]!.t + per, load: 0, concurrency: 0, desired: 0, ready: 0 };
    for (let j = i; j < Math.min(n, i + per); j++) {
      const r = rows[j]!;
      c.load = Math.max(c.load, r.load);
      c.concurrency = Math.max(c.concurrency, r.concurrency);
      c.desired = Math.max(c.desired, r.desired);
      c.ready = Math.max(c.ready, r.ready);
    }
    c.t1 = Math.min(c.t1, rows[n - 1]!.t + 1);
    out.push(c);
  }
  return out;
}

/**
 * Renders the SVG. Left axis: load (the trace's unit) and requests in the revision; right axis: pods.
 * Columns beyond {@link SVG_MAX_COLUMNS} are merged keeping maxima.
 */
export function renderSvgChart(result: SimulationResult, run: RunDescription): string {
  const rows = result.timeline;
  const cols = columns(rows);
  const tEnd = rows.length > 0 ? rows[rows.length - 1]!.t + 1 : 1;
  const loadMaxRaw = Math.max(1, ...cols.map((c) => Math.max(c.load, c.concurrency)));
  const podsMaxRaw = Math.max(1, ...cols.map((c) => Math.max(c.desired, c.ready)));
  // 8% headroom so the highest line does not run along the frame.
  const loadStep = niceStep(loadMaxRaw * 1.08, 5);
  const loadMax = Math.ceil((loadMaxRaw * 1.08) / loadStep) * loadStep;
  const podStep = niceStep(podsMaxRaw * 1.08, 5, true);
  const podMax = Math.ceil((podsMaxRaw * 1.08) / podStep) * podStep;
  const x = (t: number): number => M.left + (t / tEnd) * PW;
  const yL = (v: number): number => M.top + PH - (v / loadMax) * PH;
  const yP = (v: number): number => M.top + PH - (v / podMax) * PH;

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  const s = result.summary;
  parts.push(`<text x="${M.left}" y="22" font-size="16" font-weight="600" fill="#1d2433">${esc(`tide simulate: ${run.source}`)}</text>`);
  const line2 = `pod start ${formatDuration(run.podStartSeconds)} · pod-seconds ${Math.round(s.podSeconds)} · cold starts ${s.coldStarts} · wait p99 ${formatDuration(s.waitP99Seconds)}, max ${formatDuration(s.waitMaxSeconds)} · panic ${formatDuration(s.panicSeconds)} · max replicas ${s.maxReplicas}`;
  parts.push(`<text x="${M.left}" y="42" fill="#5b6478">${esc(line2)}</text>`);

  // Panic shading.
  for (const [a, b] of panicRanges(rows)) {
    parts.push(`<rect x="${f(x(a))}" y="${M.top}" width="${f(Math.max(1, x(b) - x(a)))}" height="${PH}" fill="#e6503c" fill-opacity="0.13"/>`);
  }

  // Grid and axes.
  for (let v = 0; v <= loadMax + 1e-9; v += loadStep) {
    const y = f(yL(v));
    parts.push(`<line x1="${M.left}" x2="${M.left + PW}" y1="${y}" y2="${y}" stroke="#e3e7ee"/>`);
    parts.push(`<text x="${M.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#5b6478">${esc(String(Number(v.toPrecision(6))))}</text>`);
  }
  for (let v = 0; v <= podMax; v += podStep) {
    parts.push(`<text x="${M.left + PW + 6}" y="${f(yP(v))}" dominant-baseline="middle" fill="#1a9e5a">${v}</text>`);
  }
  const tStep = TIME_STEPS.find((st) => tEnd / st <= 10) ?? TIME_STEPS[TIME_STEPS.length - 1]!;
  for (let t = 0; t <= tEnd; t += tStep) {
    const xx = f(x(t));
    parts.push(`<line x1="${xx}" x2="${xx}" y1="${M.top + PH}" y2="${M.top + PH + 5}" stroke="#8a94a6"/>`);
    parts.push(`<text x="${xx}" y="${M.top + PH + 18}" text-anchor="middle" fill="#5b6478">${timeLabel(t)}</text>`);
  }
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${PW}" height="${PH}" fill="none" stroke="#8a94a6"/>`);
  const loadUnit = run.format === 'rps' ? 'requests/s' : run.format === 'arrivals' ? 'arrivals/s' : 'concurrency';
  parts.push(`<text transform="translate(16 ${M.top + PH / 2}) rotate(-90)" text-anchor="middle" fill="#5b6478">${esc(`load (${loadUnit})`)}</text>`);
  parts.push(`<text transform="translate(${W - 12} ${M.top + PH / 2}) rotate(90)" text-anchor="middle" fill="#1a9e5a">pods</text>`);

  // Load as a filled area, requests in the revision as a line.
  if (cols.length > 0) {
    const area = cols.map((c) => `L${f(x(c.t0))},${f(yL(c.load))} L${f(x(c.t1))},${f(yL(c.load))}`).join(' ');
    parts.push(`<path d="M${f(x(0))},${f(yL(0))} ${area} L${f(x(tEnd))},${f(yL(0))} Z" fill="#8a94a6" fill-opacity="0.25" stroke="#8a94a6" stroke-width="1"/>`);
    const conc = cols.map((c, i) => `${i === 0 ? 'M' : 'L'}${f(x((c.t0 + c.t1) / 2))},${f(yL(c.concurrency))}`).join(' ');
    parts.push(`<path d="${conc}" fill="none" stroke="#4f6bed" stroke-width="1.5"/>`);
    const step = (get: (c: Column) => number): string =>
      cols.map((c, i) => `${i === 0 ? 'M' : 'L'}${f(x(c.t0))},${f(yP(Math.max(0, get(c))))} L${f(x(c.t1))},${f(yP(Math.max(0, get(c))))}`).join(' ');
    parts.push(`<path d="${step((c) => c.desired)}" fill="none" stroke="#f0a020" stroke-width="2" stroke-dasharray="6 3"/>`);
    parts.push(`<path d="${step((c) => c.ready)}" fill="none" stroke="#1a9e5a" stroke-width="2.5"/>`);
  }

  // Legend.
  const legend: [string, string, string][] = [
    ['load', '#8a94a6', ''],
    ['in flight + waiting', '#4f6bed', ''],
    ['desired pods', '#f0a020', '6 3'],
    ['ready pods', '#1a9e5a', ''],
  ];
  let lx = M.left;
  const ly = H - 18;
  for (const [name, color, dash] of legend) {
    parts.push(`<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="3"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    parts.push(`<text x="${lx + 28}" y="${ly}" dominant-baseline="middle" fill="#1d2433">${esc(name)}</text>`);
    lx += 40 + name.length * 7;
  }
  parts.push(`<rect x="${lx}" y="${ly - 6}" width="14" height="12" fill="#e6503c" fill-opacity="0.25"/>`);
  parts.push(`<text x="${lx + 20}" y="${ly}" dominant-baseline="middle" fill="#1d2433">panic</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
