import { describe, expect, it } from 'vitest';
import { buildActivator } from '../../activator/app.js';
import { StaticEndpointsSource, StaticRevisionSource } from '../../activator/static-source.js';
import { Breaker } from '../../common/breaker.js';
import { systemClock } from '../../common/clock.js';
import { ConfigError } from '../../common/errors.js';
import { H2cPool } from '../../common/http/h2c-pool.js';
import { createForwarder } from '../../common/http/forward.js';
import { createListener } from '../../common/http/server.js';
import { silentLogger } from '../../common/logger.js';
import { checkOptions, option } from '../../common/options.js';
import { buildQueueProxy } from '../../proxy/app.js';
import { parseQueueProxyConfig } from '../../proxy/config.js';
import { BASE_ENV } from '../proxy/fixtures.js';
import { RecordingSink } from '../activator/harness.js';

/** The ConfigError `fn` throws: its message and the options it names. */
function refusal(fn: () => unknown): { message: string; keys: string[] } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    return { message: e.message, keys: e.problems.map((p) => p.key) };
  }
  throw new Error('no ConfigError thrown');
}

const handler = (): void => undefined;

describe('checkOptions', () => {
  const spec = { n: option.positiveInt, s: option.string, f: option.function };

  it('accepts known keys with good values, and undefined as absent', () => {
    expect(() => checkOptions('x', { n: 3, s: undefined, f: handler }, spec)).not.toThrow();
  });

  it('names every bad, unknown and missing option at once', () => {
    expect(refusal(() => checkOptions('thing', { n: 0, s: 1, extra: true }, spec, ['f']))).toEqual({
      message: 'thing: n: expected an integer >= 1, got 0; s: expected a string, got 1; extra: unknown option; f: required',
      keys: ['n', 's', 'extra', 'f'],
    });
  });
});

describe('constructors refuse bad options, naming them (nothing is silently dropped)', () => {
  it.each([
    { name: 'createListener: a negative body limit', fn: () => createListener({ handler, maxBodyBytes: -1 }), keys: ['maxBodyBytes'] },
    { name: 'createListener: a NaN timeout', fn: () => createListener({ handler, headersTimeoutMs: Number.NaN }), keys: ['headersTimeoutMs'] },
    { name: 'createListener: a misspelt option', fn: () => createListener({ handler, maxBodyByte: 10 } as never), keys: ['maxBodyByte'] },
    { name: 'createListener: no handler', fn: () => createListener({} as never), keys: ['handler'] },
    { name: 'createForwarder: a fractional stream cap', fn: () => createForwarder({ maxStreamsPerSession: 1.5 }), keys: ['maxStreamsPerSession'] },
    { name: 'createForwarder: a bad retry setting', fn: () => createForwarder({ retry: { budgetRatio: 2 } }), keys: ['budgetRatio'] },
    { name: 'H2cPool: zero keep-alive', fn: () => new H2cPool({ maxStreamsPerSession: 1, keepAliveMs: 0 }), keys: ['keepAliveMs'] },
    { name: 'Breaker: zero queue depth', fn: () => new Breaker({ queueDepth: 0, maxConcurrency: 1, initialCapacity: 1 }), keys: ['queueDepth'] },
    {
      name: 'buildQueueProxy: an unknown dep',
      fn: () => buildQueueProxy({ config: parseQueueProxyConfig({ ...BASE_ENV, USER_PORT: '8080' }), clok: systemClock } as never),
      keys: ['clok'],
    },
    {
      name: 'buildActivator: a missing dep and a bad config key',
      fn: () =>
        buildActivator({
          revisions: new StaticRevisionSource([]),
          endpoints: new StaticEndpointsSource(),
          stats: new RecordingSink(),
          clock: systemClock,
          logger: silentLogger(),
        } as never),
      keys: ['random'],
    },
    {
      name: 'buildActivator: a bad config value',
      fn: () =>
        buildActivator({
          revisions: new StaticRevisionSource([]),
          endpoints: new StaticEndpointsSource(),
          stats: new RecordingSink(),
          clock: systemClock,
          random: Math.random,
          logger: silentLogger(),
          config: { maxWaitingTotal: 0 },
        }),
      keys: ['maxWaitingTotal'],
    },
  ])('$name', ({ fn, keys }) => {
    expect(refusal(fn).keys).toEqual(keys);
  });
});
