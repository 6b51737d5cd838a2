import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../common/clock.js';
import { AutoscalerStatsClient, serveAutoscalerStats, type StartedGrpcServer } from '../../common/http/stats-grpc.js';
import { createListener, type Listener } from '../../common/http/server.js';
import { silentLogger } from '../../common/logger.js';
import type { RevisionStat } from '../../common/stats.js';
import { buildActivator, type Activator } from '../../activator/app.js';
import { StaticEndpointsSource, StaticRevisionSource } from '../../activator/static-source.js';
import { seededRandom } from '../support/seeded-random.js';
import { revision, send, until } from './harness.js';

let server: StartedGrpcServer | undefined;
let client: AutoscalerStatsClient | undefined;
let app: Activator | undefined;
let listener: Listener | undefined;
afterEach(async () => {
  await listener?.close({ timeoutMs: 1000 });
  await app?.stop();
  client?.close();
  await server?.close(500);
  listener = app = client = server = undefined;
});

describe('§b5 demand reaches the autoscaler over the real gRPC stats client', () => {
  it('the first request for a revision at zero is reported at once (poke), before any pod exists', async () => {
    const received: RevisionStat[] = [];
    server = await serveAutoscalerStats((stats) => received.push(...stats), { host: '127.0.0.1', port: 0 });
    client = new AutoscalerStatsClient(`127.0.0.1:${server.port}`);
    app = buildActivator({
      revisions: new StaticRevisionSource([revision('hello', { timeoutSeconds: 1, responseStartTimeoutSeconds: 1 })]),
      endpoints: new StaticEndpointsSource(),
      stats: client,
      clock: systemClock,
      random: seededRandom(1),
      logger: silentLogger(),
      config: { statsIntervalMs: 60_000 },
    });
    app.start();
    listener = createListener({ handler: app.handler });
    const port = await listener.listen(0, '127.0.0.1');
    const reply = send(port);
    await until(() => received.length > 0);
    expect(received[0]).toMatchObject({ namespace: 'default', revision: 'hello', stat: { podName: 'activator', averageConcurrentRequests: 1, requestCount: 1 } });
    expect(app.isReady()).toBe(true);
    expect((await reply).status).toBe(504);
  });
});
