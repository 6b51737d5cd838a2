import { describe, expect, it } from 'vitest';
import { applyLine } from '../../local/process/reaper-main.js';

describe('reaper protocol', () => {
  it('+PGID adds, -PGID removes, bye ends cleanly, anything else is ignored', () => {
    const g = new Set<number>();
    expect(applyLine(g, '+123')).toBe(false);
    expect(applyLine(g, '+456\r')).toBe(false);
    expect(applyLine(g, '-123')).toBe(false);
    expect(applyLine(g, '+1')).toBe(false); // never init's group
    expect(applyLine(g, '+0')).toBe(false);
    expect(applyLine(g, 'kill everything')).toBe(false);
    expect([...g]).toEqual([456]);
    expect(applyLine(g, 'bye')).toBe(true);
  });
});
