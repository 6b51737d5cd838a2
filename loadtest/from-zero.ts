// k6 run loadtest/from-zero.ts  (TARGET=http://127.0.0.1:8080 HOST=hello.localhost by default; see loadtest/README.md)
import { httpIteration, summaryFor } from './common.ts';
import { fromZero } from './scenarios/from-zero.ts';
import { k6Options } from './scenarios/types.ts';

export const options = k6Options(fromZero);

export function run(): void {
  httpIteration(fromZero);
}

export const handleSummary = summaryFor(fromZero);
