/**
 * `tide inject` golden files: test/kube/golden/<case>.in.yaml → <case>.out.yaml (+ the stderr notes in
 * <case>.notes.txt). Regenerate after a deliberate change with `UPDATE_GOLDEN=1 npx vitest run test/kube/inject-golden.test.ts`
 * and read the diff.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { DEFAULT_IMAGE } from '../../kubernetes/inject/constants.js';
import { transformYaml } from '../../kubernetes/inject/yaml-stream.js';

const dir = fileURLToPath(new URL('./golden/', import.meta.url));
const update = process.env['UPDATE_GOLDEN'] === '1';
const opts = { image: DEFAULT_IMAGE, version: 'test-version' };

const CASES: { name: string; input: string; nativeSidecar?: boolean }[] = [
  { name: 'plain-deployment', input: 'plain-deployment' },
  { name: 'multi-container', input: 'multi-container' },
  { name: 'named-ports', input: 'named-ports' },
  { name: 'probes', input: 'probes' },
  { name: 'native-sidecar', input: 'native-sidecar' },
  { name: 'native-sidecar-flag', input: 'plain-deployment', nativeSidecar: true },
  { name: 'list', input: 'list' },
  { name: 'multi-document', input: 'multi-document' },
  { name: 'other-kinds', input: 'other-kinds' },
];

function golden(file: string, actual: string): void {
  const path = dir + file;
  if (update || !existsSync(path)) writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

describe('tide inject golden files', () => {
  it.each(CASES)('$name', ({ name, input, nativeSidecar }) => {
    const text = readFileSync(`${dir}${input}.in.yaml`, 'utf8');
    const r = transformYaml(text, 'inject', { ...opts, nativeSidecar: nativeSidecar === true }, `${input}.in.yaml`);
    expect(r.errors).toEqual([]);
    golden(`${name}.out.yaml`, r.output);
    golden(`${name}.notes.txt`, r.notes.join('\n') + '\n');
    // Whatever was injected still parses as the same number of documents.
    expect(parseAllDocuments(r.output)).toHaveLength((parseAllDocuments(text) as unknown[]).length);
  });

  it.each(CASES)('$name: injecting the output again changes nothing (already injected)', ({ name, nativeSidecar }) => {
    const out = readFileSync(`${dir}${name}.out.yaml`, 'utf8');
    const r = transformYaml(out, 'inject', { ...opts, nativeSidecar: nativeSidecar === true });
    expect(r.errors).toEqual([]);
    expect(r.output).toBe(out);
    expect(r.notes.filter((n) => n.startsWith('injected'))).toEqual([]);
  });

  it.each(CASES)('$name: uninject gives back the input objects', ({ name, input }) => {
    const out = readFileSync(`${dir}${name}.out.yaml`, 'utf8');
    const r = transformYaml(out, 'uninject', opts);
    expect(r.errors).toEqual([]);
    const objects = (text: string): unknown[] => parseAllDocuments(text).map((d) => d.toJS() as unknown);
    expect(objects(r.output)).toEqual(objects(readFileSync(`${dir}${input}.in.yaml`, 'utf8')));
  });

  it('other kinds come out byte for byte, comments and odd spacing included', () => {
    const text = readFileSync(`${dir}other-kinds.in.yaml`, 'utf8');
    expect(transformYaml(text, 'inject', opts).output).toBe(text);
  });

  it('comments and key order of the injected Deployment survive', () => {
    const out = readFileSync(`${dir}plain-deployment.out.yaml`, 'utf8');
    expect(out).toContain('# A plain web app and its Service.');
    expect(out).toContain('replicas: 2 # Tide will own this');
    expect(out).toContain('image: example/hello:1.0 # unchanged');
    const keys = Object.keys(parseAllDocuments(out)[0]!.toJS() as object);
    expect(keys).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
  });
});
