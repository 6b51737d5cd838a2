import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { AUTOSCALER_CONFIG_KEYS, AUTOSCALER_DEFAULTS, parseAutoscalerConfig } from '../../autoscaler/config/autoscaler-config.js';

// The shipped ConfigMap is documentation users copy; it must say exactly what the code does.
const path = fileURLToPath(new URL('../../manifests/config-autoscaler.yaml', import.meta.url));
const text = readFileSync(path, 'utf8');
const manifest = parseDocument(text).toJS() as { kind: string; metadata: { name: string }; data: Record<string, unknown> };

describe('manifests/config-autoscaler.yaml', () => {
  it('is a ConfigMap named config-autoscaler whose values are all strings', () => {
    expect(manifest.kind).toBe('ConfigMap');
    expect(manifest.metadata.name).toBe('config-autoscaler');
    for (const [key, value] of Object.entries(manifest.data)) expect(typeof value, key).toBe('string');
  });

  it('lists every key the code reads, and no other', () => {
    expect(Object.keys(manifest.data).sort()).toEqual(Object.keys(AUTOSCALER_CONFIG_KEYS).sort());
  });

  it('parses without problems to exactly AUTOSCALER_DEFAULTS', () => {
    const { config, problems } = parseAutoscalerConfig(manifest.data as Record<string, string>);
    expect(problems).toEqual([]);
    expect(config).toEqual(AUTOSCALER_DEFAULTS);
  });

  it('gives each key a one-line comment just above it', () => {
    const lines = text.split('\n');
    for (const key of Object.keys(AUTOSCALER_CONFIG_KEYS)) {
      const at = lines.findIndex((l) => l.startsWith(`  ${key}:`));
      expect(at, key).toBeGreaterThan(0);
      expect(lines[at - 1]!.trim().startsWith('# '), key).toBe(true);
    }
  });
});
