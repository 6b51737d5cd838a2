/**
 * An informer (client-go's reflector + store, in small): list, then watch from the list's resourceVersion, resume
 * each dropped watch from the last resourceVersion seen, re-list on 410 Gone, and back off on errors with the injected
 * clock. No polling. Handlers see adds, updates and deletes, including those a re-list finds.
 */
import type { Cancel, Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { KubeApiError, type KubeApi, type WatchEvent } from './client.js';
import { objectKey, type KubeObject } from './objects.js';

export interface InformerHandlers<T> {
  add?(obj: T): void;
  update?(obj: T, old: T): void;
  delete?(obj: T): void;
  /** After each (re-)list has been applied. */
  synced?(): void;
}

/** What `/metrics` and `/healthz` show of an informer. */
export interface InformerHealth {
  readonly name: string;
  /** True once the first list was applied. */
  readonly synced: boolean;
  /** True while a watch is open. */
  readonly watching: boolean;
  readonly objects: number;
  readonly lists: number;
  readonly watchRestarts: number;
  readonly errors: number;
  /** When the last list or watch event arrived (clock ms); 0 = never. */
  readonly lastEventMs: number;
  readonly lastError: string | undefined;
}

export interface InformerOptions {
  readonly name: string;
  readonly api: KubeApi;
  /** Collection path (`paths.deployments(ns)`). */
  readonly path: string;
  /** `labelSelector`, `fieldSelector`. */
  readonly query?: Record<string, string>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** First retry delay after an error; doubles up to `maxBackoffMs`. Default 500 ms. */
  readonly initialBackoffMs?: number;
  /** Default 30 s. */
  readonly maxBackoffMs?: number;
  /**
   * Keeps only the objects this accepts (the rest count as absent), for what a label selector cannot say.
   * Must depend on the object alone.
   */
  readonly filter?: (obj: KubeObject) => boolean;
  /** Server-side watch timeout asked for (Kubernetes closes the stream after it); default 300 s. */
  readonly watchTimeoutSeconds?: number;
}

/** The next backoff delay: doubled, capped. */
export function nextBackoff(currentMs: number, initialMs: number, maxMs: number): number {
  return currentMs <= 0 ? initialMs : Math.min(maxMs, currentMs * 2);
}

function isGone(err: unknown): boolean {
  if (err instanceof KubeApiError) return err.status === 410 || err.reason === 'Expired' || err.reason === 'Gone';
  return (err as { statusCode?: unknown } | null)?.statusCode === 410;
}

export class Informer<T extends KubeObject> {
  readonly #o: InformerOptions;
  readonly #store = new Map<string, T>();
  readonly #handlers: InformerHandlers<T>[] = [];
  #rv = '';
  #running = false;
  #abortWatch: (() => void) | undefined;
  #retry: Cancel | undefined;
  #backoffMs = 0;
  #synced = false;
  #watching = false;
  #lists = 0;
  #watchRestarts = 0;
  #errors = 0;
  #lastEventMs = 0;
  #lastError: string | undefined;
  #syncWaiters: (() => void)[] = [];

  constructor(options: InformerOptions) {
    this.#o = options;
  }

  on(handlers: InformerHandlers<T>): void {
    this.#handlers.push(handlers);
  }

  /** Every object now known. */
  list(): T[] {
    return [...this.#store.values()];
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.#store.get(objectKey(namespace, name));
  }

  get synced(): boolean {
    return this.#synced;
  }

  health(): InformerHealth {
    return {
      name: this.#o.name,
      synced: this.#synced,
      watching: this.#watching,
      objects: this.#store.size,
      lists: this.#lists,
      watchRestarts: this.#watchRestarts,
      errors: this.#errors,
      lastEventMs: this.#lastEventMs,
      lastError: this.#lastError,
    };
  }

  /** Resolves once the first list was applied. */
  whenSynced(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#list();
  }

  stop(): void {
    this.#running = false;
    this.#retry?.();
    this.#retry = undefined;
    this.#abortWatch?.();
    this.#abortWatch = undefined;
    this.#watching = false;
  }

  #emit(fn: (h: InformerHandlers<T>) => void): void {
    for (const h of this.#handlers) {
      try {
        fn(h);
      } catch (err) {
        this.#o.logger.warn({ err, informer: this.#o.name }, 'an informer handler threw; ignored');
      }
    }
  }

  #failed(err: unknown, then: () => void): void {
    if (!this.#running) return;
    this.#errors++;
    this.#lastError = err instanceof Error ? err.message : String(err);
    this.#backoffMs = nextBackoff(this.#backoffMs, this.#o.initialBackoffMs ?? 500, this.#o.maxBackoffMs ?? 30_000);
    this.#o.logger.warn({ informer: this.#o.name, err: this.#lastError, retryInMs: this.#backoffMs }, 'informer error; backing off');
    this.#retry?.();
    this.#retry = this.#o.clock.setTimeout(() => {
      this.#retry = undefined;
      then();
    }, this.#backoffMs);
  }

  async #list(): Promise<void> {
    if (!this.#running) return;
    let result;
    try {
      result = await this.#o.api.list<T>(this.#o.path, { ...this.#o.query });
    } catch (err) {
      this.#failed(err, () => void this.#list());
      return;
    }
    if (!this.#running) return;
    this.#lists++;
    this.#lastEventMs = this.#o.clock.now();
    this.#backoffMs = 0;
    this.#lastError = undefined;
    const seen = new Set<string>();
    for (const obj of result.items) {
      if (this.#o.filter && !this.#o.filter(obj)) continue;
      const key = objectKey(obj.metadata.namespace, obj.metadata.name);
      seen.add(key);
      this.#upsert(key, obj);
    }
    for (const [key, old] of [...this.#store]) {
      if (seen.has(key)) continue;
      this.#store.delete(key);
      this.#emit((h) => h.delete?.(old));
    }
    this.#rv = result.resourceVersion;
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
    this.#emit((h) => h.synced?.());
    void this.#watch();
  }

  #upsert(key: string, obj: T): void {
    const old = this.#store.get(key);
    this.#store.set(key, obj);
    if (!old) this.#emit((h) => h.add?.(obj));
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion || old.metadata.resourceVersion === undefined) this.#emit((h) => h.update?.(obj, old));
  }

  async #watch(): Promise<void> {
    if (!this.#running) return;
    const query: Record<string, string> = {
      ...this.#o.query,
      resourceVersion: this.#rv,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(this.#o.watchTimeoutSeconds ?? 300),
    };
    let ended = false;
    const onDone = (err: unknown): void => {
      if (ended) return;
      ended = true;
      this.#watching = false;
      this.#abortWatch = undefined;
      if (!this.#running) return;
      this.#watchRestarts++;
      if (isGone(err)) {
        this.#o.logger.info({ informer: this.#o.name }, 'resource version expired; re-listing');
        void this.#list();
      } else if (err) {
        this.#failed(err, () => void this.#watch());
      } else {
        // A normal end (server timeout, dropped stream): resume from the last resourceVersion at once.
        void this.#watch();
      }
    };
    const onEvent = (e: WatchEvent): void => {
      if (ended || !this.#running) return;
      this.#lastEventMs = this.#o.clock.now();
      if (e.type === 'ERROR') {
        const status = e.object as { code?: number; reason?: string; message?: string };
        const err = new KubeApiError(status.code ?? 500, status.reason ?? '', status.message ?? 'watch error');
        stop?.();
        onDone(err);
        return;
      }
      const obj = e.object as unknown as T;
      const rv = obj.metadata?.resourceVersion;
      if (rv) this.#rv = rv;
      if (e.type === 'BOOKMARK') return;
      this.#backoffMs = 0;
      const key = objectKey(obj.metadata.namespace, obj.metadata.name);
      if (e.type === 'DELETED' || (this.#o.filter && !this.#o.filter(obj))) {
        const old = this.#store.get(key);
        this.#store.delete(key);
        if (old) this.#emit((h) => h.delete?.(obj));
      } else {
        this.#upsert(key, obj);
      }
    };
    let stop: (() => void) | undefined;
    this.#watching = true;
    try {
      stop = await this.#o.api.watch(this.#o.path, query, onEvent, onDone);
    } catch (err) {
      onDone(err ?? new Error('watch failed'));
      return;
    }
    if (ended) return;
    if (!this.#running) {
      stop();
      return;
    }
    this.#abortWatch = () => {
      ended = true;
      stop?.();
    };
  }
}
