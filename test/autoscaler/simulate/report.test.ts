import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromRoot } from '../../../common/paths.js';
import { HTML_MAX_POINTS, chartData, renderHtmlChart } from '../../../autoscaler/simulate/chart-html.js';
import { SVG_MAX_COLUMNS, niceStep, renderSvgChart } from '../../../autoscaler/simulate/chart-svg.js';
import { TIMELINE_COLUMNS, formatDuration, jsonSummary, panicRanges, textSummary, timelineCsv, timelineJson, type RunDescription } from '../../../autoscaler/simulate/report.js';
import { shapeTrace } from '../../../autoscaler/simulate/shapes.js';
import { simulate, type SimulationResult, type TimelineRow } from '../../../autoscaler/simulate/simulator.js';
import { toWorkload } from '../../../autoscaler/simulate/trace.js';
import { specWith } from './fixtures.js';

const run: RunDescription = { source: 'shape spike', format: 'concurrency', podStartSeconds: 2, settings: ['target 7'] };

function spikeResult(): SimulationResult {
  return simulate(toWorkload(shapeTrace('spike:base=5,peak=100,at=120,width=10,duration=300'), 1), {
    spec: specWith({ decider: { targetValue: 7, totalValue: 10 } }),
    podStartSeconds: 2,
    initialPods: 1,
  });
}

function row(t: number, inPanic: boolean): TimelineRow {
  return {
    t, load: 0, arrivals: 0, concurrency: 0, waiting: 0, timedOut: 0, stable: 0, panic: 0, target: 7, desired: 1, replicas: 1, ready: 1,
    pods: 1, inPanic, ebc: 0, state: 'active', mode: 'serve',
  };
}

describe('reports', () => {
  it('panicRanges merges consecutive panic seconds into [start, end)', () => {
    const rows = [false, true, true, false, true, false, true].map((p, t) => row(t, p));
    expect(panicRanges(rows)).toEqual([
      [1, 3],
      [4, 5],
      [6, 7],
    ]);
  });

  it('formatDuration', () => {
    expect(formatDuration(0.25)).toBe('0.25s');
    expect(formatDuration(59)).toBe('59s');
    expect(formatDuration(62)).toBe('1m02s');
    expect(formatDuration(3723)).toBe('1h02m03s');
  });

  it('timeline CSV: header then one row a second, floats rounded to 6 decimals', () => {
    const r = { ...row(0, true), concurrency: 0.1 + 0.2 };
    const csv = timelineCsv([r, row(1, false)]).trim().split('\n');
    expect(csv[0]).toBe(TIMELINE_COLUMNS.join(','));
    expect(csv).toHaveLength(3);
    expect(csv[1]).toBe('0,0,0,0.3,0,0,0,0,7,1,1,1,1,true,0,active,serve');
  });

  it('timeline JSON parses back to the rows', () => {
    const parsed = JSON.parse(timelineJson([row(0, true), row(1, false)])) as TimelineRow[];
    expect(parsed).toEqual([row(0, true), row(1, false)]);
  });

  it('text and JSON summaries carry the figures', () => {
    const res = spikeResult();
    const text = textSummary(res, run);
    expect(text).toContain('time in panic      1m02s');
    expect(text).toContain('max 15');
    const json = JSON.parse(jsonSummary(res, run)) as { summary: { panicSeconds: number; maxReplicas: number } };
    expect(json.summary.panicSeconds).toBe(62);
    expect(json.summary.maxReplicas).toBe(15);
  });
});

describe('charts', () => {
  const assets = {
    js: readFileSync(fromRoot('node_modules', 'uplot', 'dist', 'uPlot.iife.min.js'), 'utf8'),
    css: readFileSync(fromRoot('node_modules', 'uplot', 'dist', 'uPlot.min.css'), 'utf8'),
  };

  it('HTML: self-contained, with uPlot inlined, the data, panic ranges and the summary header', () => {
    const res = spikeResult();
    const html = renderHtmlChart(res, run, assets);
    expect(html).toContain(assets.js.slice(0, 200));
    expect(html).toContain(assets.css.slice(0, 100));
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+stylesheet/);
    const m = /var DATA = (.*);\n/.exec(html);
    expect(m).not.toBeNull();
    const data = JSON.parse(m![1]!) as ReturnType<typeof chartData>;
    expect(data.t).toHaveLength(300);
    expect(data.ready).toEqual(res.timeline.map((r) => r.ready));
    expect(data.panic).toEqual([[121, 183]]);
    expect(html).toContain('TIME IN PANIC'.toLowerCase());
    expect(html).toContain('1m02s');
  });

  it(`HTML: timelines longer than ${HTML_MAX_POINTS} seconds are merged keeping maxima`, () => {
    const rows = Array.from({ length: 2 * HTML_MAX_POINTS + 1 }, (_, t) => ({ ...row(t, false), ready: t % 2 === 1 ? 9 : 1 }));
    const res = { summary: spikeResult().summary, timeline: rows };
    const data = chartData(res);
    // 200,001 rows in groups of 3 → 66,667 points, each holding a 9.
    expect(data.t).toHaveLength(Math.ceil((2 * HTML_MAX_POINTS + 1) / 3));
    expect(data.t.slice(0, 3)).toEqual([0, 3, 6]);
    expect(data.ready.slice(0, 3)).toEqual([9, 9, 9]);
  });

  it('HTML: a source name cannot break out of the page', () => {
    const html = renderHtmlChart(spikeResult(), { ...run, source: '</script><script>alert(1)</script>' }, assets);
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('&lt;/script&gt;');
  });

  it('SVG: one svg element with the three series, panic shading and the summary line', () => {
    const svg = renderSvgChart(spikeResult(), run);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('ready pods');
    expect(svg).toContain('desired pods');
    expect(svg).toContain('fill="#e6503c" fill-opacity="0.13"');
    expect(svg).toContain('max replicas 15');
  });

  it(`SVG: long timelines are merged into at most ${SVG_MAX_COLUMNS} columns`, () => {
    const res = simulate(toWorkload(shapeTrace('sine:min=0,max=50,period=3600,duration=7200'), 1), { spec: specWith(), podStartSeconds: 2 });
    const svg = renderSvgChart(res, run);
    const readyPath = /<path d="([^"]+)" fill="none" stroke="#1a9e5a"/.exec(svg);
    expect(readyPath).not.toBeNull();
    // Two points (start and end of the step) per column.
    expect(readyPath![1]!.split(' ').length).toBeLessThanOrEqual(2 * SVG_MAX_COLUMNS);
  });

  it.each([
    { max: 8, ticks: 5, want: 2 },
    { max: 230, ticks: 5, want: 50 },
    { max: 0.7, ticks: 5, want: 0.2 },
    { max: 3, ticks: 5, integer: true, want: 1 },
  ])('niceStep($max, $ticks) = $want', ({ max, ticks, integer, want }) => {
    expect(niceStep(max, ticks, integer)).toBeCloseTo(want, 12);
  });
});
