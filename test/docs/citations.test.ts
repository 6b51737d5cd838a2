/**
 * Every reference in the repository resolves inside it. Scans every text file a clone contains (sources, tests, docs,
 * manifests, vectors; generated output and dependencies aside) and fails on:
 * - a `§` citation of a section docs/knative-parity.md does not have. A citation is `docs/knative-parity.md §a4`,
 *   `knative-parity §a4` or a bare `§a4` (a bare id always means that page); RFC sections (`RFC 9113 §8.7`) are
 *   external standards and are left alone; a `§` after any other file name is refused;
 * - a mention of the design notes the project was bootstrapped from, which are not part of it;
 * - an absolute path of a build machine;
 * - a Markdown file named anywhere that exists nowhere in the repository, and a relative Markdown link (or its
 *   `#anchor`) that does not resolve.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PARITY = 'docs/knative-parity.md';
const SKIP_DIRS = new Set(['node_modules', 'dist', '.git', 'test-output', '.cache', '.tide', 'coverage']);
const TEXT_EXTENSIONS = new Set(['.ts', '.mts', '.js', '.mjs', '.md', '.yaml', '.yml', '.json', '.svg', '.proto']);
const SKIP_FILES = new Set(['package-lock.json']);

// Spelled in pieces so this file does not trip its own checks.
const FORBIDDEN = [['knative', 'reference'].join('-'), ['shared', ''].join('/')];
const MACHINE_PATHS_EVERYWHERE = [['', 'work', ''].join('/')];
const MACHINE_PATHS_IN_DOCS = ['home', 'root', 'tmp'].map((d) => `/${d}/`);

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (!SKIP_DIRS.has(name)) walk(path, out);
    } else if (TEXT_EXTENSIONS.has(extname(name)) && !SKIP_FILES.has(name)) {
      out.push(path);
    }
  }
  return out;
}

/** This file holds examples of bad citations for its own rule test, so it is not scanned. */
const SELF = 'test/docs/citations.test.ts';
const files = walk(ROOT, [])
  .map((abs) => ({ abs, rel: relative(ROOT, abs).split(sep).join('/'), text: readFileSync(abs, 'utf8') }))
  .filter((f) => f.rel !== SELF);
const markdownBasenames = new Set(files.filter((f) => f.rel.endsWith('.md')).map((f) => f.rel.slice(f.rel.lastIndexOf('/') + 1)));

/** The ids of docs/knative-parity.md: its explicit `<a id="…"></a>` anchors. */
function parityIds(): Set<string> {
  const text = readFileSync(join(ROOT, PARITY), 'utf8');
  return new Set([...text.matchAll(/<a id="([a-z0-9-]+)"><\/a>/g)].map((m) => m[1]!));
}

/** GitHub's anchor for a heading: lower case, punctuation other than `-` dropped, spaces to `-`. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every anchor a Markdown file offers: heading slugs (with GitHub's -1, -2 suffixes) and explicit ids. */
function anchorsOf(markdown: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    if (fenced) continue;
    const h = /^#{1,6}\s+(.*)$/.exec(line);
    if (h) {
      const base = slug(h[1]!);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      out.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a id="([^"]+)"><\/a>/g)) out.add(m[1]!);
  }
  return out;
}

interface Finding {
  where: string;
  what: string;
}

/** `§` citations: each id must be a section of the parity page; only RFCs are external. */
function sectionFindings(rel: string, text: string, ids: Set<string>): Finding[] {
  const out: Finding[] = [];
  text.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(/§\s?([A-Za-z0-9]+(?:\.[0-9]+)*)/g)) {
      const before = line.slice(0, m.index);
      if (/RFC\s?\d+\s*$/.test(before)) continue;
      const where = `${rel}:${i + 1}`;
      const file = /([\w./-]+\.md|knative-parity)[`'")\]]*\s*$/.exec(before)?.[1];
      if (file !== undefined && !/(^|\/)knative-parity(\.md)?$/.test(file)) {
        out.push({ where, what: `§${m[1]!} cites ${file}, not ${PARITY}` });
      } else if (!ids.has(m[1]!)) {
        out.push({ where, what: `§${m[1]!} is not a section of ${PARITY}` });
      }
    }
  });
  return out;
}

describe('every reference resolves inside the repository', () => {
  it('scans the whole tree (sources, tests, docs), including the parity page', () => {
    const rels = files.map((f) => f.rel);
    expect(rels).toContain(PARITY);
    expect(rels).toContain('autoscaler/scaling/decider.ts');
    expect(rels).toContain('test/conformance/README.md');
    expect(rels.some((r) => r.startsWith('node_modules/') || r.startsWith('dist/'))).toBe(false);
  });

  it(`the parity page has every section the code cites by part: §a1–§a9, §b1–§b5, §c1–§c8, §d`, () => {
    const ids = parityIds();
    const want = ['a', 'b', 'c', 'd', 'e', ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => `a${n}`), ...[1, 2, 3, 4, 5].map((n) => `b${n}`), ...[1, 2, 3, 4, 5, 6, 7, 8].map((n) => `c${n}`)];
    expect(want.filter((id) => !ids.has(id))).toEqual([]);
  });

  it('the citation rules: a bare id or the parity page resolves; another file, an unknown id fail; RFCs are external', () => {
    const ids = new Set(['a4', 'c']);
    expect(sectionFindings('x.ts', '// docs/knative-parity.md §a4, knative-parity §a4, (§a4) §c and RFC 9113 §8.7', ids)).toEqual([]);
    expect(sectionFindings('x.ts', "it('§a5 counts', …); // notes.md §2 and §z9", ids).map((f) => f.what)).toEqual([
      '§a5 is not a section of docs/knative-parity.md',
      '§2 cites notes.md, not docs/knative-parity.md',
      '§z9 is not a section of docs/knative-parity.md',
    ]);
  });

  it('every § citation names a section that exists', () => {
    const ids = parityIds();
    const findings = files.flatMap((f) => sectionFindings(f.rel, f.text, ids));
    expect(findings.map((f) => `${f.where}: ${f.what}`)).toEqual([]);
  });

  it('nothing mentions the bootstrap design notes or an absolute path of a build machine', () => {
    const findings: string[] = [];
    for (const f of files) {
      const needles = [...FORBIDDEN, ...MACHINE_PATHS_EVERYWHERE, ...(f.rel.endsWith('.md') ? MACHINE_PATHS_IN_DOCS : [])];
      f.text.split('\n').forEach((line, i) => {
        for (const n of needles) if (line.includes(n)) findings.push(`${f.rel}:${i + 1}: ${n}`);
      });
    }
    expect(findings).toEqual([]);
  });

  it('every Markdown file named anywhere exists in the repository', () => {
    const findings: string[] = [];
    for (const f of files) {
      f.text.split('\n').forEach((line, i) => {
        // A file of another project, named by its URL, is not a reference into this repository.
        for (const m of line.replace(/https?:\/\/\S+/g, '').matchAll(/(?<![\w.-])([\w-]+\.md)(?!\.\w)\b/g)) if (!markdownBasenames.has(m[1]!)) findings.push(`${f.rel}:${i + 1}: ${m[1]!}`);
      });
    }
    expect(findings).toEqual([]);
  });

  it('every relative Markdown link resolves to a file in the repository, and its #anchor to a heading or id there', () => {
    const findings: string[] = [];
    for (const f of files.filter((x) => x.rel.endsWith('.md'))) {
      f.text.split('\n').forEach((line, i) => {
        for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) {
          const target = m[1]!;
          if (/^[a-z]+:/i.test(target)) continue;
          const [path, anchor] = target.split('#') as [string, string | undefined];
          const abs = path === '' ? f.abs : resolve(dirname(f.abs), path);
          const where = `${f.rel}:${i + 1}: ${target}`;
          if (!abs.startsWith(ROOT) || !existsSync(abs)) findings.push(`${where} (no such file in the repository)`);
          else if (anchor !== undefined && abs.endsWith('.md') && !anchorsOf(readFileSync(abs, 'utf8')).has(anchor)) findings.push(`${where} (no such anchor)`);
        }
      });
    }
    expect(findings).toEqual([]);
  });
});
