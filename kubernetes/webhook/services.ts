/**
 * The webhook's half of preparing Services (kubernetes/inject/workload.ts `prepareService`, the same transform as
 * `tide inject`), so that `kubectl apply` of unchanged YAML in an injected namespace gets Tide's traffic switch too:
 *
 * - A Service admitted after its Deployment: the managed Deployments in its namespace are listed (under a deadline well
 *   inside the webhook's 5 s timeoutSeconds) and, when exactly one is behind the Service (`fronts`, the rule `tide
 *   inject` uses), the answer carries the JSON Patch of `prepareService`.
 * - A Service applied before its Deployment: once the webhook has admitted the Deployment (not on dry runs), it waits
 *   until the Deployment is stored, then patches each unprepared Service in front of it through the API. That write
 *   comes back as a Service UPDATE, which is then a no-op.
 *
 * Nothing here ever blocks an admission: an API error or a timeout admits the Service unchanged with a warning.
 */
import fastJsonPatch from 'fast-json-patch';
import type { Cancel, Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { KubeApiError, paths, type KubeApi } from '../client.js';
import { KEYS } from '../inject/constants.js';
import { inScope, injectionWanted, type Scope } from './admission.js';
import { fronts, isPrepared, nameOf, prepareService, serviceSelector, type JsonObject } from '../inject/workload.js';

/** The calls Service preparation makes (RBAC: Deployments list, Services list and patch). */
export type ServiceApi = Pick<KubeApi, 'list' | 'patch'>;

export interface ServicePreparerOptions {
  api: ServiceApi;
  clock: Clock;
  logger: Logger;
  /** Deadline of the lookup a Service admission waits for (default 2 s; the webhook's timeoutSeconds is 5). */
  lookupTimeoutMs?: number;
  /** Wait before each retry of a Deployment's Services (default 1 s, doubled each time). */
  retryDelayMs?: number;
  /** Attempts per Deployment admission before giving up (default 6: about a minute). */
  maxAttempts?: number;
}

/** What a Service admission answers: a JSON Patch, a warning, or neither (admitted unchanged). */
export interface ServiceDecision {
  patch?: fastJsonPatch.Operation[];
  warning?: string;
}

export const LOOKUP_TIMEOUT_MS = 2_000;
const RETRY_DELAY_MS = 1_000;
const MAX_ATTEMPTS = 6;

/** A copy of `object` whose metadata names `namespace` (admission objects may leave it out). */
function inNamespace(object: JsonObject, namespace: string): JsonObject {
  const meta = typeof object['metadata'] === 'object' && object['metadata'] !== null ? (object['metadata'] as JsonObject) : {};
  return { ...object, metadata: { ...meta, namespace } };
}

const describeError = (err: unknown): string => (err instanceof Error ? err.message : String(err));

class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
}

export class ServicePreparer {
  readonly #o: ServicePreparerOptions;
  readonly #pending = new Set<Promise<void>>();
  readonly #timers = new Set<Cancel>();
  #closed = false;

  constructor(opts: ServicePreparerOptions) {
    this.#o = opts;
  }

  /** `p`, or a DeadlineError once `ms` have passed on the clock. */
  #withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const cancel = this.#o.clock.setTimeout(() => reject(new DeadlineError(`${what}: no answer within ${ms} ms`)), ms);
      p.then(
        (v) => {
          cancel();
          resolve(v);
        },
        (err: unknown) => {
          cancel();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  async #managedDeployments(namespace: string): Promise<JsonObject[]> {
    const list = await this.#o.api.list<JsonObject>(paths.deployments(namespace), { labelSelector: `${KEYS.managed}=true` });
    // List items come without apiVersion and kind, and may leave out the namespace.
    return list.items.map((d) => inNamespace(d, namespace));
  }

  /** Decides the admission of a Service in scope (admission.ts checked the namespace and `tide.dev/inject`). */
  async admit(service: JsonObject, namespace: string): Promise<ServiceDecision> {
    // No selector: already prepared, or endpoints the user manages. Either way nothing to do, and no API call.
    if (Object.keys(serviceSelector(service)).length === 0) return {};
    const what = `Service ${namespace}/${nameOf(service) || '(unnamed)'}`;
    let deployments: JsonObject[];
    const timeout = this.#o.lookupTimeoutMs ?? LOOKUP_TIMEOUT_MS;
    try {
      deployments = await this.#withDeadline(this.#managedDeployments(namespace), timeout, `listing Deployments in ${namespace}`);
    } catch (err) {
      this.#o.logger.warn({ service: what, err: describeError(err) }, 'cannot look up the Deployment behind a Service; admitted unchanged');
      return { warning: `tide: ${what} not prepared: cannot list the Deployments in ${namespace} (${describeError(err)}); apply it again once the API server answers` };
    }
    const located = inNamespace(service, namespace);
    const behind = deployments.filter((d) => fronts(located, d));
    if (behind.length === 0) return {};
    if (behind.length > 1) {
      const names = behind.map(nameOf).sort().join(', ');
      return { warning: `tide: ${what} not prepared: its selector matches the pods of several Tide Deployments (${names}); give it a selector matching one` };
    }
    const outcome = prepareService(service, nameOf(behind[0]!));
    if (outcome.kind === 'error') return { warning: `tide: ${what} not prepared: ${outcome.message}` };
    if (outcome.kind === 'skipped') return {};
    return { patch: fastJsonPatch.compare(service, outcome.object) };
  }

  /**
   * After the admission of Deployment `name` in `namespace` through the `scope` entry: prepares, through the API,
   * the Services applied before it that are in the same scope (in a labelled namespace, unless annotated
   * `tide.dev/inject: "false"`; elsewhere, when annotated `tide.dev/inject: "true"`). Runs in the background (see `idle`); failures are logged and retried
   * `maxAttempts` times with a doubling delay, never thrown.
   */
  afterDeployment(namespace: string, name: string, scope: Scope): void {
    if (this.#closed || name === '') return;
    const run = this.#prepareFor(namespace, name, scope).finally(() => this.#pending.delete(run));
    this.#pending.add(run);
  }

  async #prepareFor(namespace: string, name: string, scope: Scope): Promise<void> {
    const log = this.#o.logger;
    const max = this.#o.maxAttempts ?? MAX_ATTEMPTS;
    let delay = this.#o.retryDelayMs ?? RETRY_DELAY_MS;
    for (let attempt = 1; !this.#closed; attempt++) {
      let why: string;
      try {
        why = await this.#prepareOnce(namespace, name, scope);
        if (why === '') return;
      } catch (err) {
        why = describeError(err);
      }
      if (attempt >= max) {
        log.warn({ deployment: `${namespace}/${name}`, attempts: attempt, err: why }, 'gave up preparing the Services in front of a Deployment; apply them again to retry');
        return;
      }
      log.debug({ deployment: `${namespace}/${name}`, attempt, err: why }, `preparing its Services again in ${delay} ms`);
      await this.#sleep(delay);
      delay *= 2;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const cancel = this.#o.clock.setTimeout(() => {
        this.#timers.delete(stop);
        resolve();
      }, ms);
      const stop = (): void => {
        cancel();
        resolve();
      };
      this.#timers.add(stop);
    });
  }

  /** One pass; '' when done, else why to try again. Throws on API errors (retried by the caller). */
  async #prepareOnce(namespace: string, name: string, scope: Scope): Promise<string> {
    const deployments = await this.#managedDeployments(namespace);
    // The admission may still be ahead of the write (or another webhook or the API server may refuse the object):
    // only a Deployment that is stored and managed gets its Services switched.
    const deployment = deployments.find((d) => nameOf(d) === name);
    if (deployment === undefined) return `Deployment ${namespace}/${name} is not stored (or not managed) yet`;
    const services = await this.#o.api.list<JsonObject>(paths.services(namespace));
    let retry = '';
    for (const raw of services.items) {
      const service = inNamespace(raw, namespace);
      if (isPrepared(service) || !fronts(service, deployment)) continue;
      const what = `Service ${namespace}/${nameOf(service)}`;
      const wanted = injectionWanted(service, false);
      if (!inScope(wanted, scope)) {
        if (scope === 'annotated' && wanted === undefined) {
          this.#o.logger.info({ service: what, deployment: name }, `not prepared: outside labelled namespaces a Service needs the annotation ${KEYS.inject}: "true" too`);
        }
        continue;
      }
      const behind = deployments.filter((d) => fronts(service, d));
      if (behind.length > 1) {
        this.#o.logger.warn({ service: what, deployments: behind.map(nameOf).sort() }, 'not prepared: its selector matches the pods of several Tide Deployments');
        continue;
      }
      const outcome = prepareService(service, name);
      if (outcome.kind !== 'changed') {
        if (outcome.kind === 'error') this.#o.logger.warn({ service: what, err: outcome.message }, 'not prepared');
        continue;
      }
      const resourceVersion = (service['metadata'] as JsonObject)['resourceVersion'];
      // Guarded by the resourceVersion read: a Service changed meanwhile is read again on the next attempt.
      const patch = [{ op: 'test', path: '/metadata/resourceVersion', value: resourceVersion ?? '' }, ...fastJsonPatch.compare(service, outcome.object)];
      try {
        await this.#o.api.patch(paths.service(namespace, nameOf(service)), patch, 'json');
        this.#o.logger.info({ service: what, deployment: name }, 'prepared a Service applied before its Deployment');
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 404) continue; // deleted meanwhile
        retry = `${what}: ${describeError(err)}`;
      }
    }
    return retry;
  }

  /** Resolves when no Deployment's Services are being prepared (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Stops retrying; resolves once the work under way has ended. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const stop of [...this.#timers]) stop();
    this.#timers.clear();
    await this.idle();
  }
}
