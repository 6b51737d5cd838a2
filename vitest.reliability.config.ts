import { defineConfig } from 'vitest/config';

/** `npm run test:reliability`: the fault-under-load cases (test/reliability/), each bounded in time and count. */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 30_000,
    // Cases measure latency and loss under load on two cores: one file at a time.
    maxWorkers: 1,
    fileParallelism: false,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-output/vitest-reliability.json' },
  },
});
