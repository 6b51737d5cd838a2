/**
 * The dashboard in a real browser: headless Chromium (playwright-core) loads the page from a live dashboard server
 * while an autoscaler on a fast fake clock scales a revision up under load and back down. The page must show the
 * replica count rising and falling, and a screenshot is saved to test-output/dashboard.png.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { buildAutoscaler } from '../../autoscaler/app.js';
import { AUTOSCALER_DEFAULTS } from '../../autoscaler/config/autoscaler-config.js';
import { startDashboardServer } from '../../autoscaler/http/dashboard-server.js';
import { silentLogger } from '../../common/logger.js';
import { fromRoot } from '../../common/paths.js';
import type { Stat } from '../../common/stats.js';
import { FakeClock } from '../support/fake-clock.js';
import { activatorStat, FakeRouting, FakeScaleTarget, podStat, specWith } from '../autoscaler/runtime/fakes.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.log(`dashboard browser test skipped: ${CHROMIUM} is not installed (apt-get install chromium)`);

/** Pods become ready this long after they are asked for (a cold start). */
const COLD_START_MS = 3000;
/** The scenario's length in fake seconds: load ends at 50, and the count must be back to ≤ 1 well before this. */
const MAX_FAKE_SECONDS = 200;

/** In-flight requests offered at fake second `t`: idle, a ramp to 280, a plateau, then nothing. */
function loadAt(t: number): number {
  if (t < 4) return 0;
  if (t < 24) return Math.round(((t - 4) / 20) * 280);
  if (t < 50) return 280;
  return 0;
}

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

describe('dashboard in headless Chromium', () => {
  it.skipIf(!hasChromium)('shows the replica count rising under load and falling after it, and saves a screenshot', async () => {
    const clock = new FakeClock(Math.floor(Date.now() / 1000) * 1000);
    const start = clock.now();
    const target = new FakeScaleTarget(clock, true, COLD_START_MS);
    closers.push(() => target.cancelAll());
    const fakeSecond = (): number => Math.floor((clock.now() - start) / 1000);
    const scraper = (address: string): Promise<Stat> => {
      const ready = target.pods('default', 'hello').filter((p) => p.ready).length;
      const load = loadAt(fakeSecond());
      return Promise.resolve(podStat(address.replace(/:9090$/, ''), load / Math.max(1, ready), (load * 4) / Math.max(1, ready)));
    };
    const autoscaler = buildAutoscaler({ scaleTarget: target, routing: new FakeRouting(), scraper, clock, logger: silentLogger(), config: AUTOSCALER_DEFAULTS });
    // A 6 s stable window (the minimum) so the fall comes quickly; the rest is Knative's defaults (target 70).
    autoscaler.upsertRevision('default', 'hello', specWith({ 'autoscaling.knative.dev/window': '6s' }));
    autoscaler.start();
    closers.push(() => autoscaler.stop());
    const server = await startDashboardServer(autoscaler, { host: '127.0.0.1', port: 0, logger: silentLogger() });
    closers.push(() => server.close());

    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    closers.push(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1280, height: 600 }, colorScheme: 'dark' });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(server.url);

    // The driver runs in lockstep with the page: one fake second, let the scrapes settle, then wait until the page
    // shows that second's sample (its data-seq) before the next. Nothing depends on wall time or machine load: the
    // page sees every second of the scenario however slowly Chromium starts or renders.
    const settle = async (): Promise<void> => {
      for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
    };
    const section = page.locator('section[data-revision="default/hello"]');
    let queuedSince: number | undefined;
    const seen: number[] = [];
    let peak = 0;
    for (let step = 0; step < MAX_FAKE_SECONDS; step++) {
      clock.advance(1000);
      await settle();
      const load = loadAt(fakeSecond());
      const readyNow = target.pods('default', 'hello').filter((p) => p.ready).length;
      if (load > 0 && readyNow === 0) {
        // While no pod is ready the activator holds the demand (queue, waits).
        queuedSince ??= clock.now();
        const wait = (clock.now() - queuedSince) / 1000;
        autoscaler.record([{ namespace: 'default', revision: 'hello', stat: activatorStat(load, { queuedRequests: load, maxWaitSeconds: wait }) }]);
      } else if (queuedSince !== undefined && readyNow > 0) {
        // The first requests dispatched after the cold start report how long they waited.
        autoscaler.record([{ namespace: 'default', revision: 'hello', stat: activatorStat(0, { maxWaitSeconds: (clock.now() - queuedSince) / 1000 }) }]);
        queuedSince = undefined;
      }
      const latest = autoscaler.history().at(-1)?.seq ?? 0;
      if (latest === 0) continue;
      // A string, evaluated in the page (the test's TypeScript has no DOM types).
      await page.waitForFunction(`Number(document.querySelector('section[data-revision="default/hello"]')?.getAttribute('data-seq') ?? 0) >= ${latest}`, undefined, {
        timeout: 10_000,
      });
      const ready = Number(await section.getAttribute('data-ready'));
      if (seen[seen.length - 1] !== ready) seen.push(ready);
      peak = Math.max(peak, ready);
      if (peak >= 3 && ready <= 1) break;
    }
    expect(Number(await section.getAttribute('data-seq'))).toBeGreaterThan(0);
    expect(peak, `ready counts shown: ${seen.join(' → ')}`).toBeGreaterThanOrEqual(3);
    expect(seen[seen.length - 1], `ready counts shown: ${seen.join(' → ')}`).toBeLessThanOrEqual(1);
    // The page agrees with the autoscaler (within the second the last sample took to arrive).
    expect(Math.abs(Number(await section.getAttribute('data-ready')) - autoscaler.snapshot().revisions[0]!.live.ready)).toBeLessThanOrEqual(1);
    expect(await page.locator('section[data-revision="default/hello"] canvas').count()).toBeGreaterThanOrEqual(4);

    // Let the chart show a little of the quiet tail, then save what a user would see.
    await page.waitForTimeout(300);
    mkdirSync(fromRoot('test-output'), { recursive: true });
    await page.screenshot({ path: fromRoot('test-output', 'dashboard.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 40_000);
});
