/** The lint config names only paths that exist, and lints every TypeScript file outside generated output. */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Generated output and local state: ignored when present, absent in a fresh clone. */
const GENERATED = new Set(['dist', 'test-output', '.cache', '.tide']);
/** Named before their first files land (another branch creates them); listed here so the exception is deliberate. */
const UPCOMING = new Set(['kubernetes']);

/** A plain .js file without types: imported by URL so the type checker does not need a declaration. */
const CONFIG_URL = new URL('../eslint.config.js', import.meta.url).href;

interface ConfigObject {
  files?: (string | string[])[];
  ignores?: string[];
}

/** The literal path before the first glob character: `autoscaler/config/**` → `autoscaler/config`. */
function literalPrefix(pattern: string): string {
  const cut = pattern.search(/[*?[{]/);
  return (cut === -1 ? pattern : pattern.slice(0, cut)).replace(/\/$/, '');
}

describe('eslint.config.js', () => {
  it('every folder or file it names exists (generated output aside)', async () => {
    const config = ((await import(CONFIG_URL)) as { default: ConfigObject[] }).default;
    const named = new Set<string>();
    for (const c of config) for (const p of [...(c.files ?? []).flat(), ...(c.ignores ?? [])]) named.add(literalPrefix(p));
    named.delete('');
    const missing = [...named].filter((p) => !GENERATED.has(p) && !UPCOMING.has(p) && !existsSync(new URL(p, `file://${ROOT}`)));
    expect(missing).toEqual([]);
    // The logic folders it restricts are real, so the rule is not silently a no-op.
    expect(named).toContain('autoscaler/scaling');
    expect(named).toContain('activator/logic');
  });

  it('no source folder is ignored: the only ignores are generated output, the config itself and the bin shim', async () => {
    const config = ((await import(CONFIG_URL)) as { default: ConfigObject[] }).default;
    const ignores = config.flatMap((c) => (c.files === undefined ? (c.ignores ?? []) : [])).map(literalPrefix);
    expect(ignores.filter((p) => !GENERATED.has(p)).sort()).toEqual(['bin', 'eslint.config.js']);
  });

  it('the root tsconfig includes every TypeScript file, so a new folder is type-checked and linted without an entry', () => {
    const tsconfig = JSON.parse(readFileSync(new URL('tsconfig.json', `file://${ROOT}`), 'utf8')) as { include: string[] };
    expect(tsconfig.include).toEqual(['**/*.ts']);
  });
});
