/**
 * A managed Deployment's scaling spec, read as `tide validate` reads it (autoscaler/config): the Deployment's
 * annotations overridden by its pod template's, checked with Knative's ranges and messages; bad values fall back to
 * the default. Pure.
 */
import type { ConfigProblem } from '../../common/errors.js';
import { resolveRevisionSpec } from '../../autoscaler/config/annotations.js';
import type { AutoscalerConfig } from '../../autoscaler/config/autoscaler-config.js';
import type { RevisionScalingSpec } from '../../autoscaler/config/revision-spec.js';
import type { Deployment } from '../objects.js';

/** `metadata.annotations` overridden by `spec.template.metadata.annotations` (where Knative users put them). */
export function workloadAnnotations(d: Deployment): Record<string, string> {
  return { ...d.metadata.annotations, ...d.spec?.template?.metadata?.annotations };
}

export interface ResolvedWorkload {
  readonly spec: RevisionScalingSpec;
  readonly problems: readonly ConfigProblem[];
  /** The annotations the spec came from, to tell a real change from a status update. */
  readonly fingerprint: string;
}

export function resolveWorkload(d: Deployment, config: Readonly<AutoscalerConfig>): ResolvedWorkload {
  const annotations = workloadAnnotations(d);
  const { spec, problems } = resolveRevisionSpec(annotations, config);
  const fingerprint = JSON.stringify(Object.entries(annotations).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { spec, problems, fingerprint };
}

/** Maximum length of an Event message Kubernetes keeps (longer ones are cut by the API server). */
const MAX_EVENT_MESSAGE = 1024;

/** The Event message for bad annotations: `key: message` each, as `tide validate` prints them, and what happens. */
export function problemsMessage(problems: readonly ConfigProblem[]): string {
  const text = `${problems.map((p) => `${p.key}: ${p.message}`).join('; ')}; the default applies`;
  return text.length > MAX_EVENT_MESSAGE ? `${text.slice(0, MAX_EVENT_MESSAGE - 1)}…` : text;
}
