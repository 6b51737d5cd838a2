/**
 * The patch types the fake API server accepts, applied to plain JSON documents:
 * - merge (RFC 7386), also used for strategic-merge patches (no patch directives: lists are replaced);
 * - JSON patch (RFC 6902), through fast-json-patch;
 * - server-side apply, simplified: the applied configuration is merged into the live object, lists of objects
 *   that all carry `name` (containers, ports, env...) are merged by name, other lists are replaced. Field ownership
 *   (managedFields, conflicts between managers, removal of fields a manager stopped applying) is not modelled.
 */
import jsonPatch, { type Operation } from 'fast-json-patch';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

export class PatchError extends Error {}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export function applyJsonPatch(target: Json, ops: unknown): Json {
  if (!Array.isArray(ops)) throw new PatchError('a JSON patch must be an array of operations');
  try {
    return jsonPatch.applyPatch(structuredClone(target), ops as Operation[], true, false).newDocument;
  } catch (err) {
    const e = err as { name?: string; message?: string; index?: number };
    const where = e.index === undefined ? '' : ` (operation ${e.index})`;
    throw new PatchError(`${(e.message ?? String(err)).split('\n')[0]}${where}`);
  }
}

function byName(list: Json[]): boolean {
  return list.length > 0 && list.every((e) => isObject(e) && typeof e['name'] === 'string');
}

export function applyConfiguration(live: Json | undefined, applied: Json): Json {
  if (Array.isArray(applied) && Array.isArray(live) && byName(applied) && byName(live)) {
    const out = live.map((e) => structuredClone(e));
    for (const a of applied as JsonObject[]) {
      const i = out.findIndex((e) => (e as JsonObject)['name'] === a['name']);
      if (i === -1) out.push(structuredClone(a));
      else out[i] = applyConfiguration(out[i], a);
    }
    return out;
  }
  if (!isObject(applied) || !isObject(live)) return structuredClone(applied);
  const out: JsonObject = { ...live };
  for (const [k, v] of Object.entries(applied)) out[k] = v === null ? null : applyConfiguration(out[k], v);
  return out;
}
