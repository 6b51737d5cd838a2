/**
 * `tide up`'s 404 for a Host no local service answers to: what is served here and the curl line that reaches it.
 * Only the local front door says this; in a cluster the activator's 404 names nothing (see `notFoundText` in
 * activator/app.ts).
 */
import type { RevisionInfo } from '../activator/endpoints.js';

/** The front door's base URL for a curl line: an unspecified bind address is reached on loopback. */
export function frontDoorBase(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}/`;
}

/** The 404 body: the Host asked for, every service with the hosts it answers to, and one curl line per service. */
export function unknownHostText(host: string | undefined, services: readonly Pick<RevisionInfo, 'revision' | 'hosts'>[], base: string): string {
  const asked = host === undefined || host === '' ? 'the request has no Host' : `no service here answers to Host ${JSON.stringify(host)}`;
  const lines = [`tide up: ${asked}.`];
  if (services.length === 0) return `${lines[0]}\n`;
  lines.push('Hosts served here:');
  for (const s of services) lines.push(`  ${s.revision}: ${s.hosts.join(', ')}`);
  lines.push('Try:');
  for (const s of services) if (s.hosts[0] !== undefined) lines.push(`  curl -H 'Host: ${s.hosts[0]}' ${base}`);
  return `${lines.join('\n')}\n`;
}
