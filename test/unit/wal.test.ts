/**
 * The WAL on real files with real fsync: round trip, group commit, hard state, rotation, suffix
 * truncation, snapshot markers and compaction, argument checks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_BATCH_BYTES, Wal, nodeWalFs, type WalFs } from '../../src/wal/index.js';
import { isOctopiiError } from '../../src/errors.js';
import { cleanupWalDirs, entryData, makeEntries, rows, segmentFiles, walTempDir } from '../helpers/walFixtures.js';

afterEach(cleanupWalDirs);

/** The real file layer, counting fdatasync calls. */
function countingFs(): WalFs & { syncs: number } {
  const c = {
    ...nodeWalFs,
    syncs: 0,
    async openWrite(path: string) {
      const f = await nodeWalFs.openWrite(path);
      return { ...bind(f), datasync: () => (c.syncs++, f.datasync()) };
    },
    async create(path: string) {
      const f = await nodeWalFs.create(path);
      return { ...bind(f), datasync: () => (c.syncs++, f.datasync()) };
    },
  };
  return c;
}
const bind = <T extends object>(f: T): T => {
  const o: Record<string, unknown> = {};
  for (const k of ['path', 'write', 'read', 'datasync', 'truncate', 'size', 'close']) {
    const v = (f as Record<string, unknown>)[k];
    o[k] = typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(f) : v;
  }
  return o as T;
};

describe('Wal', () => {
  it('round trip: entries, hard state and an empty start', async () => {
    const dir = await walTempDir();
    const first = await Wal.open(dir);
    expect(first.recovered).toEqual({ hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [], tornBytes: 0 });
    const wal = first.wal;
    await wal.append(makeEntries(1, 3, 1));
    await wal.setHardState({ term: 1, vote: 'node-a', commit: 2 });
    await wal.save({ entries: [{ index: 4, term: 2, data: new Uint8Array(0) }], hardState: { term: 2, vote: null, commit: 3 } });
    expect(wal.lastIndex).toBe(4);
    expect(wal.term(4)).toBe(2);
    expect(rows(await wal.entries(2, 5))).toEqual(rows([...makeEntries(2, 3, 1), { index: 4, term: 2, data: new Uint8Array(0) }]));
    await wal.close();

    const { wal: again, recovered } = await Wal.open(dir);
    expect(recovered.hardState).toEqual({ term: 2, vote: null, commit: 3 });
    expect(rows(recovered.entries)).toEqual(rows([...makeEntries(1, 3, 1), { index: 4, term: 2, data: new Uint8Array(0) }]));
    expect(recovered.tornBytes).toBe(0);
    await again.append(makeEntries(5, 5, 2));
    await again.close();
    expect((await Wal.open(dir).then(async (o) => (await o.wal.close(), o.recovered))).entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
  });

  it('group commit: 256 concurrent appends share a few fdatasyncs, each resolves after its sync', async () => {
    const dir = await walTempDir();
    const fs = countingFs();
    const { wal } = await Wal.open(dir, { fs });
    const before = fs.syncs;
    const all = [];
    for (let i = 1; i <= 256; i++) all.push(wal.append(makeEntries(i, i)).then(() => wal.lastIndex));
    const seen = await Promise.all(all);
    // every append saw its own entry acknowledged when it resolved
    seen.forEach((last, k) => expect(last).toBeGreaterThanOrEqual(k + 1));
    expect(fs.syncs - before).toBeLessThanOrEqual(3);
    await wal.close();
    const { wal: w2, recovered } = await Wal.open(dir);
    expect(recovered.entries.map((e) => e.index)).toEqual(Array.from({ length: 256 }, (_, k) => k + 1));
    await w2.close();
  });

  it('a batch holds at most MAX_BATCH_BYTES: two 9 MiB calls take two fdatasyncs', async () => {
    const dir = await walTempDir();
    const fs = countingFs();
    const { wal } = await Wal.open(dir, { fs });
    const before = fs.syncs;
    const big = (i: number) => [{ index: i, term: 1, data: new Uint8Array(9 * 1024 * 1024).fill(i) }];
    await Promise.all([wal.append(big(1)), wal.append(big(2)), wal.append(makeEntries(3, 3))]);
    expect(MAX_BATCH_BYTES).toBe(16 * 1024 * 1024);
    expect(fs.syncs - before).toBe(2);
    expect((await wal.entries(2, 3))[0]!.data.every((b) => b === 2)).toBe(true);
    await wal.close();
  });

  it('a hard state set while entries are appended shares their fdatasync, and lands after them', async () => {
    const dir = await walTempDir();
    const fs = countingFs();
    const { wal } = await Wal.open(dir, { fs });
    await wal.append(makeEntries(1, 1));
    const before = fs.syncs;
    await Promise.all([wal.append(makeEntries(2, 4)), wal.setHardState({ term: 1, vote: 'a', commit: 4 }), wal.append(makeEntries(5, 5))]);
    expect(fs.syncs - before).toBe(1);
    expect(wal.hardState).toEqual({ term: 1, vote: 'a', commit: 4 });
    await wal.close();
    const { wal: w2, recovered } = await Wal.open(dir);
    expect(recovered.hardState).toEqual({ term: 1, vote: 'a', commit: 4 });
    expect(recovered.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
    await w2.close();
  });

  it('rotates segments at the configured size and recovers across them', async () => {
    const dir = await walTempDir();
    const { wal } = await Wal.open(dir, { segmentBytes: 4096 });
    for (let i = 1; i <= 200; i += 10) await wal.append(makeEntries(i, i + 9));
    await wal.setHardState({ term: 1, vote: 'b', commit: 150 });
    expect(wal.segmentCount).toBeGreaterThan(4);
    expect(rows(await wal.entries(35, 175))).toEqual(rows(makeEntries(35, 174)));
    await wal.close();
    const files = await segmentFiles(dir);
    expect(files.length).toBeGreaterThan(4);
    expect(files[0]).toBe('0000000000000000-0000000000000001.wal');
    for (const f of files) expect((await stat(join(dir, f))).size).toBeLessThan(4096 + 2000);

    const { wal: again, recovered } = await Wal.open(dir, { segmentBytes: 4096 });
    expect(rows(recovered.entries)).toEqual(rows(makeEntries(1, 200)));
    expect(recovered.hardState).toEqual({ term: 1, vote: 'b', commit: 150 });
    expect(rows(await again.entries(1, 201))).toEqual(rows(makeEntries(1, 200)));
    await again.close();
  });

  it('truncateFrom removes a suffix durably; reads and recovery never see it', async () => {
    const dir = await walTempDir();
    const { wal } = await Wal.open(dir, { segmentBytes: 2048 });
    for (let i = 1; i <= 40; i += 5) await wal.append(makeEntries(i, i + 4, 1));
    await wal.truncateFrom(12);
    expect(wal.lastIndex).toBe(11);
    await expect(wal.entries(1, 13)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await wal.close();

    const r1 = await Wal.open(dir, { segmentBytes: 2048 });
    expect(r1.recovered.entries.map((e) => e.index)).toEqual(Array.from({ length: 11 }, (_, k) => k + 1));
    await r1.wal.append(makeEntries(12, 14, 2));
    // a conflicting append replaces from its index on (no truncate call needed)
    await r1.wal.append(makeEntries(13, 13, 3));
    expect(r1.wal.lastIndex).toBe(13);
    await r1.wal.close();

    const r2 = await Wal.open(dir, { segmentBytes: 2048 });
    expect(r2.recovered.entries.map((e) => [e.index, e.term])).toEqual([
      ...Array.from({ length: 11 }, (_, k) => [k + 1, 1]),
      [12, 2],
      [13, 3],
    ]);
    expect(rows(await r2.wal.entries(11, 14))).toEqual(rows([...makeEntries(11, 11, 1), ...makeEntries(12, 12, 2), ...makeEntries(13, 13, 3)]));
    await r2.wal.close();
  });

  it('snapshot marker drops covered entries; compact removes whole old segments it covers', async () => {
    const dir = await walTempDir();
    const { wal } = await Wal.open(dir, { segmentBytes: 2048 });
    for (let i = 1; i <= 100; i += 5) await wal.append(makeEntries(i, i + 4));
    await wal.setHardState({ term: 1, vote: 'a', commit: 90 });
    await wal.saveSnapshot({ index: 60, term: 1 });
    expect(wal.firstIndex).toBe(61);
    expect(wal.term(60)).toBe(1);
    await expect(wal.entries(59, 62)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const segmentsBefore = wal.segmentCount;
    // the marker is in force for compaction from the next segment's header on
    for (let i = 101; i <= 130; i += 5) await wal.append(makeEntries(i, i + 4));
    const removed = await wal.compact(60);
    expect(removed).toBeGreaterThan(0);
    expect(wal.segmentCount).toBeLessThan(segmentsBefore + 3);
    expect(rows(await wal.entries(61, 131))).toEqual(rows(makeEntries(61, 130)));
    await wal.close();
    expect((await segmentFiles(dir))[0]).not.toBe('0000000000000000-0000000000000001.wal');

    const { wal: again, recovered } = await Wal.open(dir, { segmentBytes: 2048 });
    expect(recovered.snapshot).toEqual({ index: 60, term: 1 });
    expect(recovered.hardState).toEqual({ term: 1, vote: 'a', commit: 90 });
    expect(rows(recovered.entries)).toEqual(rows(makeEntries(61, 130)));
    // a marker past the last entry empties the log; it continues after the marker
    await again.saveSnapshot({ index: 200, term: 4 });
    expect(again.lastIndex).toBe(200);
    await again.append(makeEntries(201, 201, 4));
    await again.close();
    const last = await Wal.open(dir);
    expect(last.recovered.entries.map((e) => e.index)).toEqual([201]);
    expect(last.recovered.snapshot).toEqual({ index: 200, term: 4 });
    await last.wal.close();
  });

  it('rejects bad arguments with INVALID_ARGUMENT and calls after close with CLOSED', async () => {
    const dir = await walTempDir();
    const { wal } = await Wal.open(dir);
    await wal.append(makeEntries(1, 5));
    await wal.setHardState({ term: 1, vote: null, commit: 3 });
    const bad = [
      wal.append(makeEntries(7, 7)), // gap
      wal.append([{ index: 6, term: 1, data: entryData(6) }, { index: 8, term: 1, data: entryData(8) }]), // not consecutive
      wal.append(makeEntries(3, 3)), // replaces a committed entry
      wal.append([{ index: 6.5, term: 1, data: entryData(6) }]),
      wal.truncateFrom(2), // below commit
      wal.setHardState({ term: 1, vote: null, commit: 2 }), // commit going back
      wal.saveSnapshot({ index: 0, term: 1 }),
    ];
    for (const p of bad) await expect(p).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(Wal.open(dir, { segmentBytes: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(wal.lastIndex).toBe(5);
    await wal.close();
    const err = await wal.append(makeEntries(6, 6)).catch((e: unknown) => e);
    expect(isOctopiiError(err, 'CLOSED')).toBe(true);
  });

  it('an aborted signal rejects the call with ABORTED before it is queued', async () => {
    const dir = await walTempDir();
    const { wal } = await Wal.open(dir);
    await expect(wal.append(makeEntries(1, 1), { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORTED' });
    await wal.append(makeEntries(1, 1));
    await wal.close();
  });
});
