/**
 * The queue-proxy's Node flags (proxy/node-flags.ts) reach every launcher: `tide up`, the container image and the
 * bench all start it through queueProxyCommand or, for the Dockerfile, with the same flags spelled out.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromRoot } from '../../common/paths.js';
import { QUEUE_PROXY_NODE_FLAGS, queueProxyCommand } from '../../proxy/node-flags.js';

describe('queue-proxy node flags', () => {
  it('queueProxyCommand runs this Node with the flags, then bin/tide.js queue-proxy', () => {
    expect(queueProxyCommand('/x/bin/tide.js')).toEqual([process.execPath, ...QUEUE_PROXY_NODE_FLAGS, '/x/bin/tide.js', 'queue-proxy']);
  });

  it("the Dockerfile's ENTRYPOINT passes exactly these flags before bin/tide.js", () => {
    const docker = readFileSync(fromRoot('Dockerfile'), 'utf8');
    const m = /^ENTRYPOINT (\[.*\])$/m.exec(docker);
    expect(m).not.toBeNull();
    const argv = JSON.parse(m![1]!) as string[];
    expect(argv).toEqual(['node', ...QUEUE_PROXY_NODE_FLAGS, '/app/bin/tide.js']);
  });

  it('`tide queue-proxy` sets no V8 flag in-process: undici\'s WebAssembly parser may tier up to optimised code', () => {
    expect(readFileSync(fromRoot('cli', 'queue-proxy.ts'), 'utf8')).not.toMatch(/setFlagsFromString|liftoff/);
  });

  it('cli/up.ts and the proxy bench launch the queue-proxy through queueProxyCommand', () => {
    for (const file of [fromRoot('cli', 'up.ts'), fromRoot('bench', 'proxy.bench.ts')]) {
      expect(readFileSync(file, 'utf8'), file).toMatch(/queueProxyCommand\(/);
    }
  });

  it('this Node accepts every flag (a misspelt or removed V8 flag would stop the sidecar from starting)', () => {
    for (const flag of QUEUE_PROXY_NODE_FLAGS) {
      const r = spawnSync(process.execPath, [flag, '-e', '0'], { encoding: 'utf8', timeout: 10_000 });
      expect({ flag, status: r.status, stderr: r.stderr }).toEqual({ flag, status: 0, stderr: '' });
    }
  });
});
