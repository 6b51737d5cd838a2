import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_HTML, DASHBOARD_SCRIPT } from '../../autoscaler/dashboard/page.js';

describe('dashboard page', () => {
  it('its inline script is valid JavaScript (no build step checks it otherwise)', () => {
    expect(() => new Script(DASHBOARD_SCRIPT, { filename: 'dashboard-inline.js' })).not.toThrow();
  });

  it('loads only relative, same-origin resources (works behind a path prefix, no network at run time)', () => {
    const refs = [...DASHBOARD_HTML.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]).filter((r) => !r?.startsWith('data:'));
    expect(refs).toEqual(['assets/uPlot.min.css', 'assets/uPlot.iife.min.js']);
    expect(DASHBOARD_SCRIPT).toContain("new EventSource('api/events')");
    expect(DASHBOARD_HTML).not.toMatch(/https?:\/\//);
  });
});
