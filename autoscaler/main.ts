/**
 * Entry for `tide autoscaler`: reads the config file, builds the autoscaler with real adapters and starts its two
 * listeners. `tide up` builds the same pieces in-process with the local backend (see README "Runtime and dashboard").
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { buildAutoscaler, type Autoscaler, type Routing } from './app.js';
import type { PodInfo, ScaleTarget } from './backend.js';
import { AUTOSCALER_DEFAULTS, parseAutoscalerConfig, type AutoscalerConfig } from './config/autoscaler-config.js';
import { createGrpcScraper } from './http/scraper.js';
import { startAutoscalerServers, type StartedAutoscalerServers } from './http/servers.js';
import { systemClock } from '../common/clock.js';
import { ConfigError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';

/**
 * The scale target of a standalone local autoscaler: it manages no workloads (`tide up` owns the processes), so every
 * revision has no pods and writes are ignored.
 */
export const EMPTY_SCALE_TARGET: ScaleTarget = {
  pods: (): readonly PodInfo[] => [],
  replicas: () => 0,
  setReplicas: () => Promise.resolve(),
};

/** Routing that nobody listens to (standalone: there is no local router to program). */
const NO_ROUTING: Routing = { setMode: () => {}, activatorReady: () => true };

/**
 * Reads `config-autoscaler` from a file: a ConfigMap (`data:` is used) or a plain map of keys, YAML or JSON.
 * @throws ConfigError naming the file and each bad key.
 */
export async function readAutoscalerConfigFile(path: string): Promise<Readonly<AutoscalerConfig>> {
  let doc: unknown;
  try {
    doc = parseYaml(await readFile(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(path, [{ key: path, message: `cannot read: ${err instanceof Error ? err.message : String(err)}` }]);
  }
  const obj = (doc ?? {}) as Record<string, unknown>;
  const raw = obj['kind'] === 'ConfigMap' || typeof obj['data'] === 'object' ? (obj['data'] ?? {}) : obj;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(path, [{ key: 'data', message: 'expected a map of config-autoscaler keys' }]);
  }
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) data[k] = typeof v === 'string' ? v : String(v);
  const { config, problems } = parseAutoscalerConfig(data);
  if (problems.length > 0) throw new ConfigError(path, problems);
  return config;
}

export interface StandaloneOptions {
  readonly host: string;
  readonly statsPort: number;
  readonly httpPort: number;
  readonly config?: Readonly<AutoscalerConfig>;
  readonly logger: Logger;
}

export interface RunningAutoscaler {
  readonly autoscaler: Autoscaler;
  readonly servers: StartedAutoscalerServers;
  /** Stops the loops, closes the servers and the scrape clients. */
  close(): Promise<void>;
}

/**
 * Starts a local-backend autoscaler on its own: the stats receiver and the dashboard, with nothing to scale until
 * revisions are added (which `tide up` does in-process).
 */
export async function startStandaloneAutoscaler(opts: StandaloneOptions): Promise<RunningAutoscaler> {
  const scraper = createGrpcScraper();
  const autoscaler = buildAutoscaler({
    scaleTarget: EMPTY_SCALE_TARGET,
    routing: NO_ROUTING,
    scraper: (address) => scraper.scrape(address),
    clock: systemClock,
    logger: opts.logger,
    config: opts.config ?? AUTOSCALER_DEFAULTS,
    random: Math.random,
  });
  let servers: StartedAutoscalerServers;
  try {
    servers = await startAutoscalerServers(autoscaler, { host: opts.host, statsPort: opts.statsPort, httpPort: opts.httpPort, logger: opts.logger });
  } catch (err) {
    scraper.close();
    throw err;
  }
  autoscaler.start();
  return {
    autoscaler,
    servers,
    close: async () => {
      autoscaler.stop();
      await servers.close();
      scraper.close();
    },
  };
}
