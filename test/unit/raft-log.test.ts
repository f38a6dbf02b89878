/**
 * The core's log view: stable storage overlaid with the unstable tail (machines/raft/log.ts),
 * including a pending truncation (a tail that starts inside storage) and stableTo after a race.
 */
import { describe, expect, it } from 'vitest';
import { LogView, appendUnstable, stableTo } from '../../machines/raft/log.js';
import { MemoryLogStorage, type Entry } from '../../src/raft/index.js';

const enc = new TextEncoder();
const e = (term: number, index: number, data = 'x'): Entry => ({ term, index, data: enc.encode(data) });
const terms = (v: LogView) => Array.from({ length: v.lastIndex() }, (_, i) => v.term(i + 1));

describe('LogView', () => {
  const storage = new MemoryLogStorage([e(1, 1), e(1, 2), e(2, 3), e(2, 4)]);

  it('reads storage when the tail is empty', () => {
    const v = new LogView(storage, { offset: 5, entries: [] });
    expect(v.lastIndex()).toBe(4);
    expect(terms(v)).toEqual([1, 1, 2, 2]);
    expect(v.term(9)).toBe(0);
    expect(v.term(0)).toBe(0);
  });

  it('a tail starting inside storage hides the storage entries it replaces', () => {
    const v = new LogView(storage, { offset: 3, entries: [e(3, 3)] });
    expect(v.lastIndex()).toBe(3);
    expect(terms(v)).toEqual([1, 1, 3]);
    expect(v.slice(1, 10, Infinity).map((x) => `${x.term}/${x.index}`)).toEqual(['1/1', '1/2', '3/3']);
  });

  it('slice stops at maxBytes across storage and tail, but returns at least one entry', () => {
    const v = new LogView(storage, { offset: 5, entries: [e(3, 5, 'yyyy'), e(3, 6, 'zz')] });
    expect(v.slice(3, 7, 2).map((x) => x.index)).toEqual([3, 4]);
    expect(v.slice(4, 7, 3).map((x) => x.index)).toEqual([4]);
    expect(v.slice(5, 7, 1).map((x) => x.index)).toEqual([5]);
    expect(v.slice(4, 7, 100).map((x) => x.index)).toEqual([4, 5, 6]);
  });

  it('findConflictByTerm returns the last index at or below a term', () => {
    const v = new LogView(storage, { offset: 5, entries: [e(5, 5), e(5, 6)] });
    expect(v.findConflictByTerm(6, 4)).toEqual([4, 2]);
    expect(v.findConflictByTerm(6, 5)).toEqual([6, 5]);
    expect(v.findConflictByTerm(3, 0)).toEqual([0, 0]);
  });

  it('isUpToDate compares last term, then last index (Raft §5.4.1)', () => {
    const v = new LogView(storage, { offset: 5, entries: [] });
    expect(v.isUpToDate(4, 2)).toBe(true);
    expect(v.isUpToDate(3, 2)).toBe(false);
    expect(v.isUpToDate(1, 3)).toBe(true);
    expect(v.isUpToDate(9, 1)).toBe(false);
  });
});

describe('unstable tail', () => {
  it('appends, replaces a suffix, or restarts below its offset', () => {
    const u = { offset: 5, entries: [e(1, 5), e(1, 6)] };
    expect(appendUnstable(u, [e(1, 7)]).entries.map((x) => x.index)).toEqual([5, 6, 7]);
    expect(appendUnstable(u, [e(2, 6)]).entries.map((x) => `${x.term}/${x.index}`)).toEqual(['1/5', '2/6']);
    expect(appendUnstable(u, [e(2, 3)])).toEqual({ offset: 3, entries: [e(2, 3)] });
    expect(() => appendUnstable(u, [e(1, 9)])).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
  });

  it('stableTo drops what became durable, unless the tail was replaced meanwhile', () => {
    const u = { offset: 5, entries: [e(1, 5), e(1, 6), e(1, 7)] };
    expect(stableTo(u, 6, 1)).toEqual({ offset: 7, entries: [e(1, 7)] });
    const replaced = appendUnstable(u, [e(2, 6)]);
    expect(stableTo(replaced, 6, 1)).toBe(replaced);
  });
});

describe('MemoryLogStorage', () => {
  it('writes are readable at once and durable only after sync', () => {
    const s = new MemoryLogStorage([e(1, 1)], { term: 1, vote: 0, commit: 1 });
    s.append([e(2, 2), e(2, 3)]);
    s.setHardState({ term: 2, vote: 1, commit: 1 });
    expect(s.lastIndex()).toBe(3);
    expect(s.durableCopy().lastIndex()).toBe(1);
    expect(s.durableCopy().hardState().term).toBe(1);
    s.sync();
    s.append([e(3, 2)]);
    const crashed = s.durableCopy();
    expect(crashed.all().map((x) => x.term)).toEqual([1, 2, 2]);
    expect(crashed.hardState()).toEqual({ term: 2, vote: 1, commit: 1 });
    expect(s.all().map((x) => x.term)).toEqual([1, 3]);
  });
});
