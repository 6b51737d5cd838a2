/** uPlot's browser build and stylesheet as text, for the self-contained HTML charts (`simulate --chart`, `load --report`). */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fromRoot } from '../common/paths.js';
import type { UplotAssets } from '../autoscaler/simulate/chart-html.js';

/** A file of uPlot's dist/: in Tide's own node_modules, or wherever Node resolves `uplot` (a hoisted install). */
async function readUplot(name: string): Promise<string> {
  const local = fromRoot('node_modules', 'uplot', 'dist', name);
  const path = existsSync(local) ? local : createRequire(import.meta.url).resolve(`uplot/dist/${name}`);
  return readFile(path, 'utf8');
}

export async function readUplotAssets(): Promise<UplotAssets> {
  const [js, css] = await Promise.all([readUplot('uPlot.iife.min.js'), readUplot('uPlot.min.css')]);
  return { js, css };
}
