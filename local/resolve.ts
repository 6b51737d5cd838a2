/**
 * Checks a parsed tide.yaml the way `tide validate` checks Kubernetes YAML: `config-autoscaler` with
 * parseAutoscalerConfig, each service's annotations (and its containerConcurrency/timeouts, as Tide's `tide.dev/*`
 * keys) with resolveRevisionSpec. Problems name the service and the key as written in tide.yaml.
 */
import type { ConfigProblem } from '../common/errors.js';
import { parseAutoscalerConfig, type AutoscalerConfig } from '../autoscaler/config/autoscaler-config.js';
import { resolveRevisionSpec } from '../autoscaler/config/annotations.js';
import type { RevisionScalingSpec } from '../autoscaler/config/revision-spec.js';
import { parseReadinessProbes } from '../proxy/config.js';
import { EnvReader } from '../common/env.js';
import { SPEC_FIELD_ANNOTATIONS, type ServiceDecl, type TideFile } from './tide-file.js';

/** A service ready to run: its declaration and its resolved scaling spec. */
export interface ResolvedService {
  readonly decl: ServiceDecl;
  readonly spec: RevisionScalingSpec;
  /** SIGTERM → SIGKILL grace in ms: terminationGracePeriodSeconds, else the resolved timeoutSeconds (§a7). */
  readonly gracePeriodMs: number;
}

export interface ResolvedFile {
  readonly namespace: string;
  readonly config: Readonly<AutoscalerConfig>;
  readonly services: readonly ResolvedService[];
  readonly problems: readonly ConfigProblem[];
}

const FIELD_OF_ANNOTATION = new Map(Object.entries(SPEC_FIELD_ANNOTATIONS).map(([field, key]) => [key, field]));

/** Resolves every service's spec; `problems` is empty when the file is good to run. */
export function resolveTideFile(file: TideFile): ResolvedFile {
  const problems: ConfigProblem[] = [];
  const { config, problems: configProblems } = parseAutoscalerConfig(file.configAutoscaler);
  for (const p of configProblems) problems.push({ key: `config-autoscaler.${p.key}`, message: p.message });

  const services: ResolvedService[] = [];
  for (const decl of file.services) {
    const at = `services.${decl.name}`;
    const { spec, problems: specProblems } = resolveRevisionSpec(decl.annotations, config);
    for (const p of specProblems) {
      const field = FIELD_OF_ANNOTATION.get(p.key);
      problems.push({ key: field === undefined ? `${at}.annotations.${p.key}` : `${at}.${field}`, message: p.message });
    }
    if (decl.readinessProbe !== undefined) {
      // The queue-proxy's own reader, so a probe it would refuse at start is refused here, before anything runs.
      const r = new EnvReader({});
      parseReadinessProbes(r, JSON.stringify(decl.readinessProbe), '127.0.0.1', 1);
      for (const p of r.problems) problems.push({ key: `${at}.readinessProbe${p.key.replace(/^SERVING_READINESS_PROBE/, '')}`, message: p.message });
    }
    const graceSeconds = decl.terminationGracePeriodSeconds ?? spec.timeoutSeconds;
    services.push({ decl, spec, gracePeriodMs: graceSeconds * 1000 });
  }
  return { namespace: file.namespace, config, services, problems };
}
