import { describe, expect, it } from 'vitest';
import { hostsFor } from '../../local/backend.js';
import { frontDoorBase, unknownHostText } from '../../local/not-found.js';

const services = [
  { revision: 'hello', hosts: hostsFor('default', 'hello') },
  { revision: 'api', hosts: hostsFor('default', 'api') },
];

describe("tide up's 404 for an unknown Host", () => {
  it('names the Host asked for, lists every service with its hosts, and gives one curl line per service', () => {
    expect(unknownHostText('nope.localhost:8080', services, 'http://127.0.0.1:8080/')).toBe(
      [
        'tide up: no service here answers to Host "nope.localhost:8080".',
        'Hosts served here:',
        '  hello: hello.localhost, hello.default.localhost, hello.default.svc.cluster.local, hello.default.svc, hello.default',
        '  api: api.localhost, api.default.localhost, api.default.svc.cluster.local, api.default.svc, api.default',
        'Try:',
        "  curl -H 'Host: hello.localhost' http://127.0.0.1:8080/",
        "  curl -H 'Host: api.localhost' http://127.0.0.1:8080/",
        '',
      ].join('\n'),
    );
  });

  it('says so when there is no Host, and lists nothing when nothing is served', () => {
    expect(unknownHostText(undefined, services, 'http://127.0.0.1:8080/').split('\n')[0]).toBe('tide up: the request has no Host.');
    expect(unknownHostText('x', [], 'http://127.0.0.1:8080/')).toBe('tide up: no service here answers to Host "x".\n');
  });

  it.each([
    { host: '127.0.0.1', port: 8080, want: 'http://127.0.0.1:8080/' },
    { host: '0.0.0.0', port: 80, want: 'http://127.0.0.1:80/' },
    { host: '::', port: 8080, want: 'http://[::1]:8080/' },
    { host: '::1', port: 9000, want: 'http://[::1]:9000/' },
    { host: 'localhost', port: 8080, want: 'http://localhost:8080/' },
  ])('the curl base for bind address $host is $want', ({ host, port, want }) => {
    expect(frontDoorBase(host, port)).toBe(want);
  });
});
