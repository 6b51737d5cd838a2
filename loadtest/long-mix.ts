// k6 run loadtest/long-mix.ts  (TARGET=http://127.0.0.1:8080 HOST=hello.localhost by default; see loadtest/README.md)
import { httpIteration, summaryFor } from './common.ts';
import { longMix } from './scenarios/long-mix.ts';
import { k6Options } from './scenarios/types.ts';

export const options = k6Options(longMix);

export function run(): void {
  httpIteration(longMix);
}

export const handleSummary = summaryFor(longMix);
