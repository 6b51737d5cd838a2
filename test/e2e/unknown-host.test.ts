/** E2E: `tide up`'s front door answers a Host it does not serve with a 404 that says what it does serve. */
import { afterEach, describe, expect, it } from 'vitest';
import { get, helloYaml, upFromYaml, type E2E } from './support.js';

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.stop();
  e2e = undefined;
});

describe('tide up: unknown Host', () => {
  it('gets a 404 listing the hosts served and the curl line for the real front door port; no replica starts', async () => {
    e2e = await upFromYaml(helloYaml({ delayMs: 0, annotations: { 'initial-scale': 0 }, allowZeroInitialScale: true }));
    const r = await get(e2e.base, 'helo.localhost', '/');
    expect(r.status).toBe(404);
    expect(r.body).toContain('no service here answers to Host "helo.localhost');
    expect(r.body).toContain('  hello: hello.localhost, hello.default.localhost');
    expect(r.body).toContain(`curl -H 'Host: hello.localhost' ${e2e.base}/`);
    expect(e2e.up.backend.replicas('default', 'hello')).toBe(0);
  });
});
