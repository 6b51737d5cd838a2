// k6 run loadtest/steady.ts  (TARGET=http://127.0.0.1:8080 HOST=hello.localhost by default; see loadtest/README.md)
import { httpIteration, summaryFor } from './common.ts';
import { steady } from './scenarios/steady.ts';
import { k6Options } from './scenarios/types.ts';

export const options = k6Options(steady);

export function run(): void {
  httpIteration(steady);
}

export const handleSummary = summaryFor(steady);
