#!/usr/bin/env node
// The tide executable. Sources are TypeScript; `npm ci` (prepare) or `npm run build` compiles them into dist/.
import { existsSync } from 'node:fs';
const entry = new URL('../dist/cli/entry.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('tide: dist/ is missing; run `npm run build` (npm ci runs it for you)\n');
  process.exit(2);
}
await import(entry.href);
