/**
 * Hostile requests against the queue-proxy and the activator (each in front of an app that records every request):
 * bytes smuggled after an Upgrade, internal headers from a client (one case per header, over HTTP/1.1 and h2c),
 * `OPTIONS *` with the circuit breaker on, the header-list limit on both protocols, and the lesser cases of issue 16.
 */
import * as http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { H } from '../../common/http/headers.js';
import { firstStatus, h2Request, rawExchange } from '../common/http/helpers.js';
import { hostileTargets, type Target } from './targets.js';

/** Every header the data plane reads or sets for itself; none may reach the app with a client's value. */
const INTERNAL: [string, string][] = [
  [H.originalHost, 'spoofed.example'],
  [H.proxyRequest, 'activator'],
  [H.clientProtocol, 'http/1.1'],
  [H.servingRevision, 'other-00001'],
  [H.servingNamespace, 'other'],
  [H.networkHash, 'abc'],
  [H.passthroughLb, 'true'],
];

describe.each(hostileTargets)('hostile requests against the $name', (t) => {
  let target: Target;
  beforeAll(async () => {
    target = await t.start({ env: { TIDE_CIRCUIT_ENABLED: 'true', TIDE_CIRCUIT_MIN_REQUESTS: '5', TIDE_CIRCUIT_ERROR_PERCENT: '50' } });
  });
  afterAll(() => target.close());

  const lastSeen = (): Record<string, unknown> => (target.appHeaders.at(-1) ?? {});
  const host = (): string => target.host;

  it('bytes pipelined after an Upgrade the app answers without 101 never reach the app', async () => {
    const before = target.appRequests();
    // (A node app refuses Content-Length with Transfer-Encoding itself; websocket.test.ts smuggles that to a naive parser.)
    const smuggled = `GET /smuggled HTTP/1.1\r\nHost: ${host()}\r\nK-Original-Host: evil\r\nK-Proxy-Request: activator\r\n\r\n`;
    const { text } = await rawExchange(target.port, `GET /up HTTP/1.1\r\nHost: ${host()}\r\nConnection: upgrade\r\nUpgrade: foo\r\n\r\n${smuggled}`, 1000);
    const seen = target.appHeaders.slice(before);
    console.log(`upgrade smuggling (${t.name}): ${JSON.stringify({ status: firstStatus(text), appRequests: seen.length })}`);
    expect(firstStatus(text)).toBe(404);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.['k-original-host']).toBeUndefined();
  });

  describe.each(INTERNAL)('internal header %s from a client never reaches the app', (name, value) => {
    it('HTTP/1.1', async () => {
      const { text } = await rawExchange(target.port, `GET /h HTTP/1.1\r\nHost: ${host()}\r\n${name}: ${value}\r\nConnection: close\r\n\r\n`);
      expect(firstStatus(text)).toBe(200);
      expect(lastSeen()[name]).toBeUndefined();
      if (t.name === 'activator') expect(lastSeen().host).toBe(host()); // the activator's own K-Original-Host wins
    });

    it('h2c', async () => {
      const session = http2.connect(`http://127.0.0.1:${target.port}`);
      session.on('error', () => undefined);
      try {
        const r = await h2Request(session, { ':path': '/h', ':authority': host(), [name]: value });
        expect(`${r.status} ${r.body}`).toBe('200 ok');
      } finally {
        session.destroy();
      }
      expect(lastSeen()[name]).toBeUndefined();
    });
  });

  it('OPTIONS * is answered by the front (200) and never reaches the app or its circuit', async () => {
    const before = target.appRequests();
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const { text } = await rawExchange(target.port, `OPTIONS * HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`, 500);
      statuses.push(firstStatus(text));
    }
    const { text } = await rawExchange(target.port, `GET /after HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`);
    console.log(`OPTIONS * (${t.name}): ${JSON.stringify({ sent: 20, ok: statuses.filter((s) => s === 200).length, appRequests: target.appRequests() - before, next: firstStatus(text) })}`);
    expect(statuses).toEqual(Array(20).fill(200));
    expect(firstStatus(text)).toBe(200);
    expect(target.appRequests() - before).toBe(1);
  });

  it('header lists over 16 KiB are refused on both protocols (HTTP/1.1: 431; h2: 431 or a reset), the app sees none', async () => {
    const before = target.appRequests();
    const results: string[] = [];
    for (const size of [17_000, 30_000, 60_000]) {
      const { text, closed } = await rawExchange(target.port, `GET / HTTP/1.1\r\nHost: ${host()}\r\nX-Big: ${'a'.repeat(size)}\r\n\r\n`);
      results.push(`h1 ${size}: ${firstStatus(text) || (closed ? 'closed' : 'none')}`);
      const session = http2.connect(`http://127.0.0.1:${target.port}`);
      session.on('error', () => undefined);
      const got = await h2Request(session, { ':path': '/', ':authority': host(), 'x-big': 'a'.repeat(size) }).then(
        (r) => String(r.status),
        (e: Error) => e.message,
      );
      session.destroy();
      results.push(`h2 ${size}: ${got}`);
    }
    console.log(`header lists (${t.name}): ${JSON.stringify({ results, appRequests: target.appRequests() - before })}`);
    for (const r of results.filter((x) => x.startsWith('h1'))) expect(r).toMatch(/: 431$/);
    for (const r of results.filter((x) => x.startsWith('h2'))) expect(r).toMatch(/: (?:431|stream closed, code \d+)$/);
    expect(target.appRequests() - before).toBe(0);
  });

  it.each([
    ['Transfer-Encoding: gzip, chunked', 'POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 501],
    ['CONNECT', 'CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n', 501],
    ['HTTP/1.0 without Host', 'GET / HTTP/1.0\r\n\r\n', 400],
    ['K-Original-Host that is not a host', 'GET / HTTP/1.1\r\nHost: {host}\r\nK-Original-Host: a:80@evil\r\n\r\n', 400],
  ])('%s → %s, the app sees nothing', async (_name, raw, want) => {
    const before = target.appRequests();
    const { text } = await rawExchange(target.port, raw.replaceAll('{host}', host()));
    expect(firstStatus(text)).toBe(want);
    expect(target.appRequests() - before).toBe(0);
  });

  it('Connection: host leaves the app the client\'s Host; TRACE is forwarded (as Knative does)', async () => {
    await rawExchange(target.port, `GET / HTTP/1.1\r\nHost: ${host()}\r\nConnection: host\r\n\r\n`, 500);
    expect(lastSeen().host).toBe(host());
    const { text } = await rawExchange(target.port, `TRACE / HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`);
    expect(firstStatus(text)).toBe(200);
  });
});
