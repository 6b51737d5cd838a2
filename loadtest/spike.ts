// k6 run loadtest/spike.ts  (TARGET=http://127.0.0.1:8080 HOST=hello.localhost by default; see loadtest/README.md)
import { httpIteration, summaryFor } from './common.ts';
import { spike } from './scenarios/spike.ts';
import { k6Options } from './scenarios/types.ts';

export const options = k6Options(spike);

export function run(): void {
  httpIteration(spike);
}

export const handleSummary = summaryFor(spike);
