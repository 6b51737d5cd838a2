/**
 * Bench child for `npm run bench kube`: the fake API server (test/support/kube) in its own process, so its CPU and
 * memory are not the autoscaler's. Runs from source (bench/children/ts-resolve.ts); it reports `{ kubeconfig }` (and
 * `seeded` counts) over IPC and stops on `stop`. Argv: DIR MODE ARG, with MODE
 * - `cluster`: the cluster simulator turns `/scale` into Pods and EndpointSlices, ARG ms after each Pod's creation;
 * - `scale`: no simulator; ARG managed Deployments are seeded in-process (bench/children/kube-seed.ts).
 */
import { startFakeApiServer } from '../../test/support/kube/fake-apiserver.js';
import { startClusterSimulator, type ClusterSimulator } from '../../test/support/kube/simulator.js';
import type { Seeded } from './kube-scale-names.js';
import { seedManagedDeployments } from './kube-seed.js';

const [dir = '.', mode = 'cluster', arg = '0'] = process.argv.slice(2);
const fake = await startFakeApiServer({ namespaces: ['default', 'tide-system'], historyLimit: 20_000 });
let sim: ClusterSimulator | undefined;
let seeded: Seeded | undefined;
if (mode === 'cluster') sim = startClusterSimulator(fake, { startDelayMs: Number(arg) });
else seeded = seedManagedDeployments(fake, Number(arg));
process.send?.({ kubeconfig: fake.writeKubeconfig(dir), seeded });
process.on('message', (m) => {
  if (m !== 'stop') return;
  void (async () => {
    await sim?.stop();
    await fake.close();
    process.exit(0);
  })();
});
