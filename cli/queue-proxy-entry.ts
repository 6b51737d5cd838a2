/**
 * Process entry of the bundled queue-proxy: `tide queue-proxy` alone, as one file plus the chunks it loads later
 * (dist/queue-proxy/, built by cli/bundle.ts in `npm run build`). bin/tide.js runs it for `tide queue-proxy`; the same
 * code runs unbundled through cli/entry.ts.
 */
import { startTrace } from '../common/start-trace.js';
import { runCommand } from './run-command.js';

startTrace.mark('entry');

const code = await runCommand('queue-proxy', () => import('./queue-proxy.js'), process.argv.slice(3), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
