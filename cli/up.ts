/** `tide up`: the whole data plane on this machine (local backend); with no file it runs the bundled example app. */
import { readFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { parseFlags, portFlag } from './flags.js';
import { UsageError, type CliIo } from './io.js';

const HELP = `usage: tide up [-f FILE] [--port N] [--dashboard-port N] [--host ADDR] [--log-dir DIR] [--log-level LEVEL]

Runs the whole data plane on this machine: the activator as the front door (routing by Host), the KPA autoscaler,
and for each replica of each service the app plus its own tide queue-proxy, as child processes on free loopback
ports. Services start as their annotations say (the bundled example starts at zero). Ctrl-C stops everything;
a second Ctrl-C kills what is left at once.

flags:
  -f, --file FILE         tide.yaml to run (default: the bundled example, examples/tide.yaml; see docs/tide-up.md)
      --port N            front door port (default 8080; 0 = any free port)
      --dashboard-port N  dashboard port (default 8081; 0 = any free port)
      --host ADDR         address to bind (default 127.0.0.1)
      --log-dir DIR       replica logs: DIR/<service>/<replica>.log and <replica>.queue-proxy.log (default .tide/logs)
      --log-level LEVEL   tide's own JSON logs on stderr: silent, error, warn (default), info, debug
  -h, --help              show this help

Bad configuration exits 2 before anything starts, with one line per problem naming the service and key.
`;

const DEFAULT_PORT = 8080;
const DEFAULT_DASHBOARD_PORT = 8081;
const LOG_LEVELS = new Set(['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace']);

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      file: { type: 'string', short: 'f' },
      port: { type: 'string' },
      'dashboard-port': { type: 'string' },
      host: { type: 'string' },
      'log-dir': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    HELP,
  );
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const frontPort = portFlag('port', values.port, DEFAULT_PORT);
  const dashboardPort = portFlag('dashboard-port', values['dashboard-port'], DEFAULT_DASHBOARD_PORT);
  const host = values.host ?? '127.0.0.1';
  const logLevel = values['log-level'] ?? io.env['TIDE_LOG_LEVEL'] ?? 'warn';
  if (!LOG_LEVELS.has(logLevel)) throw new UsageError(`--log-level must be one of ${[...LOG_LEVELS].join(', ')}, got ${JSON.stringify(logLevel)}`);

  const { fromRoot } = await import('../common/paths.js');
  const file = values.file === undefined ? fromRoot('examples', 'tide.yaml') : resolve(io.cwd, values.file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${values.file ?? file}: ${(err as Error).message}`);
  }
  const shownFile = values.file ?? relative(io.cwd, file);

  // Check everything before anything starts (the same checks as `tide validate`).
  const { parseTideFile } = await import('../local/tide-file.js');
  const { resolveTideFile } = await import('../local/resolve.js');
  const parsed = parseTideFile(text, dirname(file));
  const problems = [...parsed.problems];
  const resolved = parsed.file ? resolveTideFile(parsed.file) : undefined;
  if (resolved) problems.push(...resolved.problems);
  if (!resolved || problems.length > 0) {
    io.stderr.write(`tide up: ${shownFile}: ${problems.length} problem${problems.length === 1 ? '' : 's'}, nothing started:\n`);
    for (const p of problems) io.stderr.write(`  ${p.key}: ${p.message}\n`);
    return 2;
  }

  const { createLogger } = await import('../common/logger.js');
  const { startUp } = await import('../local/up.js');
  const { queueProxyCommand } = await import('../proxy/node-flags.js');
  const logger = createLogger('tide-up', logLevel);
  const logDir = resolve(io.cwd, values['log-dir'] ?? '.tide/logs');
  const out = (line: string): void => void io.stdout.write(line + '\n');
  const stamp = (): string => new Date().toISOString().slice(11, 19);

  // Signals are taken over before anything starts, so a Ctrl-C at any moment (even while replicas start) stops cleanly.
  let onInt: () => void = () => {};
  let onTerm: () => void = () => {};
  const signalled = new Promise<NodeJS.Signals>((resolveSignal) => {
    const on = (sig: NodeJS.Signals) => (): void => {
      process.removeListener('SIGINT', onInt);
      process.removeListener('SIGTERM', onTerm);
      resolveSignal(sig);
    };
    onInt = on('SIGINT');
    onTerm = on('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
  const releaseSignals = (): void => {
    process.removeListener('SIGINT', onInt);
    process.removeListener('SIGTERM', onTerm);
  };

  const startedAt = new Map<string, number>();
  const restarting = new Set<string>();
  let running: Awaited<ReturnType<typeof startUp>>;
  try {
    running = await startUp({
      resolved,
      host,
      port: frontPort,
      dashboardPort,
      queueProxy: queueProxyCommand(fromRoot('bin', 'tide.js')),
      logDir,
      baseEnv: io.env,
      drainQuietSeconds: 1,
      logger,
      onScale: (_ns, rev, from, to) => out(`${stamp()}  ${rev}: scaling ${from} -> ${to}`),
      onReplicaChange: (_ns, _rev, r) => {
        // One line per change a person cares about; `starting` also after a crash (new pids).
        if (r.phase === 'starting' && (!startedAt.has(r.name) || restarting.has(r.name))) {
          startedAt.set(r.name, Date.now());
          restarting.delete(r.name);
          out(`${stamp()}  ${r.name}: starting (app pid ${r.pids.app ?? '-'}, queue-proxy pid ${r.pids.sidecar ?? '-'} on ${r.launch.servingAddress}; log ${relative(io.cwd, r.launch.app.logFile)})`);
        } else if (r.phase === 'ready') {
          const t0 = startedAt.get(r.name);
          out(`${stamp()}  ${r.name}: ready${t0 === undefined ? '' : ` ${Date.now() - t0} ms after start`}${r.restarts > 0 ? ` (restarts: ${r.restarts})` : ''}`);
        } else if (r.phase === 'crashed') {
          restarting.add(r.name);
          out(`${stamp()}  ${r.name}: crashed, restarting (see its log)`);
        } else if (r.phase === 'stopping') {
          out(`${stamp()}  ${r.name}: stopping`);
        } else if (r.phase === 'stopped') {
          out(`${stamp()}  ${r.name}: stopped`);
          startedAt.delete(r.name);
        }
      },
    });
  } catch (err) {
    releaseSignals();
    const e = err as NodeJS.ErrnoException & { port?: number };
    if (e.code === 'EADDRINUSE') {
      io.stderr.write(`tide up: ${e.message}: a port is in use; choose others with --port and --dashboard-port (0 = any free port)\n`);
      return 1;
    }
    throw err;
  }

  // A last resort: if this process exits for any reason, no replica outlives it.
  const onExit = (): void => running.killAll();
  process.once('exit', onExit);

  out(`${stamp()}  starting ${resolved.services.map((s) => s.decl.name).join(', ')}: waiting for the autoscaler's first decision and any initial replicas`);
  const early = await Promise.race([running.settled(60_000), signalled]);
  if (early === false) out(`${stamp()}  still not settled after 60 s; serving anyway (see the replica logs)`);
  if (typeof early !== 'string') {
    const base = `http://${host}:${running.frontDoorPort}`;
    out(`tide up: ${resolved.services.length} service${resolved.services.length === 1 ? '' : 's'} from ${shownFile}`);
    out(`front door: ${base}`);
    for (const s of resolved.services) {
      const min = s.spec.scaler.minScale;
      out(`  ${s.decl.name}: ${[s.decl.command, ...s.decl.args].join(' ')} (min ${min}, max ${s.spec.scaler.maxScale === 0 ? 'unlimited' : s.spec.scaler.maxScale}, target ${s.spec.decider.targetValue} ${s.spec.decider.metric})`);
      out(`    curl -H 'Host: ${s.decl.name}.localhost' ${base}/`);
      out(`    curl http://${s.decl.name}.localhost:${running.frontDoorPort}/`);
    }
    out(`dashboard: http://${host}:${running.dashboardPort}/`);
    out(`replica logs: ${relative(io.cwd, logDir) || '.'}/<service>/<replica>.log (tide logs <service> -f)`);
    out('Ctrl-C stops everything.');
  }

  const signal = await signalled;
  out(`${stamp()}  ${signal}: stopping (Ctrl-C again to kill at once)`);
  let force: () => void = () => {};
  const forced = new Promise<'forced'>((r) => {
    force = (): void => {
      running.killAll();
      r('forced');
    };
    process.once('SIGINT', force);
    process.once('SIGTERM', force);
  });
  const how = await Promise.race([running.stop().then(() => 'clean' as const), forced]);
  process.removeListener('SIGINT', force);
  process.removeListener('SIGTERM', force);
  process.removeListener('exit', onExit);
  running.killAll();
  out(`${stamp()}  stopped${how === 'forced' ? ' (forced)' : ''}`);
  const code = how === 'forced' ? 130 : 0;
  if (io.stdout === process.stdout) {
    // Run as the real CLI: everything is closed, but a library handle (a gRPC channel's timer, say) must not keep
    // the process alive. Unref'd, so this fires only if something else still holds the event loop.
    setTimeout(() => process.exit(code), 2000).unref();
  }
  return code;
}
