/** Every scenario by name (tide load reads this; each k6 script imports its own module). */
import { fromZero } from './from-zero.ts';
import { grpc } from './grpc.ts';
import { longMix } from './long-mix.ts';
import { ramp } from './ramp.ts';
import { spike } from './spike.ts';
import { steady } from './steady.ts';
import type { ScenarioDef } from './types.ts';
import { websocket } from './websocket.ts';

export const SCENARIOS: Readonly<Record<string, ScenarioDef>> = {
  steady,
  ramp,
  spike,
  'from-zero': fromZero,
  'long-mix': longMix,
  websocket,
  grpc,
};
