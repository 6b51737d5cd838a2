/**
 * One local replica ("pod"): the app process plus its queue-proxy process, each in its own process group, with output
 * appended to a log file per process. Readiness comes from the queue-proxy probe; a crash of either process kills the
 * other and restarts both after a backoff; stop is graceful (queue-proxy drains first, then the app, SIGKILL at the
 * end of the grace period), as Kubernetes does with Knative's preStop hook (docs/knative-parity.md §a7).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Cancel, Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { restartBackoffMs } from '../backoff.js';
import type { GroupWatch } from './reaper.js';

/** A process to start. `env` is the complete environment. */
export interface ProcessSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Its stdout and stderr are appended here. */
  readonly logFile: string;
}

/** What a replica runs, and where its queue-proxy answers. */
export interface ReplicaLaunch {
  readonly app: ProcessSpec;
  readonly sidecar: ProcessSpec;
  /** `host:port` of the queue-proxy serving port. */
  readonly servingAddress: string;
  /** `host:port` of the queue-proxy stats (gRPC) port. */
  readonly statsAddress: string;
}

export type ReplicaPhase =
  /** Processes started, probe not passed yet (or failing again). */
  | 'starting'
  | 'ready'
  /** A process exited on its own; both are down, a restart is scheduled. */
  | 'crashed'
  /** stop() was called: draining, then killed. */
  | 'stopping'
  /** Both processes are gone for good. */
  | 'stopped';

/** Answers whether the queue-proxy at `servingAddress` reports the app ready (`K-Network-Probe: queue` → 200 `queue`). */
export type ReadinessProbe = (servingAddress: string, timeoutMs: number) => Promise<boolean>;

export interface ReplicaOptions {
  readonly name: string;
  readonly launch: ReplicaLaunch;
  readonly probe: ReadinessProbe;
  readonly clock: Clock;
  readonly logger: Logger;
  /** SIGTERM → SIGKILL (Knative: terminationGracePeriodSeconds = the revision's timeoutSeconds). */
  readonly gracePeriodMs: number;
  /** Probe period while not ready (Knative's aggressive probing: 50 ms, §a6). */
  readonly startingProbeMs?: number;
  /** Probe period once ready. */
  readonly readyProbeMs?: number;
  /** Consecutive failed probes that turn a ready replica not-ready (Kubernetes failureThreshold 3). */
  readonly failureThreshold?: number;
  /** Called after every phase change (and restart count change). */
  readonly onChange: (replica: Replica) => void;
  /** Told of every process group started and gone, so none outlives tide up (reaper.ts). */
  readonly groups?: GroupWatch;
}

interface Running {
  readonly child: ChildProcess;
  exited: boolean;
  readonly exit: Promise<void>;
}

/** A stable-enough label for a process in logs. */
const label = (spec: ProcessSpec): string => [spec.command, ...spec.args].join(' ');

export class Replica {
  readonly name: string;
  readonly launch: ReplicaLaunch;
  #phase: ReplicaPhase = 'starting';
  #readySinceMs: number | undefined;
  #restarts = 0;
  #app: Running | undefined;
  #sidecar: Running | undefined;
  #cancelProbe: Cancel | undefined;
  #cancelRestart: Cancel | undefined;
  #failures = 0;
  #stopping: Promise<void> | undefined;
  /** Bumped on every (re)start so late events of an earlier generation are ignored. */
  #generation = 0;
  readonly #o: ReplicaOptions;

  constructor(options: ReplicaOptions) {
    this.#o = options;
    this.name = options.name;
    this.launch = options.launch;
  }

  get phase(): ReplicaPhase {
    return this.#phase;
  }
  get ready(): boolean {
    return this.#phase === 'ready';
  }
  /** When the current run became ready (ms since epoch), undefined if not ready. */
  get readySinceMs(): number | undefined {
    return this.#readySinceMs;
  }
  get restarts(): number {
    return this.#restarts;
  }
  /** Process ids of the running app and queue-proxy (for tests and the dashboard). */
  get pids(): { app: number | undefined; sidecar: number | undefined } {
    return { app: this.#app?.exited === false ? this.#app.child.pid : undefined, sidecar: this.#sidecar?.exited === false ? this.#sidecar.child.pid : undefined };
  }

  /** Starts both processes and begins probing. */
  start(): void {
    if (this.#stopping) return;
    const gen = ++this.#generation;
    this.#failures = 0;
    this.#phase = 'starting';
    this.#app = this.#spawn(this.launch.app, gen, 'app');
    this.#sidecar = this.#spawn(this.launch.sidecar, gen, 'queue-proxy');
    // Announced after spawning, so listeners see the pids.
    this.#setPhase('starting');
    if (this.#isCurrent(gen)) this.#scheduleProbe(gen, this.#o.startingProbeMs ?? 50);
  }

  #spawn(spec: ProcessSpec, gen: number, role: string): Running {
    mkdirSync(dirname(spec.logFile), { recursive: true });
    appendFileSync(spec.logFile, `--- ${new Date(this.#o.clock.now()).toISOString()} tide: starting ${role} of ${this.name}: ${label(spec)}\n`);
    const fd = openSync(spec.logFile, 'a');
    let child: ChildProcess;
    try {
      // detached: own process group, so stop/kill reaches the app's own children too, and a Ctrl-C in the terminal
      // reaches only tide up, which then stops replicas in order.
      child = spawn(spec.command, [...spec.args], { cwd: spec.cwd, env: spec.env, stdio: ['ignore', fd, fd], detached: true });
    } finally {
      closeSync(fd);
    }
    if (child.pid !== undefined) this.#o.groups?.add(child.pid);
    let resolveExit!: () => void;
    const running: Running = { child, exited: false, exit: new Promise<void>((r) => (resolveExit = r)) };
    const onGone = (code: number | null, signal: NodeJS.Signals | null, error?: Error): void => {
      if (running.exited) return;
      running.exited = true;
      // The leader is gone; what it left in its group is killed by stop/crash handling, which knows the pid.
      if (child.pid !== undefined) this.#o.groups?.remove(child.pid);
      resolveExit();
      const how = error ? `failed to start: ${error.message}` : signal ? `killed by ${signal}` : `exited with code ${code}`;
      try {
        appendFileSync(spec.logFile, `--- ${new Date(this.#o.clock.now()).toISOString()} tide: ${role} ${how}\n`);
      } catch {
        // The log folder may be gone at shutdown; nothing to do.
      }
      if (gen === this.#generation && !this.#stopping) this.#crashed(`${role} ${how}`);
    };
    child.once('exit', (code, signal) => onGone(code, signal));
    child.once('error', (err) => onGone(null, null, err));
    return running;
  }

  #crashed(reason: string): void {
    if (this.#phase === 'crashed') return;
    this.#o.logger.warn({ replica: this.name, reason, restarts: this.#restarts }, 'replica crashed');
    // A replica that ran ready for a while starts its backoff over (Kubernetes resets after 10 min; we use 10 s).
    if (this.#readySinceMs !== undefined && this.#o.clock.now() - this.#readySinceMs >= 10_000) this.#restarts = 0;
    this.#cancelProbe?.();
    killGroup(this.#app, 'SIGKILL');
    killGroup(this.#sidecar, 'SIGKILL');
    this.#setPhase('crashed');
    const delay = restartBackoffMs(this.#restarts);
    this.#restarts++;
    const gen = this.#generation;
    this.#cancelRestart = this.#o.clock.setTimeout(() => {
      this.#cancelRestart = undefined;
      if (gen !== this.#generation || this.#stopping) return;
      // Wait until the old processes are really gone so their ports are free again.
      void Promise.all([this.#app?.exit, this.#sidecar?.exit]).then(() => {
        if (gen === this.#generation && !this.#stopping) this.start();
      });
    }, delay);
  }

  /** True while run `gen` is the live one: not restarted since, not crashed, not being stopped. */
  #isCurrent(gen: number): boolean {
    return gen === this.#generation && !this.#stopping && this.#phase !== 'crashed';
  }

  #scheduleProbe(gen: number, ms: number): void {
    this.#cancelProbe?.();
    this.#cancelProbe = this.#o.clock.setTimeout(() => void this.#probeOnce(gen), ms);
  }

  async #probeOnce(gen: number): Promise<void> {
    if (!this.#isCurrent(gen)) return;
    let ok: boolean;
    try {
      ok = await this.#o.probe(this.launch.servingAddress, 500);
    } catch {
      ok = false;
    }
    if (!this.#isCurrent(gen)) return;
    if (ok) {
      this.#failures = 0;
      if (this.#phase !== 'ready') {
        this.#readySinceMs = this.#o.clock.now();
        this.#setPhase('ready');
      }
    } else if (this.#phase === 'ready' && ++this.#failures >= (this.#o.failureThreshold ?? 3)) {
      this.#readySinceMs = undefined;
      this.#setPhase('starting');
    }
    this.#scheduleProbe(gen, this.#phase === 'ready' ? (this.#o.readyProbeMs ?? 1000) : (this.#o.startingProbeMs ?? 50));
  }

  /**
   * Graceful stop: SIGTERM the queue-proxy (it drains), then SIGTERM the app once the queue-proxy is gone, and SIGKILL
   * whatever is left when `graceMs` (default: the grace period) has passed. Resolves when both are gone.
   */
  stop(graceMs = this.#o.gracePeriodMs): Promise<void> {
    if (this.#stopping) return this.#stopping;
    this.#cancelProbe?.();
    this.#cancelRestart?.();
    this.#readySinceMs = undefined;
    this.#setPhase('stopping');
    const app = this.#app;
    const sidecar = this.#sidecar;
    this.#stopping = (async () => {
      let killed = false;
      const cancelKill = this.#o.clock.setTimeout(() => {
        killed = true;
        killGroup(sidecar, 'SIGKILL');
        killGroup(app, 'SIGKILL');
      }, graceMs);
      killGroup(sidecar, 'SIGTERM');
      await sidecar?.exit;
      if (!killed) killGroup(app, 'SIGTERM');
      await app?.exit;
      cancelKill();
      // The leaders are gone; anything they left in their groups goes too.
      killGroup(sidecar, 'SIGKILL', true);
      killGroup(app, 'SIGKILL', true);
      this.#setPhase('stopped');
    })();
    return this.#stopping;
  }

  /** Immediate SIGKILL of both process groups (second Ctrl-C, process exit). Synchronous. */
  killNow(): void {
    this.#cancelProbe?.();
    this.#cancelRestart?.();
    const app = this.#app;
    const sidecar = this.#sidecar;
    // Marks the replica as going away first, so the exits below are not taken for a crash (and restarted).
    if (!this.#stopping) {
      this.#readySinceMs = undefined;
      this.#setPhase('stopping');
      this.#stopping = Promise.all([app?.exit, sidecar?.exit]).then(() => this.#setPhase('stopped'));
    }
    killGroup(sidecar, 'SIGKILL', true);
    killGroup(app, 'SIGKILL', true);
  }

  #setPhase(phase: ReplicaPhase): void {
    if (phase === this.#phase && phase !== 'starting') return;
    this.#phase = phase;
    if (phase !== 'ready') this.#readySinceMs = undefined;
    this.#o.onChange(this);
  }
}

/** Signals a process group (negative pid); `evenIfExited` also reaches children left behind by a dead leader. */
function killGroup(run: Running | undefined, signal: NodeJS.Signals, evenIfExited = false): void {
  const pid = run?.child.pid;
  if (pid === undefined || (run?.exited && !evenIfExited)) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}
