// k6 run loadtest/ramp.ts  (TARGET=http://127.0.0.1:8080 HOST=hello.localhost by default; see loadtest/README.md)
import { httpIteration, summaryFor } from './common.ts';
import { ramp } from './scenarios/ramp.ts';
import { k6Options } from './scenarios/types.ts';

export const options = k6Options(ramp);

export function run(): void {
  httpIteration(ramp);
}

export const handleSummary = summaryFor(ramp);
