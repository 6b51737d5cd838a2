/**
 * Issue 5, end to end in a real browser: `tide up` runs for real (activator, autoscaler, app + queue-proxy processes),
 * closed-loop load goes through the front door, and headless Chromium shows the dashboard. The replica count the page
 * shows must rise under the load and fall back to zero after it; a screenshot is saved to test-output/dashboard-live.png.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { fromRoot } from '../../common/paths.js';
import { helloYaml, closedLoopLoad, upFromYaml, type E2E } from './support.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.log(`live dashboard browser test skipped: ${CHROMIUM} is not installed (apt-get install chromium)`);

const CLIENTS = 12;
// Target 2 in-flight requests per replica at 100% utilisation: 12 clients of 100 ms requests want about 6 replicas.
const YAML = helloYaml({ delayMs: 100, annotations: { 'initial-scale': 0, target: 2, 'target-utilization-percentage': 100, 'max-scale': 8 } });

let e2e: E2E | undefined;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await e2e?.stop();
  e2e = undefined;
});

describe('tide up: the dashboard in headless Chromium while real load runs', () => {
  it.skipIf(!hasChromium)('shows replicas rising under load and falling to zero after it', async () => {
    e2e = await upFromYaml(YAML);
    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    closers.push(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1280, height: 640 }, colorScheme: 'dark' });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`http://127.0.0.1:${e2e.up.dashboardPort}/`);
    const section = page.locator('section[data-revision="default/hello"]');
    await section.waitFor({ timeout: 10_000 });
    const shown = async (): Promise<number> => Number(await section.getAttribute('data-ready'));
    expect(await shown()).toBe(0);

    // Load for 10 s (bounded in time; closed loop, so bounded in concurrency).
    let stop = false;
    const load = closedLoopLoad({ base: e2e.base, host: 'hello.localhost', path: '/', clients: CLIENTS, maxMs: 15_000, until: () => stop });
    const seen: number[] = [0];
    let peak = 0;
    const loadEnds = Date.now() + 10_000;
    while (Date.now() < loadEnds) {
      const n = await shown();
      if (seen[seen.length - 1] !== n) seen.push(n);
      peak = Math.max(peak, n);
      await page.waitForTimeout(200);
    }
    await page.screenshot({ path: shotPath(), fullPage: true });
    stop = true;
    const replies = await load;
    expect(replies.filter((r) => r.status !== 200)).toEqual([]);

    // Then back to zero: stable window 6 s + grace 2 s, plus rate-limited steps down (bounded: 40 s).
    const quietEnds = Date.now() + 40_000;
    while (Date.now() < quietEnds) {
      const n = await shown();
      if (seen[seen.length - 1] !== n) seen.push(n);
      if (n === 0) break;
      await page.waitForTimeout(250);
    }
    console.log(`live dashboard: ${replies.length} requests; ready replicas shown ${seen.join(' → ')}`);
    expect(peak, `shown: ${seen.join(' → ')}`).toBeGreaterThanOrEqual(3);
    expect(seen[seen.length - 1], `shown: ${seen.join(' → ')}`).toBe(0);
    expect(pageErrors).toEqual([]);
  }, 90_000);
});

function shotPath(): string {
  mkdirSync(fromRoot('test-output'), { recursive: true });
  return fromRoot('test-output', 'dashboard-live.png');
}
