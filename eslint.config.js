// ESLint flat config. Type-checked rules are on because a dropped promise in a proxy is a leaked socket.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Every TypeScript file is linted wherever it lives (a new folder needs no entry here), except generated output and
// local state. Type information comes from the nearest tsconfig.json (the root one includes every folder but loadtest/,
// which has its own for k6). test/eslint-config.test.ts checks that each folder named below exists.
export default tseslint.config(
  { ignores: ['dist/**', 'test-output/**', '.cache/**', '.tide/**', 'eslint.config.js', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A promise nobody awaits can hide a failed write or a leaked socket.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Logic modules must not read the wall clock or randomness directly: they take them as input.
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['@kubernetes/client-node'], message: 'Only the Kubernetes backend (kubernetes/) and tests may import the Kubernetes client.' }],
      }],
    },
  },
  {
    // The Kubernetes backend and tests may import the client.
    files: ['kubernetes/**', 'test/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // Pure logic: no sockets, timers or clients. Adapters live in http/ folders and the backends (local/, kubernetes/).
    files: ['autoscaler/aggregation/**', 'autoscaler/scaling/**', 'autoscaler/config/**', 'autoscaler/simulate/**', 'autoscaler/runtime/**', 'activator/logic/**', 'kubernetes/logic/**', 'proxy/config.ts', 'proxy/request-stats.ts', 'common/request-stats.ts', 'proxy/drainer.ts', 'proxy/probes.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['node:http', 'node:http2', 'node:net', 'undici', 'prom-client', '@kubernetes/client-node', '@grpc/grpc-js'], message: 'Logic modules do no I/O; put this in an http/ adapter or a backend.' }],
      }],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'Take the time as an argument (nowMs).' },
        { object: 'Math', property: 'random', message: 'Take a random source as an argument.' }],
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval'],
    },
  },
  {
    // Plain Node scripts (the example app users copy, test fixture processes): not in a tsconfig, so no type-checked rules.
    files: ['**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', URL: 'readonly' },
    },
  },
  {
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
