import { afterEach, describe, expect, it } from 'vitest';
import { admissionDeadlineMs, requestTimeouts } from '../../activator/request-path.js';
import { resolveActivatorConfig } from '../../activator/config.js';
import { FakeClock } from '../support/fake-clock.js';
import { firstStatus, rawExchange } from '../common/http/helpers.js';
import { revision, send, startActivatorHarness, until, type Harness } from './harness.js';

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

describe('admission deadline: the earliest of the three timers, all from entry (Knative timeout handler around the throttler)', () => {
  it.each([
    { name: 'total only', t: { total: 10_000, responseStart: 0, idle: 0 }, want: 10_000 },
    { name: 'response-start below total', t: { total: 10_000, responseStart: 2_000, idle: 0 }, want: 2_000 },
    { name: 'response-start above total', t: { total: 3_000, responseStart: 5_000, idle: 0 }, want: 3_000 },
    { name: 'idle earliest', t: { total: 10_000, responseStart: 5_000, idle: 1_000 }, want: 1_000 },
    { name: 'all off', t: { total: 0, responseStart: 0, idle: 0 }, want: Infinity },
  ])('$name', ({ t, want }) => {
    expect(admissionDeadlineMs(500, t) - 500).toBe(want);
  });

  it('a revision without timers gets the activator fallbacks (300 / 300 / 0 s)', () => {
    const config = resolveActivatorConfig();
    expect(requestTimeouts(revision('r', { timeoutSeconds: 0, responseStartTimeoutSeconds: 0, idleTimeoutSeconds: 0 }), config)).toEqual({
      total: 300_000,
      responseStart: 300_000,
      idle: 0,
    });
  });
});

describe('one request path: plain requests and WebSocket upgrades to a cold revision', () => {
  it('time out together at the response-start timeout (not the longer total), both 504 activator request timeout', async () => {
    const clock = new FakeClock();
    const h = await startActivatorHarness({ revisions: [revision('cold', { timeoutSeconds: 10, responseStartTimeoutSeconds: 2 })], clock });
    open.push(h);
    const plain = send(h.port, { host: 'cold.localhost' });
    const upgrade = rawExchange(
      h.port,
      'GET /ws HTTP/1.1\r\nHost: cold.localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      10_000,
    );
    await until(() => h.app.revisionState('default', 'cold')?.waiting === 2);
    clock.advance(1_999);
    expect(h.app.revisionState('default', 'cold')?.waiting).toBe(2);
    clock.advance(1);
    const [p, u] = await Promise.all([plain, upgrade]);
    expect([p.status, p.body]).toEqual([504, 'activator request timeout']);
    expect(firstStatus(u.text)).toBe(504);
    expect(u.text.endsWith('\r\n\r\nactivator request timeout')).toBe(true);
    expect(u.closed).toBe(true);
    await until(() => h.app.inFlight === 0 && h.listener.inFlight === 0 && h.listener.upgradedCount === 0);
    const m = await h.app.metrics();
    expect(m).toMatch(/tide_activator_timeouts_total\{namespace="default",revision="cold"\} 2/);
  });

  it('are refused alike when the hold bound is full: 503 with Retry-After', async () => {
    const clock = new FakeClock();
    const h = await startActivatorHarness({ revisions: [revision('cold')], clock, config: { maxWaitingPerRevision: 1, retryAfterSeconds: 9 } });
    open.push(h);
    const held = send(h.port, { host: 'cold.localhost' });
    await until(() => h.app.revisionState('default', 'cold')?.waiting === 1);
    const plain = await send(h.port, { host: 'cold.localhost' });
    const upgrade = await rawExchange(h.port, 'GET /ws HTTP/1.1\r\nHost: cold.localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', 10_000);
    expect([plain.status, plain.headers['retry-after'], plain.body]).toEqual([503, '9', 'activator queue full (revision-full)']);
    expect(firstStatus(upgrade.text)).toBe(503);
    expect(upgrade.text).toContain('\r\nRetry-After: 9\r\n');
    expect(upgrade.text.endsWith('\r\n\r\nactivator queue full (revision-full)')).toBe(true);
    clock.advance(300_000);
    expect((await held).status).toBe(504);
    await until(() => h.app.inFlight === 0 && h.listener.inFlight === 0 && h.listener.upgradedCount === 0);
  });
});
