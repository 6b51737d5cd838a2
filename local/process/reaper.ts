/**
 * No replica outlives `tide up`: replicas run in their own process groups (so a Ctrl-C reaches only tide up, which
 * stops them in order), so when tide up is SIGKILLed or its terminal closes nothing would stop them. The reaper
 * (reaper-main.ts) holds a pipe from tide up and kills every listed group when the pipe closes uncleanly — what
 * Linux's PR_SET_PDEATHSIG gives a direct child, for whole groups and without native code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** What the backend tells the reaper. */
export interface GroupWatch {
  /** A process group was started (its leader's pid). */
  add(pgid: number): void;
  /** A group's leader is gone and the group was killed. */
  remove(pgid: number): void;
  /** Clean stop: the reaper exits without killing anything. */
  close(): void;
  /** The reaper's pid (tests). */
  readonly pid: number | undefined;
}

/** The reaper script: compiled JavaScript beside this module, or the TypeScript source (Node strips types). */
function reaperScript(): string {
  const js = fileURLToPath(new URL('./reaper-main.js', import.meta.url));
  return existsSync(js) ? js : fileURLToPath(new URL('./reaper-main.ts', import.meta.url));
}

/** Starts the reaper. Its pipe and handle are unref'd: it never keeps tide up alive. */
export function startReaper(): GroupWatch {
  const child: ChildProcess = spawn(process.execPath, [reaperScript()], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  child.unref();
  const stdin = child.stdin!;
  (stdin as unknown as { unref?: () => void }).unref?.();
  stdin.on('error', () => {}); // the reaper gone (killed by hand): nothing to tell it any more
  let closed = false;
  const send = (line: string): void => {
    if (!closed && stdin.writable) stdin.write(`${line}\n`);
  };
  return {
    add: (pgid) => send(`+${pgid}`),
    remove: (pgid) => send(`-${pgid}`),
    close: () => {
      send('bye');
      closed = true;
      stdin.end();
    },
    pid: child.pid,
  };
}
