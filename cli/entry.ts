/** Process entry for bin/tide.js: wires real stdio and exits with the command's code. */
import { main } from './main.js';

const code = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
// Long-running commands (up, queue-proxy, …) resolve only when they are done serving.
process.exitCode = code;
