/** `tide replay`: not built yet (placeholder, replaced by the issue that delivers it). */
import { UsageError, type CliIo } from './io.js';

export function run(_argv: string[], _io: CliIo): Promise<number> {
  return Promise.reject(new UsageError('not implemented yet', 3));
}
