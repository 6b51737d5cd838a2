/**
 * One admission.k8s.io/v1 AdmissionReview in, one out (no I/O): checks the review, decides whether the object is
 * injected, and answers with the JSON Patch between the object and its injected copy (kubernetes/inject/workload.ts,
 * the same transform as `tide inject`). The webhook never refuses an object: one it cannot inject is allowed
 * unchanged with a warning that kubectl prints.
 */
import fastJsonPatch from 'fast-json-patch';
import { KEYS, SYSTEM_NAMESPACE } from '../inject/constants.js';
import { injectDeployment, injectPod, type InjectOptions, type JsonObject, type Outcome } from '../inject/workload.js';

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

/**
 * Answers one review. `raw` is the parsed request body. A body without a usable `request.uid` gets 400 (there is no
 * review to answer); a review whose request is malformed gets `allowed: false` with code 400 and the field named.
 */
export function review(raw: unknown, scope: Scope, opts: AdmissionOptions): AdmissionAnswer {
  if (!isObject(raw)) return { status: 400, message: 'expected a JSON AdmissionReview object' };
  if (raw['apiVersion'] !== 'admission.k8s.io/v1' || raw['kind'] !== 'AdmissionReview') {
    return { status: 400, message: `expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got ${JSON.stringify(raw['apiVersion'])} ${JSON.stringify(raw['kind'])}` };
  }
  const request = raw['request'];
  if (!isObject(request)) return { status: 400, message: 'request: expected an object' };
  const uid = request['uid'];
  if (typeof uid !== 'string' || uid === '' || uid.length > 256) return { status: 400, message: 'request.uid: expected a non-empty string' };

  const answer = (response: JsonObject): AdmissionAnswer => ({ status: 200, body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, ...response } } });
  const allow = (warning?: string): AdmissionAnswer => answer({ allowed: true, ...(warning === undefined ? {} : { warnings: [warning] }) });
  const refuse = (message: string): AdmissionAnswer => answer({ allowed: false, status: { code: 400, message } });

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
  if (!isDeployment && !isPod) return allow();
  if (object['kind'] !== kind['kind']) return refuse(`request.object.kind: expected ${String(kind['kind'])}, got ${JSON.stringify(object['kind'])}`);

  const wanted = injectionWanted(object, isDeployment);
  if (wanted === 'invalid') return allow(`tide: not injected: annotation ${KEYS.inject} must be "true" or "false"`);
  if (wanted === false || (scope === 'annotated' && wanted !== true)) return allow();
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
  if (outcome.kind === 'skipped') return allow();
  const patch = fastJsonPatch.compare(object, outcome.object);
  return answer({ allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') });
}

/** The `tide.dev/inject` annotation: true, false, unset, or a value that is neither. */
function injectionWanted(object: JsonObject, isDeployment: boolean): boolean | undefined | 'invalid' {
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
