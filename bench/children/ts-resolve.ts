/**
 * `--import`ed by the bench children that run from their TypeScript source (`node --experimental-transform-types`):
 * the sources import each other by their built names (`./x.js`), so a `.js` import from a `.ts` file that has no `.js`
 * beside it resolves to the `.ts` file. Used for the children that load the fake API server from test/support, which
 * the build does not compile.
 */
import { existsSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';

registerHooks({
  resolve(specifier, context, next) {
    if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
      const js = new URL(specifier, context.parentURL);
      const ts = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
      if (!existsSync(fileURLToPath(js)) && existsSync(fileURLToPath(ts))) return next(ts.href, context);
    }
    return next(specifier, context);
  },
});
