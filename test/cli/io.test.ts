import { describe, expect, it } from 'vitest';
import { untilStopSignal } from '../../cli/io.js';

describe('untilStopSignal', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('resolves with %s, logs it once and removes both handlers', async (signal) => {
    const lines: { fields: object; message: string }[] = [];
    const before = { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') };
    const stopped = untilStopSignal({ info: (fields, message) => lines.push({ fields, message }) });
    expect(process.listenerCount('SIGTERM')).toBe(before.term + 1);
    expect(process.listenerCount('SIGINT')).toBe(before.int + 1);
    process.emit(signal, signal); // Node passes the signal's name to its listeners
    await expect(stopped).resolves.toBe(signal);
    expect(lines).toEqual([{ fields: { signal }, message: 'shutting down' }]);
    expect(process.listenerCount('SIGTERM')).toBe(before.term);
    expect(process.listenerCount('SIGINT')).toBe(before.int);
  });
});
