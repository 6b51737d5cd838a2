/**
 * One admission.k8s.io/v1 AdmissionReview in, one out (no I/O): checks the review, decides whether the object is
 * injected, and answers with the JSON Patch between the object and its injected copy (kubernetes/inject/workload.ts,
 * the same transform as `tide inject`). The webhook never refuses an object: one it cannot inject is allowed
 * unchanged with a warning that kubectl prints.
 */
import fastJsonPatch from 'fast-json-patch';
import { KEYS, SYSTEM_NAMESPACE } from '../inject/constants.js';
import { injectDeployment, injectPod, nameOf, type InjectOptions, type JsonObject, type Outcome } from '../inject/workload.js';
import type { ServicePreparer } from './services.js';

/** Which MutatingWebhookConfiguration entry called: a labelled namespace, or any other namespace (annotation opt-in). */
export type Scope = 'namespace' | 'annotated';

export interface AdmissionOptions extends Omit<InjectOptions, 'serviceName' | 'nativeSidecar'> {
  /** Tide's namespace: never mutated, whatever the configuration says. */
  systemNamespace?: string;
}

/** Either an AdmissionReview to send with 200, or a plain-text 400 for a body that is no AdmissionReview at all. */
export type AdmissionAnswer = { status: 200; body: JsonObject } | { status: 400; message: string };

const NEVER_MUTATED = ['kube-system'];

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Work `admit` does beyond the synchronous answer: a Service lookup, or preparing Services after a Deployment. */
type FollowUp =
  | { kind: 'service'; object: JsonObject; namespace: string }
  | { kind: 'deployment'; namespace: string; name: string; scope: Scope };

interface Decision {
  answer: AdmissionAnswer;
  followUp?: FollowUp;
  /** Builds the answer to the same review with a patch and warnings. */
  respond?: (patch: unknown[] | undefined, warning: string | undefined) => AdmissionAnswer;
}

/**
 * Answers one review without the API: Deployments and Pods as `admit` does, Services admitted unchanged. `raw` is the
 * parsed request body. A body without a usable `request.uid` gets 400 (there is no review to answer); a review whose
 * request is malformed gets `allowed: false` with code 400 and the field named.
 */
export function review(raw: unknown, scope: Scope, opts: AdmissionOptions): AdmissionAnswer {
  return decide(raw, scope, opts).answer;
}

/**
 * Answers one review, with the API behind `services` (when given): a Service in scope is prepared for the one Tide
 * Deployment behind it (services.ts), and after a Deployment in scope (not a dry run) the Services applied before
 * it are prepared in the background. Never rejects: API trouble means an unchanged admission and a warning.
 */
export async function admit(raw: unknown, scope: Scope, opts: AdmissionOptions, services?: ServicePreparer): Promise<AdmissionAnswer> {
  const d = decide(raw, scope, opts);
  if (services === undefined || d.followUp === undefined) return d.answer;
  const f = d.followUp;
  if (f.kind === 'deployment') {
    services.afterDeployment(f.namespace, f.name, f.scope);
    return d.answer;
  }
  const r = await services.admit(f.object, f.namespace);
  return d.respond!(r.patch, r.warning);
}

function decide(raw: unknown, scope: Scope, opts: AdmissionOptions): Decision {
  const plain = (answer: AdmissionAnswer): Decision => ({ answer });
  if (!isObject(raw)) return plain({ status: 400, message: 'expected a JSON AdmissionReview object' });
  if (raw['apiVersion'] !== 'admission.k8s.io/v1' || raw['kind'] !== 'AdmissionReview') {
    return plain({ status: 400, message: `expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got ${JSON.stringify(raw['apiVersion'])} ${JSON.stringify(raw['kind'])}` });
  }
  const request = raw['request'];
  if (!isObject(request)) return plain({ status: 400, message: 'request: expected an object' });
  const uid = request['uid'];
  if (typeof uid !== 'string' || uid === '' || uid.length > 256) return plain({ status: 400, message: 'request.uid: expected a non-empty string' });

  const answer = (response: JsonObject): AdmissionAnswer => ({ status: 200, body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, ...response } } });
  const respond = (patch: unknown[] | undefined, warning: string | undefined): AdmissionAnswer =>
    answer({
      allowed: true,
      ...(patch === undefined || patch.length === 0 ? {} : { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') }),
      ...(warning === undefined ? {} : { warnings: [warning] }),
    });
  const allow = (warning?: string): Decision => plain(respond(undefined, warning));
  const refuse = (message: string): Decision => plain(answer({ allowed: false, status: { code: 400, message } }));

  const kind = request['kind'];
  if (!isObject(kind) || typeof kind['kind'] !== 'string' || typeof kind['version'] !== 'string' || typeof kind['group'] !== 'string') {
    return refuse('request.kind: expected {group, version, kind}');
  }
  const operation = request['operation'];
  if (typeof operation !== 'string') return refuse('request.operation: expected a string');
  if (operation !== 'CREATE' && operation !== 'UPDATE') return allow();
  const object = request['object'];
  if (!isObject(object)) return refuse('request.object: expected an object');
  const namespace = typeof request['namespace'] === 'string' ? request['namespace'] : undefined;
  if (namespace === undefined || namespace === '') return refuse('request.namespace: expected the namespace of a namespaced object');
  if (namespace === (opts.systemNamespace ?? SYSTEM_NAMESPACE) || NEVER_MUTATED.includes(namespace)) return allow();

  const gvk = `${kind['group']}/${kind['version']}/${kind['kind']}`;
  const isDeployment = gvk === 'apps/v1/Deployment';
  const isPod = gvk === '/v1/Pod';
  const isService = gvk === '/v1/Service';
  if (!isDeployment && !isPod && !isService) return allow();
  if (object['kind'] !== kind['kind']) return refuse(`request.object.kind: expected ${String(kind['kind'])}, got ${JSON.stringify(object['kind'])}`);

  const wanted = injectionWanted(object, isDeployment);
  if (wanted === 'invalid') return allow(`tide: not ${isService ? 'prepared' : 'injected'}: annotation ${KEYS.inject} must be "true" or "false"`);
  // Services have the same scope as workloads: this check needs no API call, and every Service write outside labelled
  // namespaces comes through the annotated entry, so only annotated ones there pay for a lookup.
  if (!inScope(wanted, scope)) return allow();
  if (isService) return { answer: respond(undefined, undefined), respond, followUp: { kind: 'service', object, namespace } };
  if (isPod && Array.isArray((object['metadata'] as JsonObject | undefined)?.['ownerReferences']) && ((object['metadata'] as JsonObject)['ownerReferences'] as unknown[]).length > 0) {
    // Pods of a Deployment get the sidecar from the Deployment's template; other controllers' pods are left alone.
    return allow();
  }

  const inject: InjectOptions = { image: opts.image, version: opts.version };
  let outcome: Outcome;
  try {
    outcome = isDeployment ? injectDeployment(object, inject, namespace) : injectPod(object, inject, namespace);
  } catch (err) {
    return allow(`tide: not injected: ${(err as Error).message}`);
  }
  if (outcome.kind === 'error') return allow(`tide: not injected: ${outcome.message}`);
  // A Deployment that is (or already was) injected gets the Services applied before it prepared: not on a dry run,
  // which must have no side effects (the configuration declares sideEffects: NoneOnDryRun).
  const name = nameOf(object);
  const followUp: FollowUp | undefined = isDeployment && request['dryRun'] !== true && name !== '' ? { kind: 'deployment', namespace, name, scope } : undefined;
  const decided = (a: AdmissionAnswer): Decision => (followUp === undefined ? { answer: a } : { answer: a, followUp });
  if (outcome.kind === 'skipped') return decided(respond(undefined, undefined));
  return decided(respond(fastJsonPatch.compare(object, outcome.object), undefined));
}

/**
 * Whether an object is Tide's to change: annotated `tide.dev/inject: "true"`, or unannotated in a labelled namespace
 * (the `namespace` entry). `"false"` and a value that is neither opt out.
 */
export function inScope(wanted: boolean | undefined | 'invalid', scope: Scope): boolean {
  return wanted === true || (wanted === undefined && scope === 'namespace');
}

/** The `tide.dev/inject` annotation (a Deployment's pod template's too): true, false, unset, or a value that is neither. */
export function injectionWanted(object: JsonObject, isDeployment: boolean): boolean | undefined | 'invalid' {
  const metas = [object['metadata']];
  if (isDeployment) metas.push(((object['spec'] as JsonObject | undefined)?.['template'] as JsonObject | undefined)?.['metadata']);
  let result: boolean | undefined;
  for (const meta of metas) {
    const v = isObject(meta) && isObject(meta['annotations']) ? meta['annotations'][KEYS.inject] : undefined;
    if (v === undefined) continue;
    if (v !== 'true' && v !== 'false') return 'invalid';
    result = v === 'true';
  }
  return result;
}
