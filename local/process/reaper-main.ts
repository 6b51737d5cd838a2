/**
 * The reaper: a tiny process `tide up` starts in its own session, holding the read end of a pipe. `tide up` writes
 * `+PGID` for every replica process group it starts and `-PGID` when one is gone; `bye` means a clean stop. When the
 * pipe reaches end of file without `bye` (tide up was SIGKILLed, crashed or lost its terminal: the kernel closes its
 * end), every group still listed gets SIGKILL and the reaper exits. Self-contained (node: imports only) so it starts
 * in a few tens of ms and runs from the TypeScript source too.
 */
import { createInterface } from 'node:readline';

/** Applies one protocol line to `groups`; returns true for `bye`. Unknown lines are ignored. */
export function applyLine(groups: Set<number>, line: string): boolean {
  const s = line.trim();
  if (s === 'bye') return true;
  const m = /^([+-])(\d+)$/.exec(s);
  if (m) {
    const pgid = Number(m[2]);
    if (pgid > 1) {
      if (m[1] === '+') groups.add(pgid);
      else groups.delete(pgid);
    }
  }
  return false;
}

function main(): void {
  const groups = new Set<number>();
  let clean = false;
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (applyLine(groups, line)) clean = true;
  });
  lines.on('close', () => {
    if (!clean) {
      for (const pgid of groups) {
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          // ESRCH: that group is already gone.
        }
      }
    }
    process.exit(0);
  });
  // A terminal hang-up or Ctrl-C meant for tide up must not stop the reaper before it has done its job.
  process.on('SIGHUP', () => {});
  process.on('SIGINT', () => {});
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*[\\/]/, ''))) main();
