/**
 * A disk that refuses writes, through an injectable file layer (test/helpers/walFaultyFs.ts) over
 * real files: failed appends reject with typed errors, nothing half-acknowledged is ever visible,
 * and the WAL appends again once the disk writes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { Wal } from '../../src/wal/index.js';
import { cleanupWalDirs, makeEntries, walTempDir } from '../helpers/walFixtures.js';
import { FaultyWalFs } from '../helpers/walFaultyFs.js';

afterEach(cleanupWalDirs);

const indexes = (es: { index: number }[]) => es.map((e) => e.index);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

async function reopen(dir: string): Promise<{ index: number; term: number }[]> {
  const { wal, recovered } = await Wal.open(dir);
  await wal.close();
  return recovered.entries.map((e) => ({ index: e.index, term: e.term }));
}

describe('Wal on a disk that refuses writes', () => {
  it('ENOSPC after a short write: the batch and everything queued behind it reject DISK_FULL; nothing of it survives; appends work once the disk does', async () => {
    const dir = await walTempDir();
    const fs = new FaultyWalFs();
    const { wal } = await Wal.open(dir, { fs });
    await wal.append(makeEntries(1, 10));
    fs.failWith('ENOSPC', { ops: ['write'], partial: true });
    const failed = [wal.append(makeEntries(11, 12)), wal.setHardState({ term: 1, vote: 'x', commit: 5 })];
    const behind = wal.append(makeEntries(13, 13)); // validated against the queued 11–12
    for (const p of [...failed, behind]) await expect(p).rejects.toMatchObject({ code: 'DISK_FULL', retryable: true });
    expect(wal.lastIndex).toBe(10);
    expect(wal.hardState.commit).toBe(0);
    // still refusing: still typed, still consistent
    await expect(wal.append(makeEntries(11, 11))).rejects.toMatchObject({ code: 'DISK_FULL' });
    fs.heal();
    await wal.append(makeEntries(11, 11, 2));
    await wal.setHardState({ term: 2, vote: null, commit: 11 });
    expect(wal.lastIndex).toBe(11);
    await wal.close();
    const { wal: again, recovered } = await Wal.open(dir);
    expect(indexes(recovered.entries)).toEqual(range(1, 11));
    expect(recovered.entries.at(-1)!.term).toBe(2);
    expect(recovered.hardState).toEqual({ term: 2, vote: null, commit: 11 });
    expect(recovered.tornBytes).toBe(0);
    await again.close();
  });

  it('EIO from fdatasync (the frame was written whole): rejects IO_ERROR and the segment is cut back', async () => {
    const dir = await walTempDir();
    const fs = new FaultyWalFs();
    const { wal } = await Wal.open(dir, { fs });
    await wal.append(makeEntries(1, 3));
    fs.failWith('EIO', { ops: ['datasync'] });
    await expect(wal.append(makeEntries(4, 6, 9))).rejects.toMatchObject({ code: 'IO_ERROR' });
    fs.heal();
    // the cut happens before the next write; recovery of a copy taken now would not see 4–6
    await wal.append(makeEntries(4, 4, 2));
    await wal.close();
    expect(await reopen(dir)).toEqual([...range(1, 3).map((index) => ({ index, term: 1 })), { index: 4, term: 2 }]);
  });

  it('when the cut back fails too, every later append fails until it succeeds; then all is consistent', async () => {
    const dir = await walTempDir();
    const fs = new FaultyWalFs();
    const { wal } = await Wal.open(dir, { fs });
    await wal.append(makeEntries(1, 2));
    fs.failWith('EIO', { ops: ['datasync', 'truncate'] });
    await expect(wal.append(makeEntries(3, 5))).rejects.toMatchObject({ code: 'IO_ERROR' });
    fs.failWith('EIO', { ops: ['truncate'] }); // writes would work, but the cut must come first
    await expect(wal.append(makeEntries(3, 3))).rejects.toMatchObject({ code: 'IO_ERROR' });
    expect(wal.lastIndex).toBe(2);
    fs.heal();
    await wal.append(makeEntries(3, 3, 3));
    await wal.close();
    expect(await reopen(dir)).toEqual([{ index: 1, term: 1 }, { index: 2, term: 1 }, { index: 3, term: 3 }]);
  });

  it('a crash before any cut succeeded finds the failed batch whole, never half', async () => {
    const dir = await walTempDir();
    const fs = new FaultyWalFs();
    const { wal } = await Wal.open(dir, { fs });
    await wal.append(makeEntries(1, 2));
    fs.failWith('EIO', { ops: ['datasync', 'truncate'] });
    await expect(wal.append(makeEntries(3, 5))).rejects.toMatchObject({ code: 'IO_ERROR' });
    // "crash": read the directory as it is, without closing (close would try the cut again)
    const seen = indexes(await reopen(dir));
    expect([range(1, 2), range(1, 5)]).toContainEqual(seen);
  });

  it('a refused rotation (segment creation fails) rejects, leaves no temporary file, and rotation succeeds later', async () => {
    const dir = await walTempDir();
    const fs = new FaultyWalFs();
    const { wal } = await Wal.open(dir, { fs, segmentBytes: 1024 });
    await wal.append(makeEntries(1, 1));
    const segments = wal.segmentCount;
    fs.failWith('ENOSPC', { ops: ['create'] });
    // appends succeed until the segment is full and the next one must be created
    let error: unknown = null;
    while (error === null) error = await wal.append(makeEntries(wal.lastIndex + 1, wal.lastIndex + 1)).then(() => null, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'DISK_FULL' });
    expect(wal.segmentCount).toBe(segments);
    const last = wal.lastIndex;
    expect(last).toBeGreaterThan(3);
    fs.failWith('EIO', { ops: ['datasync'] });
    await expect(wal.append(makeEntries(last + 1, last + 1))).rejects.toMatchObject({ code: 'IO_ERROR' });
    fs.heal();
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    await wal.append(makeEntries(last + 1, last + 3));
    expect(wal.segmentCount).toBe(segments + 1);
    await wal.close();
    expect(indexes(await reopen(dir))).toEqual(range(1, last + 3));
  });
});
